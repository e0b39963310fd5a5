//! Sealing files into one WinZip AES-256 (AE-2) encrypted ZIP archive (docs/secure-documents.md#the-archive; the WIT
//! contract is `wit/archive.wit`).
//!
//! Pure Rust, no I/O, no clock, no wasm knowledge: randomness (the per-entry salts) comes from
//! the caller's CSPRNG and the entries' date from a [`Timestamp`] argument, so the module is
//! unit-tested natively with a seeded RNG. The pieces, one concept per file:
//! - [`Sealer`] (`sealer.rs`): the `(begin_file write* end_file)+ finish` state machine that
//!   streams one file at a time; [`seal`] drives it for inputs held in memory.
//! - `names.rs`: sanitizing and de-duplicating entry names, normalizing the archive name.
//! - [`compress`]: the store-or-deflate decision and the raw-DEFLATE encoder.
//! - [`winzip_aes`]: key derivation, AES-256-CTR and the HMAC-SHA1 authentication code.
//! - `entry.rs` and `error.rs`: what sealing reports, per file and when it fails.
//! - `format.rs`: the byte layout of local headers, central directory and end record.
//! - `timestamp.rs`: validation and MS-DOS packing of the entries' date and time.
//!
//! This module must never write ZipCrypto, an unencrypted entry, a path as an entry name, or
//! a ZIP64 record (sizes beyond 32 bits are refused instead), and must never panic on input.

pub mod compress;
mod entry;
mod error;
mod format;
mod names;
mod sealer;
mod timestamp;
pub mod winzip_aes;

use rand::{CryptoRng, RngCore};

pub use entry::{Compression, Entry};
pub use error::SealError;
pub use names::{archive_file_name, sanitize_entry_name};
pub use sealer::{MAX_PASSWORD_BYTES, Sealer};
pub use timestamp::Timestamp;

/// The chunk size [`seal`] feeds to the [`Sealer`]: large enough to amortise per-call work,
/// small enough to keep the deflate encoder's working set in cache.
pub const SEAL_CHUNK_LEN: usize = 1024 * 1024;

/// The result of sealing everything at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedArchive {
    /// The archive's file name, normalized by [`archive_file_name`].
    pub name: String,
    /// The complete ZIP archive.
    pub bytes: Vec<u8>,
    /// One entry per input file, in input order.
    pub entries: Vec<Entry>,
}

/// Seals `files` (name and content, in order) into one archive protected by `password`, its
/// entries dated `modified`, with salts drawn from `rng`. Drives a [`Sealer`], feeding each
/// file in [`SEAL_CHUNK_LEN`] chunks.
pub fn seal<R: RngCore + CryptoRng>(
    archive_name: &str,
    files: &[(&str, &[u8])],
    password: &str,
    modified: Timestamp,
    rng: R,
) -> Result<SealedArchive, SealError> {
    let mut sealer = Sealer::new(archive_name, password, modified, rng)?;
    // Refuse before doing any work rather than after sealing 65,535 files.
    if files.len() > format::MAX_ENTRIES {
        return Err(SealError::TooManyFiles);
    }
    let mut bytes = Vec::new();
    let mut entries = Vec::with_capacity(files.len());
    for (name, content) in files {
        sealer.begin_file(name)?;
        for chunk in content.chunks(SEAL_CHUNK_LEN) {
            sealer.write(chunk)?;
        }
        let (entry, entry_bytes) = sealer.end_file()?;
        if bytes.is_empty() {
            bytes = entry_bytes;
        } else {
            bytes.extend_from_slice(&entry_bytes);
        }
        entries.push(entry);
    }
    bytes.extend_from_slice(&sealer.finish()?);
    Ok(SealedArchive { name: sealer.archive_name().to_owned(), bytes, entries })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngCore, SeedableRng};
    use rand_chacha::ChaCha20Rng;
    use std::io::{Cursor, Read};

    const PASSWORD: &str = "Kx7pQ2mZr9TbW4n";

    fn when() -> Timestamp {
        Timestamp { year: 2025, month: 3, day: 14, hour: 15, minute: 9, second: 26 }
    }

    fn rng(seed: u64) -> ChaCha20Rng {
        ChaCha20Rng::seed_from_u64(seed)
    }

    fn text(len: usize) -> Vec<u8> {
        b"Rechnung Nr. 4711 - Position 1: Beratung, 3 Stunden a 120,00 EUR.\n"
            .iter()
            .copied()
            .cycle()
            .take(len)
            .collect()
    }

    fn random(seed: u64, len: usize) -> Vec<u8> {
        let mut bytes = vec![0u8; len];
        rng(seed).fill_bytes(&mut bytes);
        bytes
    }

    /// Every entry's name and content, read back by the `zip` crate (an independent AE-2
    /// implementation) with `password`.
    fn read_back(bytes: &[u8], password: &str) -> Vec<(String, Vec<u8>)> {
        let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).expect("zip crate opens it");
        (0..archive.len())
            .map(|index| {
                let mut file = archive.by_index_decrypt(index, password.as_bytes()).expect("password accepted");
                assert!(file.encrypted());
                let name = file.name().expect("UTF-8 name").into_owned();
                let mut content = Vec::new();
                file.read_to_end(&mut content).expect("decrypts and authenticates");
                (name, content)
            })
            .collect()
    }

    #[test]
    fn round_trip_through_zip_crate() {
        let big = [text(2_500_000), random(1, 1_200_000)].concat();
        let pdf = [b"%PDF-1.7\n".as_slice(), &text(5000)].concat();
        let small_text = text(3000);
        let files: Vec<(&str, &[u8])> = vec![
            ("Rechnung-Müller.pdf", &pdf),
            ("empty.txt", b""),
            ("big.log", &big),
            ("a.txt", &small_text),
            ("A.TXT", b"second a"),
            ("../../etc/passwd", b"root:x:0:0"),
        ];
        let sealed = seal("Unterlagen", &files, PASSWORD, when(), rng(42)).unwrap();
        assert_eq!(sealed.name, "Unterlagen.zip");

        let names: Vec<&str> = sealed.entries.iter().map(|e| e.name.as_str()).collect();
        let expected_names = ["Rechnung-Müller.pdf", "empty.txt", "big.log", "a.txt", "A (2).TXT", "passwd"];
        assert_eq!(names, expected_names);

        let read = read_back(&sealed.bytes, PASSWORD);
        assert_eq!(read.len(), files.len());
        for ((name, content), (_, original)) in read.iter().zip(&files) {
            assert_eq!(content.as_slice(), *original, "content of {name}");
        }
        let read_names: Vec<&str> = read.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(read_names, expected_names);

        for (entry, (_, original)) in sealed.entries.iter().zip(&files) {
            assert_eq!(entry.size, original.len() as u64, "{}", entry.name);
        }
        let compressions: Vec<Compression> = sealed.entries.iter().map(|e| e.compression).collect();
        use Compression::{Deflate, Store};
        assert_eq!(compressions, [Store, Store, Deflate, Deflate, Store, Store]);
    }

    #[test]
    fn zip_crate_sees_aes_metadata_and_date() {
        let sealed = seal("x", &[("notes.txt", &text(10_000))], PASSWORD, when(), rng(1)).unwrap();
        let mut archive = zip::ZipArchive::new(Cursor::new(&sealed.bytes)).unwrap();
        let file = archive.by_index_decrypt(0, PASSWORD.as_bytes()).unwrap();
        assert_eq!(file.compression(), zip::CompressionMethod::Deflated);
        assert_eq!(file.size(), 10_000);
        assert_eq!(file.compressed_size(), sealed.entries[0].stored_size);
        let modified = file.last_modified().expect("a date");
        assert_eq!((modified.year(), modified.month(), modified.day()), (2025, 3, 14));
        // Two-second precision: 26 stays 26.
        assert_eq!((modified.hour(), modified.minute(), modified.second()), (15, 9, 26));
    }

    #[test]
    fn wrong_password_is_rejected_by_zip_crate() {
        let files: Vec<(&str, &[u8])> = vec![("a.txt", b"top secret"), ("b.txt", b"also")];
        let sealed = seal("x", &files, PASSWORD, when(), rng(3)).unwrap();
        let mut archive = zip::ZipArchive::new(Cursor::new(&sealed.bytes)).unwrap();
        for index in 0..archive.len() {
            // The 2-byte verifier rejects all but 1 in 65,536 wrong passwords; the
            // authentication code catches the rest while reading.
            let outcome = archive.by_index_decrypt(index, b"wrong password").and_then(|mut file| {
                let mut content = Vec::new();
                file.read_to_end(&mut content)?;
                Ok(content)
            });
            assert!(outcome.is_err(), "entry {index} opened with a wrong password");
        }
    }

    #[test]
    fn every_entry_is_aes256_ae2_in_both_headers() {
        let jpeg = [&[0xFF, 0xD8, 0xFF, 0xE0][..], &random(5, 4000)].concat();
        let random_bytes = random(6, 100_000);
        let (long_text, short_text) = (text(50_000), text(20_000));
        let files: Vec<(&str, &[u8])> = vec![
            ("brief.txt", &long_text),
            ("foto.jpg", &long_text), // stored by name even though compressible
            ("scan", &jpeg),          // stored by magic bytes
            ("doc.pdf", &short_text),
            ("noise.bin", &random_bytes), // stored: deflate does not shrink it
            ("leer", b""),
        ];
        let sealed = seal("x", &files, PASSWORD, when(), rng(9)).unwrap();
        let parsed = format::reader::parse(&sealed.bytes);
        assert_eq!(parsed.len(), files.len());
        let methods: Vec<u16> = parsed.iter().map(|p| p.actual_method).collect();
        assert_eq!(methods, [8, 0, 0, 0, 0, 0]);
        for (parsed, entry) in parsed.iter().zip(&sealed.entries) {
            assert_eq!(parsed.name, entry.name);
            assert_eq!(u64::from(parsed.compressed_size), entry.stored_size);
            assert_eq!(u64::from(parsed.uncompressed_size), entry.size);
            assert_eq!(parsed.dos_date, (45 << 9) | (3 << 5) | 14);
            assert_eq!(parsed.dos_time, (15 << 11) | (9 << 5) | 13);
        }
        // Stored entries carry exactly their plaintext length plus the 28 bytes of AES framing.
        assert_eq!(parsed[1].compressed_size, 50_000 + 28);
        assert_eq!(parsed[5].compressed_size, 28);
        assert!(parsed[0].compressed_size < 5_000, "text deflates well");
        // Stored data is encrypted, not copied.
        let plain = text(20);
        assert!(!parsed[1].data.windows(20).any(|w| w == plain.as_slice()));
    }

    #[test]
    fn salts_are_fresh_per_entry() {
        let files: Vec<(&str, &[u8])> = vec![("a.txt", b"same"), ("b.txt", b"same")];
        let sealed = seal("x", &files, PASSWORD, when(), rng(11)).unwrap();
        let parsed = format::reader::parse(&sealed.bytes);
        assert_ne!(parsed[0].data[..16], parsed[1].data[..16], "salts");
        assert_ne!(parsed[0].data[18..], parsed[1].data[18..], "ciphertexts");
    }

    #[test]
    fn output_is_deterministic_for_a_seed() {
        let noise = random(2, 999);
        let files: Vec<(&str, &[u8])> = vec![("a.txt", b"hello"), ("b.bin", &noise)];
        let one = seal("x", &files, PASSWORD, when(), rng(5)).unwrap();
        let two = seal("x", &files, PASSWORD, when(), rng(5)).unwrap();
        let other = seal("x", &files, PASSWORD, when(), rng(6)).unwrap();
        assert_eq!(one, two);
        assert_ne!(one.bytes, other.bytes);
    }

    /// Known-answer test against an independent writer: the `zip` crate encrypting the same
    /// plaintext with the same salt must produce byte-identical entry data (salt, verifier,
    /// ciphertext and authentication code).
    #[test]
    fn entry_data_matches_zip_crate_writer_for_same_salt() {
        use std::io::Write;
        let content = random(8, 70_000); // random, so stored by both writers
        let mut salt_rng = rng(12);
        let mut salt = [0u8; 16];
        salt_rng.fill_bytes(&mut salt);

        let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored)
            .with_aes_encryption_and_salt(
                PASSWORD.as_bytes(),
                zip::AesSalt::try_new(zip::AesMode::Aes256, &salt).unwrap(),
            );
        writer.start_file("noise.bin", options).unwrap();
        writer.write_all(&content).unwrap();
        let theirs = writer.finish().unwrap().into_inner();

        // The sealer draws its first salt as the first 16 bytes of a fresh rng(12).
        let ours = seal("x", &[("noise.bin", &content)], PASSWORD, when(), rng(12)).unwrap();
        let our_entry = &format::reader::parse(&ours.bytes)[0];
        assert_eq!(our_entry.data[..16], salt);

        let mut archive = zip::ZipArchive::new(Cursor::new(&theirs)).unwrap();
        let start = archive.by_index_raw(0).unwrap().data_start().unwrap() as usize;
        let their_data = &theirs[start..start + our_entry.data.len()];
        assert_eq!(our_entry.data.len(), content.len() + 28);
        assert_eq!(their_data, our_entry.data.as_slice());
    }

    #[test]
    fn seal_rejects_bad_arguments() {
        let file: &[(&str, &[u8])] = &[("a", b"a")];
        assert_eq!(seal("x", file, "", when(), rng(0)), Err(SealError::InvalidPassword));
        let long = "p".repeat(129);
        assert_eq!(seal("x", file, &long, when(), rng(0)), Err(SealError::InvalidPassword));
        assert!(seal("x", file, &"p".repeat(128), when(), rng(0)).is_ok());
        let bad_day = Timestamp { day: 31, month: 6, ..when() };
        assert!(matches!(
            seal("x", file, PASSWORD, bad_day, rng(0)),
            Err(SealError::InvalidTimestamp(text)) if text.starts_with("day 31")
        ));
        assert_eq!(seal("x", &[], PASSWORD, when(), rng(0)), Err(SealError::NoFiles));
    }

    #[test]
    fn non_ascii_password_round_trips() {
        let password = "pässwört-🔑";
        let sealed = seal("x", &[("a.txt", b"inhalt")], password, when(), rng(4)).unwrap();
        assert_eq!(read_back(&sealed.bytes, password)[0].1, b"inhalt");
    }
}
