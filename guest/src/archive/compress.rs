//! Whether an entry is deflated or stored, and the streaming raw-DEFLATE encoder.
//!
//! Deflating data that is already compressed (PDF streams, JPEG, ZIP-based Office files)
//! costs time and gains nothing, so the choice looks at the name, the first bytes and a fast
//! trial compression of a sample (docs/secure-documents.md#the-archive). Storing is always correct; deflating is an
//! optimisation, so every uncertain case (including a failing trial) stores. This module
//! must never emit a zlib or gzip wrapper: ZIP method 8 is raw DEFLATE (APPNOTE.TXT 4.4.5,
//! RFC 1951).

use flate2::{Compress, FlushCompress, Status};

use super::Compression;

/// The zlib level used to deflate entries (1 = fastest … 9 = smallest). 6 is zlib's default
/// trade-off; the benchmark may tune it.
pub const DEFLATE_LEVEL: u32 = 6;

/// The level of the trial compression: only the ratio matters, so the fastest level.
pub const TRIAL_LEVEL: u32 = 1;

/// How much of a file is buffered and trial-compressed before the method is chosen.
pub const SAMPLE_LEN: usize = 64 * 1024;

/// A trial must shrink the sample to at most this share (in percent) for the entry to be
/// deflated: saving less than ~5% is not worth the time.
pub const DEFLATE_MAX_PERCENT: usize = 95;

/// Output space added per encoder call; large enough that the encoder rarely stops for room.
const OUTPUT_STEP: usize = 64 * 1024;

/// File extensions (lower case) of formats that are already compressed.
const PRECOMPRESSED_EXTENSIONS: &[&str] = &[
    // Documents: PDF, and Office Open XML / OpenDocument / EPUB, which are ZIP archives.
    "pdf", "docx", "docm", "dotx", "xlsx", "xlsm", "xltx", "pptx", "pptm", "potx", "vsdx", "odt", "ods", "odp", "odg",
    "epub", "pages", "numbers", "key", // Images.
    "jpg", "jpeg", "jfif", "jpe", "png", "gif", "webp", "heic", "heif", "avif", "jxl", "jp2",
    // Archives and packages.
    "zip", "zipx", "jar", "war", "apk", "aab", "ipa", "xpi", "whl", "nupkg", "cbz", "cbr", "gz", "tgz", "bz2", "tbz",
    "tbz2", "xz", "txz", "lz", "lz4", "lzma", "zst", "br", "7z", "rar", "cab", "dmg", // Audio and video.
    "mp3", "mp4", "m4a", "m4v", "aac", "mov", "avi", "mkv", "webm", "ogg", "oga", "ogv", "opus", "flac", "wma", "wmv",
    "3gp",
];

/// Whether `name`'s extension says the content is already compressed.
pub fn is_precompressed_name(name: &str) -> bool {
    match name.rsplit_once('.') {
        Some((stem, extension)) if !stem.is_empty() => {
            PRECOMPRESSED_EXTENSIONS.iter().any(|known| known.eq_ignore_ascii_case(extension))
        }
        _ => false,
    }
}

/// Whether `head` (the first bytes of a file) starts with the signature of a compressed format.
pub fn has_compressed_magic(head: &[u8]) -> bool {
    const PREFIXES: &[&[u8]] = &[
        b"%PDF",                               // PDF (streams are usually Flate-compressed)
        &[0xFF, 0xD8, 0xFF],                   // JPEG
        b"PK\x03\x04",                         // ZIP, and everything built on it (Office, JAR)
        b"\x89PNG",                            // PNG
        b"GIF8",                               // GIF87a / GIF89a
        &[0x1F, 0x8B],                         // gzip
        &[b'7', b'z', 0xBC, 0xAF, 0x27, 0x1C], // 7-Zip
        b"Rar!",                               // RAR
        &[0xFD, b'7', b'z', b'X', b'Z', 0x00], // xz
        &[0x28, 0xB5, 0x2F, 0xFD],             // Zstandard frame
        b"OggS",                               // Ogg
        b"fLaC",                               // FLAC
        &[0x1A, 0x45, 0xDF, 0xA3],             // Matroska / WebM (EBML)
    ];
    if PREFIXES.iter().any(|prefix| head.starts_with(prefix)) {
        return true;
    }
    // bzip2: "BZh" and a block-size digit, so that text starting "BZh" is not caught.
    if let [b'B', b'Z', b'h', b'1'..=b'9', ..] = head {
        return true;
    }
    // ISO base media (MP4, MOV, HEIC, AVIF, 3GP): a box size, then "ftyp".
    if head.get(4..8) == Some(b"ftyp") {
        return true;
    }
    // WebP: a RIFF container of type "WEBP".
    head.starts_with(b"RIFF") && head.get(8..12) == Some(b"WEBP")
}

/// Chooses the method for a file from its first bytes (`sample`: up to [`SAMPLE_LEN`], or the
/// whole file when it is shorter).
///
/// Empty files and files with a known compressed signature are stored; otherwise the sample
/// is deflated at [`TRIAL_LEVEL`] and the file is deflated only when the sample shrank to at
/// most [`DEFLATE_MAX_PERCENT`].
pub fn choose_for_sample(sample: &[u8]) -> Compression {
    let sample = sample.get(..SAMPLE_LEN).unwrap_or(sample);
    if sample.is_empty() || has_compressed_magic(sample) {
        return Compression::Store;
    }
    // The output buffer is exactly the largest acceptable result: if the trial does not
    // finish within it, the data did not shrink enough.
    let limit = sample.len() / 100 * DEFLATE_MAX_PERCENT + sample.len() % 100 * DEFLATE_MAX_PERCENT / 100;
    let mut trial = vec![0u8; limit];
    let mut encoder = Compress::new(flate2::Compression::new(TRIAL_LEVEL), false);
    match encoder.compress(sample, &mut trial, FlushCompress::Finish) {
        Ok(Status::StreamEnd) => Compression::Deflate,
        Ok(Status::Ok | Status::BufError) | Err(_) => Compression::Store,
    }
}

/// The encoder stopped making progress or reported a stream error. zlib-rs reports a stream
/// error only for calls out of sequence (data after the final flush), which
/// [`RawDeflate`]'s ownership rules out, so this means a bug rather than bad input.
#[derive(Debug, thiserror::Error)]
#[error("the DEFLATE encoder failed: {0}")]
pub struct DeflateError(String);

/// A streaming raw-DEFLATE encoder (no zlib header or trailer: APPNOTE.TXT 4.4.5 method 8
/// is bare RFC 1951) that appends its output to a caller's buffer.
pub struct RawDeflate {
    inner: Compress,
}

impl RawDeflate {
    /// An encoder at `level` (0..=9; larger values are treated as 9).
    pub fn new(level: u32) -> RawDeflate {
        let level = flate2::Compression::new(level.min(9));
        RawDeflate { inner: Compress::new(level, false) }
    }

    /// Compresses all of `input`, appending whatever output the encoder emits to `out` (the
    /// encoder keeps up to a window of data back until later calls or [`RawDeflate::finish`]).
    pub fn write(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<(), DeflateError> {
        let mut consumed = 0usize;
        while let Some(rest) = input.get(consumed..).filter(|rest| !rest.is_empty()) {
            let progress = self.step(rest, out, FlushCompress::None)?;
            consumed = consumed.saturating_add(progress.consumed);
            if progress.consumed == 0 && progress.produced == 0 {
                return Err(DeflateError("no progress while compressing".to_owned()));
            }
        }
        Ok(())
    }

    /// Flushes the rest of the stream and its final block into `out`. Consumes the encoder:
    /// a finished DEFLATE stream cannot take more data.
    pub fn finish(mut self, out: &mut Vec<u8>) -> Result<(), DeflateError> {
        loop {
            let before = self.inner.total_out();
            let status = self.step_status(&[], out, FlushCompress::Finish)?;
            if status == Status::StreamEnd {
                return Ok(());
            }
            if self.inner.total_out() == before {
                return Err(DeflateError("no progress while finishing".to_owned()));
            }
        }
    }

    fn step(&mut self, input: &[u8], out: &mut Vec<u8>, flush: FlushCompress) -> Result<Progress, DeflateError> {
        let (in_before, out_before) = (self.inner.total_in(), self.inner.total_out());
        self.step_status(input, out, flush)?;
        let consumed = self.inner.total_in().saturating_sub(in_before);
        let produced = self.inner.total_out().saturating_sub(out_before);
        Ok(Progress {
            // At most `input.len()`, so it fits in usize.
            consumed: usize::try_from(consumed).unwrap_or(usize::MAX),
            produced,
        })
    }

    fn step_status(&mut self, input: &[u8], out: &mut Vec<u8>, flush: FlushCompress) -> Result<Status, DeflateError> {
        // `compress_vec` writes only into spare capacity; without room it makes no progress.
        out.reserve(OUTPUT_STEP);
        self.inner.compress_vec(input, out, flush).map_err(|error| DeflateError(error.to_string()))
    }
}

impl std::fmt::Debug for RawDeflate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawDeflate")
            .field("total_in", &self.inner.total_in())
            .field("total_out", &self.inner.total_out())
            .finish()
    }
}

/// What one encoder call did.
struct Progress {
    consumed: usize,
    produced: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngCore, SeedableRng};
    use std::io::Read;

    fn inflate(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::DeflateDecoder::new(data).read_to_end(&mut out).unwrap();
        out
    }

    fn text(len: usize) -> Vec<u8> {
        b"Sehr geehrte Damen und Herren, anbei die Rechnung. ".iter().copied().cycle().take(len).collect()
    }

    fn random(len: usize) -> Vec<u8> {
        let mut bytes = vec![0u8; len];
        rand_chacha::ChaCha20Rng::seed_from_u64(7).fill_bytes(&mut bytes);
        bytes
    }

    #[test]
    fn names_of_compressed_formats() {
        for name in ["a.pdf", "B.JPG", "x.tar.gz", "deck.pptx", "song.mp3", "c.7z", "d.zst"] {
            assert!(is_precompressed_name(name), "{name}");
        }
        for name in ["a.txt", "b.csv", "c.xml", "pdf", ".pdf", "report.pdf.txt", "x.tar"] {
            assert!(!is_precompressed_name(name), "{name}");
        }
    }

    #[test]
    fn magic_bytes_of_compressed_formats() {
        let samples: &[&[u8]] = &[
            b"%PDF-1.7\n",
            &[0xFF, 0xD8, 0xFF, 0xE0],
            b"PK\x03\x04\x14\x00",
            b"\x89PNG\r\n\x1a\n",
            b"GIF89a",
            &[0x1F, 0x8B, 0x08],
            &[b'7', b'z', 0xBC, 0xAF, 0x27, 0x1C, 0, 4],
            b"Rar!\x1a\x07",
            &[0xFD, b'7', b'z', b'X', b'Z', 0x00, 0x00],
            &[0x28, 0xB5, 0x2F, 0xFD, 0x24],
            b"BZh91AY&SY",
            b"\x00\x00\x00\x20ftypisom",
            b"RIFF\x10\x00\x00\x00WEBPVP8 ",
        ];
        for sample in samples {
            assert!(has_compressed_magic(sample), "{sample:?}");
        }
        for sample in [&b"Hello"[..], b"BZh is not bzip2", b"PK", b"", b"RIFF\0\0\0\0WAVE"] {
            assert!(!has_compressed_magic(sample), "{sample:?}");
        }
    }

    #[test]
    fn chooses_deflate_for_text_and_store_otherwise() {
        assert_eq!(choose_for_sample(&text(SAMPLE_LEN)), Compression::Deflate);
        assert_eq!(choose_for_sample(&text(200)), Compression::Deflate);
        assert_eq!(choose_for_sample(&random(SAMPLE_LEN)), Compression::Store);
        assert_eq!(choose_for_sample(b""), Compression::Store);
        // Too short to gain anything.
        assert_eq!(choose_for_sample(b"hi"), Compression::Store);
        let mut pdf = b"%PDF-1.4\n".to_vec();
        pdf.extend(text(10_000));
        assert_eq!(choose_for_sample(&pdf), Compression::Store);
    }

    #[test]
    fn raw_deflate_round_trips_across_uneven_writes() {
        let data = [text(300_000), random(70_000), text(5)].concat();
        let mut encoder = RawDeflate::new(DEFLATE_LEVEL);
        let mut out = vec![0xAA; 3]; // existing content must be kept
        let mut rest = &data[..];
        for size in [1usize, 7, 65_536, 100_000, 3].iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let (part, tail) = rest.split_at((*size).min(rest.len()));
            encoder.write(part, &mut out).unwrap();
            rest = tail;
        }
        encoder.finish(&mut out).unwrap();
        assert_eq!(out[..3], [0xAA; 3]);
        // Raw DEFLATE: no zlib header (0x78 ..), decodable by a raw inflater.
        assert_eq!(inflate(&out[3..]), data);
        assert!(out.len() < data.len(), "text should shrink");
    }

    #[test]
    fn raw_deflate_of_nothing_is_a_valid_empty_stream() {
        let mut out = Vec::new();
        RawDeflate::new(DEFLATE_LEVEL).finish(&mut out).unwrap();
        assert!(!out.is_empty());
        assert_eq!(inflate(&out), b"");
    }
}
