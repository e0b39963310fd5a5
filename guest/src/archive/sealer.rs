//! The streaming archive writer: `(begin_file write* end_file)+ finish`, one file at a time.
//!
//! The local header must carry the entry's real sizes, because sealmail writes no data
//! descriptors (some readers handle encrypted entries with descriptors badly, and AE-2 needs
//! none), so one file's encrypted output is buffered until `end_file`. Memory is therefore
//! bounded by one file's compressed size plus the 64 KiB sample, never by the archive.
//! This module must never hand out bytes of an entry before its header is final, never
//! reuse a salt, and never produce an archive after an error that could have lost data.

use rand::{CryptoRng, RngCore};
use zeroize::Zeroizing;

use super::compress::{self, RawDeflate};
use super::entry::{Compression, Entry};
use super::error::SealError;
use super::format::{self, EntryRecord, MAX_32_BIT_FIELD, MAX_ENTRIES};
use super::names::{EntryNames, archive_file_name};
use super::timestamp::{DosDateTime, Timestamp};
use super::winzip_aes::{AUTH_CODE_LEN, DerivedKeys, ENTRY_OVERHEAD, Encryptor, SALT_LEN};

/// The longest password accepted, in bytes. The WinZip spec sets no limit; 128 bytes is far
/// beyond any generated password (20 characters) and keeps PBKDF2's input bounded.
pub const MAX_PASSWORD_BYTES: usize = 128;

/// Builds one archive file by file. Each [`Sealer::end_file`] returns that entry's bytes and
/// [`Sealer::finish`] the central directory; the caller concatenates them in call order.
///
/// After an error the sealer is unusable when continuing could produce a wrong archive
/// (a file too large, an internal encoder failure); errors that change nothing (a call out
/// of order, `begin_file` beyond the entry limit, `finish` with no files) leave it usable.
pub struct Sealer<R: RngCore + CryptoRng> {
    archive_name: String,
    password: Zeroizing<Vec<u8>>,
    modified: DosDateTime,
    rng: R,
    names: EntryNames,
    /// Completed entries, for the central directory.
    records: Vec<EntryRecord>,
    /// Archive bytes handed out so far: where the next local header starts.
    offset: u64,
    state: State,
}

#[derive(Debug)]
enum State {
    /// Between files: `begin_file` or `finish` expected.
    Ready,
    /// A file is open: `write` or `end_file` expected.
    Open(Box<OpenFile>),
    /// `finish` succeeded; nothing more is expected.
    Finished,
    /// An earlier error left the archive incomplete; nothing more is accepted.
    Failed(SealError),
}

/// The file being written.
#[derive(Debug)]
struct OpenFile {
    name: String,
    /// Plaintext bytes received.
    size: u64,
    /// Bytes reserved at the start of the buffer for the local header.
    header_len: usize,
    sink: EncryptedBuffer,
    stage: Stage,
}

/// The entry's output so far: room for the local header (filled in by `end_file`), salt,
/// password verifier, then ciphertext, encrypted as it is appended.
#[derive(Debug)]
struct EncryptedBuffer {
    buffer: Vec<u8>,
    encryptor: Encryptor,
}

#[derive(Debug)]
enum Stage {
    /// The method is not chosen yet: the first bytes are kept for the decision.
    Sampling(Vec<u8>),
    /// The method is chosen; data goes straight through.
    Encoding(Encoding),
}

#[derive(Debug)]
enum Encoding {
    Store,
    Deflate(RawDeflate),
}

impl Encoding {
    fn compression(&self) -> Compression {
        match self {
            Encoding::Store => Compression::Store,
            Encoding::Deflate(_) => Compression::Deflate,
        }
    }
}

impl<R: RngCore + CryptoRng> Sealer<R> {
    /// Starts an archive called `archive_name` (normalized by [`archive_file_name`]),
    /// protected by `password` (1 to 128 bytes), its entries dated `modified`; `rng`
    /// supplies a fresh salt for each entry.
    pub fn new(archive_name: &str, password: &str, modified: Timestamp, rng: R) -> Result<Self, SealError> {
        if password.is_empty() || password.len() > MAX_PASSWORD_BYTES {
            return Err(SealError::InvalidPassword);
        }
        let modified = modified.to_dos()?;
        Ok(Sealer {
            archive_name: archive_file_name(archive_name),
            password: Zeroizing::new(password.as_bytes().to_vec()),
            modified,
            rng,
            names: EntryNames::default(),
            records: Vec::new(),
            offset: 0,
            state: State::Ready,
        })
    }

    /// The archive's normalized file name.
    pub fn archive_name(&self) -> &str {
        &self.archive_name
    }

    /// Starts the next file; returns its entry name (sanitized and de-duplicated).
    pub fn begin_file(&mut self, name: &str) -> Result<String, SealError> {
        match &self.state {
            State::Ready => {}
            State::Open(file) => {
                return Err(out_of_order(format!(
                    "file {:?} is still open: call end_file before begin_file",
                    file.name
                )));
            }
            State::Finished => return Err(finished()),
            State::Failed(error) => return Err(failed(error)),
        }
        if self.records.len() >= MAX_ENTRIES {
            return Err(SealError::TooManyFiles);
        }
        let name = self.names.claim(name);

        // A fresh salt per entry: the salt is the only thing that makes each entry's keys,
        // and so its CTR keystream, unique (WinZip spec, "Salt value").
        let mut salt = [0u8; SALT_LEN];
        self.rng.fill_bytes(&mut salt);
        let keys = DerivedKeys::derive(&self.password, &salt);

        let header_len = format::local_header_len(&name);
        let mut buffer = Vec::with_capacity(header_len + ENTRY_OVERHEAD);
        buffer.resize(header_len, 0);
        buffer.extend_from_slice(&salt);
        buffer.extend_from_slice(&keys.password_verifier());

        let stage = if compress::is_precompressed_name(&name) {
            Stage::Encoding(Encoding::Store)
        } else {
            Stage::Sampling(Vec::new())
        };
        self.state = State::Open(Box::new(OpenFile {
            name: name.clone(),
            size: 0,
            header_len,
            sink: EncryptedBuffer { buffer, encryptor: keys.encryptor() },
            stage,
        }));
        Ok(name)
    }

    /// Feeds the next chunk of the current file (any size, including empty).
    pub fn write(&mut self, chunk: &[u8]) -> Result<(), SealError> {
        let offset = self.offset;
        let file = match &mut self.state {
            State::Open(file) => file,
            State::Ready => {
                return Err(out_of_order("no file is open: call begin_file before write".to_owned()));
            }
            State::Finished => return Err(finished()),
            State::Failed(error) => return Err(failed(error)),
        };
        let outcome = file.write(chunk, offset);
        self.fail_on_error(outcome)
    }

    /// Closes the current file. Returns its entry and its archive bytes (local header, salt,
    /// password verifier, encrypted data, authentication code), to be appended to the output
    /// after everything returned before.
    pub fn end_file(&mut self) -> Result<(Entry, Vec<u8>), SealError> {
        match &self.state {
            State::Open(_) => {}
            State::Ready => {
                return Err(out_of_order("no file is open: call begin_file before end_file".to_owned()));
            }
            State::Finished => return Err(finished()),
            State::Failed(error) => return Err(failed(error)),
        }
        let State::Open(file) = std::mem::replace(&mut self.state, State::Ready) else {
            return Err(out_of_order("no file is open".to_owned()));
        };
        let outcome = file.end(self.offset, self.modified);
        let (record, bytes) = self.fail_on_error(outcome)?;
        let entry = Entry {
            name: record.name.clone(),
            size: u64::from(record.uncompressed_size),
            stored_size: u64::from(record.compressed_size),
            compression: record.compression,
        };
        // `end` checked that the new offset fits in 32 bits.
        self.offset = self.offset.saturating_add(bytes.len() as u64);
        self.records.push(record);
        Ok((entry, bytes))
    }

    /// Writes the central directory and end record; returns the archive's final bytes. The
    /// sealer accepts no calls afterwards.
    pub fn finish(&mut self) -> Result<Vec<u8>, SealError> {
        match &self.state {
            State::Ready => {}
            State::Open(file) => {
                return Err(out_of_order(format!("file {:?} is still open: call end_file before finish", file.name)));
            }
            State::Finished => return Err(finished()),
            State::Failed(error) => return Err(failed(error)),
        }
        if self.records.is_empty() {
            return Err(SealError::NoFiles);
        }
        // `begin_file` keeps the count within 16 bits and `end_file` the offset within 32.
        let entries = u16::try_from(self.records.len()).map_err(|_| SealError::TooManyFiles)?;
        let directory_offset = u32::try_from(self.offset).map_err(|_| self.too_large_archive())?;
        let mut out = Vec::new();
        for record in &self.records {
            format::put_central_header(&mut out, record);
        }
        // At most 65,535 × 312 bytes, far below 4 GiB.
        let directory_size = u32::try_from(out.len()).map_err(|_| SealError::TooManyFiles)?;
        format::put_end_of_central_directory(&mut out, entries, directory_size, directory_offset);

        self.state = State::Finished;
        // Nothing more will be encrypted: wipe the password now rather than at drop.
        self.password = Zeroizing::new(Vec::new());
        self.records = Vec::new();
        self.names = EntryNames::default();
        Ok(out)
    }

    /// Records an error that leaves the archive incomplete, so that later calls cannot
    /// produce an archive silently missing data.
    fn fail_on_error<T>(&mut self, outcome: Result<T, SealError>) -> Result<T, SealError> {
        if let Err(error) = &outcome {
            self.state = State::Failed(error.clone());
        }
        outcome
    }

    fn too_large_archive(&self) -> SealError {
        let last = self.records.last().map(|r| r.name.clone()).unwrap_or_default();
        SealError::FileTooLarge(last)
    }
}

impl<R: RngCore + CryptoRng> std::fmt::Debug for Sealer<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the password.
        f.debug_struct("Sealer")
            .field("archive_name", &self.archive_name)
            .field("entries", &self.records.len())
            .field("offset", &self.offset)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl OpenFile {
    fn write(&mut self, chunk: &[u8], archive_offset: u64) -> Result<(), SealError> {
        let size = self.size.saturating_add(chunk.len() as u64);
        if size > MAX_32_BIT_FIELD {
            return Err(SealError::FileTooLarge(self.name.clone()));
        }
        self.size = size;
        match &mut self.stage {
            Stage::Sampling(sample) => {
                let room = compress::SAMPLE_LEN.saturating_sub(sample.len());
                let (head, rest) = chunk.split_at(room.min(chunk.len()));
                sample.extend_from_slice(head);
                // Decide once a full sample is in: at 64 KiB or at end_file
                // (docs/secure-documents.md#compression).
                if sample.len() >= compress::SAMPLE_LEN {
                    let sample = std::mem::take(sample);
                    let mut encoding = choose_encoding(&sample);
                    self.sink.encode(&mut encoding, &sample)?;
                    self.sink.encode(&mut encoding, rest)?;
                    self.stage = Stage::Encoding(encoding);
                }
            }
            Stage::Encoding(encoding) => self.sink.encode(encoding, chunk)?,
        }
        self.check_output(archive_offset)
    }

    /// Refuses output that could not be described without ZIP64: the entry's stored size
    /// and the end of the entry (where the next header or the directory starts) must fit in
    /// 32 bits, counting the authentication code still to come.
    fn check_output(&self, archive_offset: u64) -> Result<(), SealError> {
        let buffered = self.sink.buffer.len() as u64 + AUTH_CODE_LEN as u64;
        let stored = buffered.saturating_sub(self.header_len as u64);
        let end = archive_offset.saturating_add(buffered);
        if stored > MAX_32_BIT_FIELD || end > MAX_32_BIT_FIELD {
            return Err(SealError::FileTooLarge(self.name.clone()));
        }
        Ok(())
    }

    /// Finishes compression and encryption, fills in the local header and returns the
    /// entry's record and bytes.
    fn end(
        mut self: Box<Self>,
        archive_offset: u64,
        modified: DosDateTime,
    ) -> Result<(EntryRecord, Vec<u8>), SealError> {
        let encoding = match std::mem::replace(&mut self.stage, Stage::Sampling(Vec::new())) {
            Stage::Encoding(encoding) => encoding,
            Stage::Sampling(sample) => {
                let mut encoding = choose_encoding(&sample);
                self.sink.encode(&mut encoding, &sample)?;
                encoding
            }
        };
        let compression = encoding.compression();
        if let Encoding::Deflate(encoder) = encoding {
            self.sink.finish_deflate(encoder)?;
        }
        self.check_output(archive_offset)?;
        let OpenFile { name, size, header_len, sink, .. } = *self;
        let EncryptedBuffer { mut buffer, encryptor } = sink;
        // The authentication code follows the ciphertext (WinZip spec, "Encrypted file storage
        // format").
        buffer.extend_from_slice(&encryptor.finish());

        let too_large = || SealError::FileTooLarge(name.clone());
        let compressed_size =
            buffer.len().checked_sub(header_len).and_then(|stored| u32::try_from(stored).ok()).ok_or_else(too_large)?;
        let uncompressed_size = u32::try_from(size).map_err(|_| too_large())?;
        let local_header_offset = u32::try_from(archive_offset).map_err(|_| too_large())?;
        let record = EntryRecord {
            name: name.clone(),
            compression,
            modified,
            compressed_size,
            uncompressed_size,
            local_header_offset,
        };
        let header = format::local_header(&record);
        match buffer.get_mut(..header.len()) {
            Some(slot) if header.len() == header_len => slot.copy_from_slice(&header),
            _ => return Err(internal_layout_error(&name)),
        }
        Ok((record, buffer))
    }
}

impl EncryptedBuffer {
    /// Compresses (or copies) `data` into the buffer and encrypts what was added.
    fn encode(&mut self, encoding: &mut Encoding, data: &[u8]) -> Result<(), SealError> {
        let start = self.buffer.len();
        match encoding {
            Encoding::Store => self.buffer.extend_from_slice(data),
            Encoding::Deflate(encoder) => encoder.write(data, &mut self.buffer).map_err(internal_encoder_error)?,
        }
        self.encrypt_from(start);
        Ok(())
    }

    /// Flushes the DEFLATE stream's final block into the buffer and encrypts it.
    fn finish_deflate(&mut self, encoder: RawDeflate) -> Result<(), SealError> {
        let start = self.buffer.len();
        encoder.finish(&mut self.buffer).map_err(internal_encoder_error)?;
        self.encrypt_from(start);
        Ok(())
    }

    fn encrypt_from(&mut self, start: usize) {
        if let Some(added) = self.buffer.get_mut(start..) {
            self.encryptor.encrypt_in_place(added);
        }
    }
}

/// The encoding for a file whose first bytes are `sample` (the name was not decisive).
fn choose_encoding(sample: &[u8]) -> Encoding {
    match compress::choose_for_sample(sample) {
        Compression::Store => Encoding::Store,
        Compression::Deflate => Encoding::Deflate(RawDeflate::new(compress::DEFLATE_LEVEL)),
    }
}

fn out_of_order(expected: String) -> SealError {
    SealError::OutOfOrder(expected)
}

fn finished() -> SealError {
    out_of_order("the archive is already finished: no call is expected after finish".to_owned())
}

fn failed(error: &SealError) -> SealError {
    out_of_order(format!("no call is expected after the earlier error \"{error}\": start a new archive"))
}

/// The WIT error variant has no case for a bug, and the encoder fails only on misuse that
/// `RawDeflate`'s API prevents; reported as a sequencing failure rather than a trap.
fn internal_encoder_error(error: compress::DeflateError) -> SealError {
    SealError::Internal(error.to_string())
}

fn internal_layout_error(name: &str) -> SealError {
    SealError::Internal(format!("header length of {name:?} changed"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha20Rng;
    use std::io::{Cursor, Read};

    fn when() -> Timestamp {
        Timestamp { year: 2024, month: 12, day: 24, hour: 18, minute: 0, second: 0 }
    }

    fn sealer() -> Sealer<ChaCha20Rng> {
        Sealer::new("Akte", "pw-123", when(), ChaCha20Rng::seed_from_u64(1)).unwrap()
    }

    fn expect_out_of_order<T: std::fmt::Debug>(result: Result<T, SealError>, needle: &str) {
        match result {
            Err(SealError::OutOfOrder(text)) => {
                assert!(text.contains(needle), "{text:?} should mention {needle:?}")
            }
            other => panic!("expected OutOfOrder mentioning {needle:?}, got {other:?}"),
        }
    }

    fn text(len: usize) -> Vec<u8> {
        b"lorem ipsum dolor sit amet, ".iter().copied().cycle().take(len).collect()
    }

    #[test]
    fn streams_files_in_uneven_chunks() {
        let mut sealer = sealer();
        assert_eq!(sealer.archive_name(), "Akte.zip");
        let data = text(3 * 1024 * 1024 + 17);
        assert_eq!(sealer.begin_file("dir/big.txt").unwrap(), "big.txt");
        let mut rest = &data[..];
        for size in [0usize, 1, 65_535, 2, 1_000_000, 13].iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let (chunk, tail) = rest.split_at((*size).min(rest.len()));
            sealer.write(chunk).unwrap();
            rest = tail;
        }
        let (entry, mut bytes) = sealer.end_file().unwrap();
        assert_eq!(entry.name, "big.txt");
        assert_eq!(entry.size, data.len() as u64);
        assert_eq!(entry.compression, Compression::Deflate);
        let header_len = 30 + "big.txt".len() + 11;
        assert_eq!(entry.stored_size, (bytes.len() - header_len) as u64);

        assert_eq!(sealer.begin_file("big.TXT").unwrap(), "big (2).TXT");
        sealer.write(b"tiny").unwrap();
        let (second, second_bytes) = sealer.end_file().unwrap();
        assert_eq!(second.compression, Compression::Store);
        assert_eq!(second.stored_size, 4 + 28);
        bytes.extend_from_slice(&second_bytes);
        bytes.extend_from_slice(&sealer.finish().unwrap());

        let mut archive = zip::ZipArchive::new(Cursor::new(&bytes)).unwrap();
        let mut content = Vec::new();
        archive.by_index_decrypt(0, b"pw-123").unwrap().read_to_end(&mut content).unwrap();
        assert!(content == data, "content differs");
        let mut content = Vec::new();
        archive.by_name_decrypt("big (2).TXT", b"pw-123").unwrap().read_to_end(&mut content).unwrap();
        assert_eq!(content, b"tiny");
    }

    #[test]
    fn decision_waits_for_a_full_sample() {
        let mut sealer = sealer();
        sealer.begin_file("data").unwrap();
        sealer.write(&text(compress::SAMPLE_LEN - 1)).unwrap();
        let State::Open(file) = &sealer.state else { panic!("file should be open") };
        assert!(matches!(&file.stage, Stage::Sampling(s) if s.len() == compress::SAMPLE_LEN - 1));
        sealer.write(b"xy").unwrap();
        let State::Open(file) = &sealer.state else { panic!("file should be open") };
        assert!(matches!(file.stage, Stage::Encoding(Encoding::Deflate(_))));
    }

    #[test]
    fn precompressed_names_are_stored_without_sampling() {
        let mut sealer = sealer();
        sealer.begin_file("scan.PDF").unwrap();
        let State::Open(file) = &sealer.state else { panic!("file should be open") };
        assert!(matches!(file.stage, Stage::Encoding(Encoding::Store)));
        sealer.write(&text(10_000)).unwrap();
        let (entry, _) = sealer.end_file().unwrap();
        assert_eq!(entry.compression, Compression::Store);
        assert_eq!(entry.stored_size, 10_000 + 28);
    }

    #[test]
    fn calls_out_of_order_are_refused() {
        let mut sealer = sealer();
        expect_out_of_order(sealer.write(b"x"), "begin_file before write");
        expect_out_of_order(sealer.end_file(), "begin_file before end_file");
        assert_eq!(sealer.finish(), Err(SealError::NoFiles));

        sealer.begin_file("a.txt").unwrap();
        expect_out_of_order(sealer.begin_file("b.txt"), "end_file before begin_file");
        expect_out_of_order(sealer.finish(), "\"a.txt\" is still open");
        // The refusals changed nothing: the open file can still be completed.
        sealer.write(b"content").unwrap();
        sealer.end_file().unwrap();
        let tail = sealer.finish().unwrap();
        let end_record = &tail[tail.len() - 22..];
        assert_eq!(end_record[..4], *b"PK\x05\x06");
        assert_eq!(end_record[8..12], [1, 0, 1, 0], "one entry");

        expect_out_of_order(sealer.begin_file("c.txt"), "after finish");
        expect_out_of_order(sealer.write(b"x"), "after finish");
        expect_out_of_order(sealer.end_file(), "after finish");
        expect_out_of_order(sealer.finish(), "after finish");
    }

    #[test]
    fn new_validates_password_and_timestamp() {
        let rng = || ChaCha20Rng::seed_from_u64(0);
        assert_eq!(Sealer::new("a", "", when(), rng()).err(), Some(SealError::InvalidPassword));
        // 43 × 3-byte "€" = 129 bytes: the limit counts bytes, not characters.
        assert_eq!(Sealer::new("a", &"€".repeat(43), when(), rng()).err(), Some(SealError::InvalidPassword));
        assert!(Sealer::new("a", &"€".repeat(42), when(), rng()).is_ok());
        let leap = Timestamp { year: 2023, month: 2, day: 29, ..when() };
        assert!(matches!(
            Sealer::new("a", "pw", leap, rng()).err(),
            Some(SealError::InvalidTimestamp(text)) if text.contains("day 29")
        ));
        assert_eq!(Sealer::new("", "pw", when(), rng()).unwrap().archive_name(), "documents.zip");
    }

    #[test]
    fn too_many_files() {
        let mut sealer = sealer();
        let record = EntryRecord {
            name: "x".to_owned(),
            compression: Compression::Store,
            modified: when().to_dos().unwrap(),
            compressed_size: 28,
            uncompressed_size: 0,
            local_header_offset: 0,
        };
        sealer.records = vec![record; MAX_ENTRIES - 1];
        sealer.begin_file("last").unwrap();
        sealer.end_file().unwrap();
        assert_eq!(sealer.begin_file("one more"), Err(SealError::TooManyFiles));
        // Refusing the extra file leaves the archive finishable.
        let tail = sealer.finish().unwrap();
        assert_eq!(tail[tail.len() - 14..tail.len() - 10], [0xFF, 0xFF, 0xFF, 0xFF]);
    }

    #[test]
    fn file_over_4_gib_is_refused_and_poisons_the_sealer() {
        let mut sealer = sealer();
        sealer.begin_file("huge.bin").unwrap();
        sealer.write(b"abc").unwrap();
        // Pretend almost 4 GiB were already written (allocating them is not an option).
        if let State::Open(file) = &mut sealer.state {
            file.size = MAX_32_BIT_FIELD - 3;
        }
        sealer.write(b"abc").unwrap(); // exactly 0xFFFF_FFFE: allowed
        assert_eq!(sealer.write(b"d"), Err(SealError::FileTooLarge("huge.bin".to_owned())));
        expect_out_of_order(sealer.end_file(), "file \"huge.bin\" is too large");
        expect_out_of_order(sealer.finish(), "start a new archive");
    }

    #[test]
    fn archive_over_4_gib_is_refused() {
        let mut sealer = sealer();
        sealer.begin_file("first.bin").unwrap();
        sealer.end_file().unwrap();
        // Pretend the archive already holds almost 4 GiB.
        // Stored by name, so every byte written reaches the buffer at once.
        sealer.offset = MAX_32_BIT_FIELD - 130;
        sealer.begin_file("second.jpg").unwrap();
        // Header 51 + salt and verifier 18 + 40 + code 10 = 119 bytes: ends 11 bytes early.
        sealer.write(&[0u8; 40]).unwrap();
        assert_eq!(sealer.write(&[0u8; 40]), Err(SealError::FileTooLarge("second.jpg".to_owned())));
    }

    #[test]
    fn end_file_checks_final_size() {
        let mut sealer = sealer();
        sealer.begin_file("first.bin").unwrap();
        sealer.end_file().unwrap();
        let entry_len = 30 + "second.bin".len() + 11 + 28;
        // Room for exactly this entry's bytes ends at 0xFFFF_FFFE.
        sealer.offset = MAX_32_BIT_FIELD - entry_len as u64;
        sealer.begin_file("second.bin").unwrap();
        let (_, bytes) = sealer.end_file().unwrap();
        assert_eq!(bytes.len(), entry_len);
        assert_eq!(sealer.offset, MAX_32_BIT_FIELD);
        sealer.begin_file("third.bin").unwrap();
        assert_eq!(sealer.end_file(), Err(SealError::FileTooLarge("third.bin".to_owned())));
    }

    #[test]
    fn debug_output_hides_the_password() {
        let sealer = sealer();
        let text = format!("{sealer:?}");
        assert!(text.contains("Akte.zip"));
        assert!(!text.contains("pw-123"));
    }
}
