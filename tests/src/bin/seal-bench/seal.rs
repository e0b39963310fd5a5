//! Sealing, three ways: in the component through the streaming `sealer` (as the CLI does) and
//! the one-shot `seal` export, and natively with the same archive code; what each reports
//! about the entries it stored.

use anyhow::{Result, anyhow};
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use sealmail_guest::archive as native;
use sealmail_sandbox::Library;
use sealmail_sandbox::library::{Compression, Entry, File, SealError, Timestamp};

/// Chunk size fed to the component's sealer, as the CLI does (`host/sealmail/src/cli/seal.rs`).
pub const CHUNK_LEN: usize = 1 << 20;

/// 15 characters, the length of a `very-high` generated password.
pub const PASSWORD: &str = "Kx7pQ2mZr9TbW4n";

/// One archive entry as reported by whoever sealed it.
#[derive(Debug, Clone)]
pub struct StoredFile {
    pub name: String,
    pub size: u64,
    pub stored: u64,
    pub method: &'static str,
}

impl StoredFile {
    pub fn from_component(entry: &Entry) -> StoredFile {
        StoredFile {
            name: entry.name.clone(),
            size: entry.size,
            stored: entry.stored_size,
            method: match entry.compression {
                Compression::Deflate => "deflate",
                Compression::Store => "store",
            },
        }
    }

    pub fn from_native(entry: &native::Entry) -> StoredFile {
        StoredFile {
            name: entry.name.clone(),
            size: entry.size,
            stored: entry.stored_size,
            method: match entry.compression {
                native::Compression::Deflate => "deflate",
                native::Compression::Store => "store",
            },
        }
    }
}

/// A finished archive and its entries.
pub struct Sealed {
    pub archive: Vec<u8>,
    pub files: Vec<StoredFile>,
}

pub fn modified() -> Timestamp {
    Timestamp { year: 2026, month: 1, day: 15, hour: 12, minute: 0, second: 0 }
}

pub fn native_modified() -> native::Timestamp {
    native::Timestamp { year: 2026, month: 1, day: 15, hour: 12, minute: 0, second: 0 }
}

pub fn seal_failed(error: SealError) -> anyhow::Error {
    anyhow!("the component refused to seal: {error:?}")
}

/// Seals in one sandboxed session through the streaming `sealer`, 1 MiB per call, as the
/// CLI does. Includes instantiation.
pub async fn seal_streaming(library: &Library, files: &[(&str, &[u8])]) -> Result<Sealed> {
    let mut sealer = library.sealer("bench", PASSWORD, modified()).await?.map_err(seal_failed)?;
    let mut archive = Vec::new();
    let mut stored = Vec::with_capacity(files.len());
    for (name, content) in files {
        sealer.begin_file(name).await?.map_err(seal_failed)?;
        for chunk in content.chunks(CHUNK_LEN) {
            sealer.write(chunk).await?.map_err(seal_failed)?;
        }
        let (entry, bytes) = sealer.end_file().await?.map_err(seal_failed)?;
        archive.extend_from_slice(&bytes);
        stored.push(StoredFile::from_component(&entry));
    }
    archive.extend_from_slice(&sealer.finish().await?.map_err(seal_failed)?);
    Ok(Sealed { archive, files: stored })
}

/// Seals in one call of the one-shot `seal` export. Includes instantiation.
pub async fn seal_one_shot(library: &Library, files: &[File]) -> Result<Sealed> {
    let sealed = library.seal("bench", files, PASSWORD, modified()).await?.map_err(seal_failed)?;
    Ok(Sealed { archive: sealed.bytes, files: sealed.entries.iter().map(StoredFile::from_component).collect() })
}

pub fn wit_files(files: &[(&str, &[u8])]) -> Vec<File> {
    files.iter().map(|(name, content)| File { name: (*name).to_owned(), content: content.to_vec() }).collect()
}

/// The same archive code compiled natively, single-threaded, salts from a seeded ChaCha20.
pub fn seal_natively(files: &[(&str, &[u8])], seed: u64) -> Result<Sealed> {
    let sealed = native::seal("bench", files, PASSWORD, native_modified(), ChaCha20Rng::seed_from_u64(seed))?;
    Ok(Sealed { archive: sealed.bytes, files: sealed.entries.iter().map(StoredFile::from_native).collect() })
}
