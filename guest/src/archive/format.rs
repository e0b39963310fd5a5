//! The byte layout of the ZIP records sealmail writes: local file header, central directory
//! header and end of central directory (APPNOTE.TXT 6.3.10 sections 4.3.7, 4.3.12, 4.3.16),
//! with the WinZip AES extra field (<https://www.winzip.com/en/support/aes-encryption/>).
//!
//! This module only lays out values the sealer has already checked. It must never write a
//! data descriptor, a ZIP64 record, a CRC for an AE-2 entry or any method but 99: every entry
//! is WinZip AES-256, AE-2 (docs/secure-documents.md#the-archive).

use super::entry::Compression;
use super::timestamp::DosDateTime;

/// "PK\x03\x04" (APPNOTE 4.3.7).
const LOCAL_HEADER_SIGNATURE: u32 = 0x0403_4B50;
/// "PK\x01\x02" (APPNOTE 4.3.12).
const CENTRAL_HEADER_SIGNATURE: u32 = 0x0201_4B50;
/// "PK\x05\x06" (APPNOTE 4.3.16).
const END_OF_CENTRAL_DIRECTORY_SIGNATURE: u32 = 0x0605_4B50;

/// Fixed part of a local file header, before name and extra field.
const LOCAL_HEADER_FIXED_LEN: usize = 30;
/// Fixed part of a central directory header, before name, extra field and comment.
const CENTRAL_HEADER_FIXED_LEN: usize = 46;

/// Version needed to extract: 5.1, the version the WinZip spec requires for AES entries
/// (APPNOTE 4.4.3.2 lists 5.1 for "AES encryption").
const VERSION_NEEDED: u16 = 51;
/// Version made by (APPNOTE 4.4.2): upper byte 3 = UNIX, so that the external attributes
/// carry a file mode and UNIX extractors create `rw-r--r--` files rather than guessing;
/// lower byte 63 = APPNOTE 6.3, the version defining the UTF-8 flag (4.4.4 bit 11).
const VERSION_MADE_BY: u16 = (3 << 8) | 63;
/// A regular file with mode 0644, in the upper half as UNIX "made by" requires (4.4.15).
const EXTERNAL_ATTRIBUTES: u32 = 0o100_644 << 16;

/// General purpose bit flag (APPNOTE 4.4.4): bit 0 = encrypted, bit 11 = name is UTF-8
/// (the "language encoding flag"). Bit 3 (data descriptor) is never set: the sealer knows the
/// sizes before it writes the local header.
const FLAGS: u16 = (1 << 0) | (1 << 11);

/// Compression method 99 marks WinZip AES encryption; the real method is in the extra field
/// (WinZip spec, "Compression method and encryption flag").
const METHOD_WINZIP_AES: u16 = 99;

/// Header ID of the AES extra data field (WinZip spec, "AES extra data field"; APPNOTE 4.6.1
/// lists 0x9901 as the "AE-x encryption structure").
const AES_EXTRA_ID: u16 = 0x9901;
/// Data size of the AES extra field: vendor version (2), vendor ID (2), strength (1),
/// actual compression method (2).
const AES_EXTRA_DATA_LEN: u16 = 7;
/// The whole AES extra field, header included.
pub(crate) const AES_EXTRA_LEN: usize = 4 + AES_EXTRA_DATA_LEN as usize;
/// Vendor version 2 = AE-2: the CRC field is 0 and integrity rests on the authentication
/// code, so the CRC cannot leak information about the plaintext (WinZip spec, "CRC value").
const AES_VENDOR_VERSION_AE2: u16 = 0x0002;
/// Vendor ID, the two ASCII bytes "AE".
const AES_VENDOR_ID: [u8; 2] = *b"AE";
/// Encryption strength 3 = AES-256.
const AES_STRENGTH_256: u8 = 0x03;
/// AE-2 entries store 0 instead of the CRC-32.
const AE2_CRC32: u32 = 0;

/// Largest value a 32-bit size or offset field may hold without implying ZIP64: 0xFFFFFFFF
/// itself tells readers to look for a ZIP64 extra field (APPNOTE 4.4.8, 4.4.9, 4.4.16).
pub(crate) const MAX_32_BIT_FIELD: u64 = 0xFFFF_FFFE;
/// Most entries an archive may hold without ZIP64 (16-bit counts, APPNOTE 4.4.22).
pub(crate) const MAX_ENTRIES: usize = 0xFFFF;

/// Everything the headers say about one entry, in field widths already checked by the sealer.
#[derive(Debug, Clone)]
pub(crate) struct EntryRecord {
    /// UTF-8 entry name, at most 255 bytes (guaranteed by `names`).
    pub(crate) name: String,
    /// The method applied before encryption, recorded in the AES extra field.
    pub(crate) compression: Compression,
    pub(crate) modified: DosDateTime,
    /// Salt, verifier, ciphertext and authentication code.
    pub(crate) compressed_size: u32,
    pub(crate) uncompressed_size: u32,
    pub(crate) local_header_offset: u32,
}

impl EntryRecord {
    fn name_len(&self) -> u16 {
        // `names` caps names at 255 bytes, so the fallback is unreachable; it exists so that
        // a broken invariant yields a bad archive rather than a trap.
        u16::try_from(self.name.len()).unwrap_or(u16::MAX)
    }
}

/// The length of the local header for an entry called `name`.
pub(crate) fn local_header_len(name: &str) -> usize {
    LOCAL_HEADER_FIXED_LEN + name.len() + AES_EXTRA_LEN
}

/// The local file header (APPNOTE 4.3.7), exactly `local_header_len(&record.name)` bytes.
pub(crate) fn local_header(record: &EntryRecord) -> Vec<u8> {
    let mut out = Vec::with_capacity(local_header_len(&record.name));
    put_u32(&mut out, LOCAL_HEADER_SIGNATURE);
    put_u16(&mut out, VERSION_NEEDED);
    put_u16(&mut out, FLAGS);
    put_u16(&mut out, METHOD_WINZIP_AES);
    put_u16(&mut out, record.modified.time);
    put_u16(&mut out, record.modified.date);
    put_u32(&mut out, AE2_CRC32);
    put_u32(&mut out, record.compressed_size);
    put_u32(&mut out, record.uncompressed_size);
    put_u16(&mut out, record.name_len());
    put_u16(&mut out, AES_EXTRA_LEN as u16);
    out.extend_from_slice(record.name.as_bytes());
    put_aes_extra(&mut out, record.compression);
    out
}

/// Appends the central directory header (APPNOTE 4.3.12) for `record` to `out`.
pub(crate) fn put_central_header(out: &mut Vec<u8>, record: &EntryRecord) {
    out.reserve(CENTRAL_HEADER_FIXED_LEN + record.name.len() + AES_EXTRA_LEN);
    put_u32(out, CENTRAL_HEADER_SIGNATURE);
    put_u16(out, VERSION_MADE_BY);
    put_u16(out, VERSION_NEEDED);
    put_u16(out, FLAGS);
    put_u16(out, METHOD_WINZIP_AES);
    put_u16(out, record.modified.time);
    put_u16(out, record.modified.date);
    put_u32(out, AE2_CRC32);
    put_u32(out, record.compressed_size);
    put_u32(out, record.uncompressed_size);
    put_u16(out, record.name_len());
    put_u16(out, AES_EXTRA_LEN as u16);
    put_u16(out, 0); // file comment length
    put_u16(out, 0); // disk number start
    put_u16(out, 0); // internal file attributes (bit 0 "text" is not claimed)
    put_u32(out, EXTERNAL_ATTRIBUTES);
    put_u32(out, record.local_header_offset);
    out.extend_from_slice(record.name.as_bytes());
    // The WinZip spec requires the AES extra field in both the local and the central header.
    put_aes_extra(out, record.compression);
}

/// Appends the end of central directory record (APPNOTE 4.3.16) to `out`.
pub(crate) fn put_end_of_central_directory(
    out: &mut Vec<u8>,
    entries: u16,
    central_directory_size: u32,
    central_directory_offset: u32,
) {
    put_u32(out, END_OF_CENTRAL_DIRECTORY_SIGNATURE);
    put_u16(out, 0); // number of this disk
    put_u16(out, 0); // disk where the central directory starts
    put_u16(out, entries); // entries on this disk
    put_u16(out, entries); // entries in total
    put_u32(out, central_directory_size);
    put_u32(out, central_directory_offset);
    put_u16(out, 0); // comment length
}

/// The 0x9901 extra field (WinZip spec, "AES extra data field").
fn put_aes_extra(out: &mut Vec<u8>, compression: Compression) {
    put_u16(out, AES_EXTRA_ID);
    put_u16(out, AES_EXTRA_DATA_LEN);
    put_u16(out, AES_VENDOR_VERSION_AE2);
    out.extend_from_slice(&AES_VENDOR_ID);
    out.push(AES_STRENGTH_256);
    put_u16(out, actual_method(compression));
}

/// The APPNOTE 4.4.5 method number of what was done before encryption.
fn actual_method(compression: Compression) -> u16 {
    match compression {
        Compression::Store => 0,
        Compression::Deflate => 8,
    }
}

/// ZIP fields are little-endian (APPNOTE 4.4.1.1).
fn put_u16(out: &mut Vec<u8>, value: u16) {
    out.extend_from_slice(&value.to_le_bytes());
}

fn put_u32(out: &mut Vec<u8>, value: u32) {
    out.extend_from_slice(&value.to_le_bytes());
}

/// A deliberately separate, strict reader of whole archives for tests: it walks the bytes
/// by offset with its own field positions (not the constants above), so a wrong constant in
/// the writer is caught rather than mirrored.
#[cfg(test)]
pub(crate) mod reader {
    /// One entry as its local and central headers describe it.
    #[derive(Debug)]
    pub(crate) struct ParsedEntry {
        pub(crate) name: String,
        /// The actual compression method from the AES extra field.
        pub(crate) actual_method: u16,
        pub(crate) compressed_size: u32,
        pub(crate) uncompressed_size: u32,
        pub(crate) dos_time: u16,
        pub(crate) dos_date: u16,
        /// Salt ‖ verifier ‖ ciphertext ‖ authentication code.
        pub(crate) data: Vec<u8>,
    }

    fn u16_at(bytes: &[u8], at: usize) -> u16 {
        u16::from_le_bytes([bytes[at], bytes[at + 1]])
    }

    fn u32_at(bytes: &[u8], at: usize) -> u32 {
        u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
    }

    /// Checks a 0x9901 extra field (exactly one field in the extra area) and returns the
    /// actual compression method.
    fn check_aes_extra(extra: &[u8], context: &str) -> u16 {
        assert_eq!(extra.len(), 11, "{context}: extra length");
        assert_eq!(extra[0..2], [0x01, 0x99], "{context}: header id 0x9901");
        assert_eq!(u16_at(extra, 2), 7, "{context}: data size");
        assert_eq!(u16_at(extra, 4), 2, "{context}: vendor version AE-2");
        assert_eq!(&extra[6..8], b"AE", "{context}: vendor id");
        assert_eq!(extra[8], 3, "{context}: strength AES-256");
        let method = u16_at(extra, 9);
        assert!(method == 0 || method == 8, "{context}: actual method {method}");
        method
    }

    /// Parses and checks a whole archive: the end record, every central header, every local
    /// header it points to, and that local entries tile the space before the directory.
    pub(crate) fn parse(bytes: &[u8]) -> Vec<ParsedEntry> {
        assert!(bytes.len() >= 22, "too short for an end record");
        let eocd = bytes.len() - 22;
        assert_eq!(u32_at(bytes, eocd), 0x0605_4B50, "end record signature");
        assert_eq!(u16_at(bytes, eocd + 4), 0, "disk number");
        assert_eq!(u16_at(bytes, eocd + 6), 0, "central directory disk");
        let count = usize::from(u16_at(bytes, eocd + 8));
        assert_eq!(usize::from(u16_at(bytes, eocd + 10)), count, "total entries");
        let cd_size = u32_at(bytes, eocd + 12) as usize;
        let cd_offset = u32_at(bytes, eocd + 16) as usize;
        assert_eq!(u16_at(bytes, eocd + 20), 0, "comment length");
        assert_eq!(cd_offset + cd_size, eocd, "directory ends at the end record");

        let mut entries = Vec::new();
        let mut at = cd_offset;
        let mut expected_local_offset = 0usize;
        for index in 0..count {
            let context = format!("central header {index}");
            assert_eq!(u32_at(bytes, at), 0x0201_4B50, "{context}: signature");
            assert_eq!(u16_at(bytes, at + 4), (3 << 8) | 63, "{context}: made by");
            assert_eq!(u16_at(bytes, at + 6), 51, "{context}: version needed");
            let flags = u16_at(bytes, at + 8);
            assert_eq!(flags, 0x0801, "{context}: flags = encrypted | UTF-8");
            assert_eq!(u16_at(bytes, at + 10), 99, "{context}: method 99");
            let dos_time = u16_at(bytes, at + 12);
            let dos_date = u16_at(bytes, at + 14);
            assert_eq!(u32_at(bytes, at + 16), 0, "{context}: AE-2 CRC is 0");
            let compressed_size = u32_at(bytes, at + 20);
            let uncompressed_size = u32_at(bytes, at + 24);
            let name_len = usize::from(u16_at(bytes, at + 28));
            let extra_len = usize::from(u16_at(bytes, at + 30));
            assert_eq!(u16_at(bytes, at + 32), 0, "{context}: comment length");
            assert_eq!(u16_at(bytes, at + 34), 0, "{context}: disk start");
            let local_offset = u32_at(bytes, at + 42) as usize;
            assert_eq!(local_offset, expected_local_offset, "{context}: entries are contiguous");
            let name = std::str::from_utf8(&bytes[at + 46..at + 46 + name_len]).expect("UTF-8 name").to_owned();
            let extra = &bytes[at + 46 + name_len..at + 46 + name_len + extra_len];
            let actual_method = check_aes_extra(extra, &context);
            at += 46 + name_len + extra_len;

            let context = format!("local header {index} ({name})");
            let local = local_offset;
            assert_eq!(u32_at(bytes, local), 0x0403_4B50, "{context}: signature");
            assert_eq!(u16_at(bytes, local + 4), 51, "{context}: version needed");
            assert_eq!(u16_at(bytes, local + 6), flags, "{context}: flags");
            assert_eq!(u16_at(bytes, local + 8), 99, "{context}: method 99");
            assert_eq!(u16_at(bytes, local + 10), dos_time, "{context}: time");
            assert_eq!(u16_at(bytes, local + 12), dos_date, "{context}: date");
            assert_eq!(u32_at(bytes, local + 14), 0, "{context}: AE-2 CRC is 0");
            assert_eq!(u32_at(bytes, local + 18), compressed_size, "{context}: size");
            assert_eq!(u32_at(bytes, local + 22), uncompressed_size, "{context}: size");
            assert_eq!(usize::from(u16_at(bytes, local + 26)), name_len, "{context}");
            let local_extra_len = usize::from(u16_at(bytes, local + 28));
            assert_eq!(&bytes[local + 30..local + 30 + name_len], name.as_bytes());
            let local_extra = &bytes[local + 30 + name_len..local + 30 + name_len + local_extra_len];
            assert_eq!(check_aes_extra(local_extra, &context), actual_method);
            let data_start = local + 30 + name_len + local_extra_len;
            let data_end = data_start + compressed_size as usize;
            assert!(compressed_size >= 28, "{context}: salt + verifier + code");
            expected_local_offset = data_end;
            entries.push(ParsedEntry {
                name,
                actual_method,
                compressed_size,
                uncompressed_size,
                dos_time,
                dos_date,
                data: bytes[data_start..data_end].to_vec(),
            });
        }
        assert_eq!(at, cd_offset + cd_size, "directory size");
        assert_eq!(expected_local_offset, cd_offset, "no gap before the directory");
        entries
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(name: &str, compression: Compression) -> EntryRecord {
        EntryRecord {
            name: name.to_owned(),
            compression,
            modified: DosDateTime { date: 0x585D, time: 0x6DBD },
            compressed_size: 0x0102_0304,
            uncompressed_size: 0x0A0B_0C0D,
            local_header_offset: 0x1122_3344,
        }
    }

    #[test]
    fn local_header_bytes() {
        let header = local_header(&record("ü.txt", Compression::Deflate));
        assert_eq!(header.len(), local_header_len("ü.txt"));
        #[rustfmt::skip]
        let expected: Vec<u8> = [
            &[0x50, 0x4B, 0x03, 0x04][..], // signature
            &[51, 0],                       // version needed 5.1
            &[0x01, 0x08],                  // flags: encrypted, UTF-8
            &[99, 0],                       // method 99
            &[0xBD, 0x6D, 0x5D, 0x58],      // time, date
            &[0, 0, 0, 0],                  // CRC-32 = 0 (AE-2)
            &[0x04, 0x03, 0x02, 0x01],      // compressed size
            &[0x0D, 0x0C, 0x0B, 0x0A],      // uncompressed size
            &[6, 0, 11, 0],                 // name length, extra length
            "ü.txt".as_bytes(),
            &[0x01, 0x99, 7, 0, 2, 0, b'A', b'E', 3, 8, 0], // AES extra, deflate
        ]
        .concat();
        assert_eq!(header, expected);
    }

    #[test]
    fn central_header_and_end_record_parse_back() {
        let stored = record("a.jpg", Compression::Store);
        let mut out = Vec::new();
        put_central_header(&mut out, &stored);
        assert_eq!(out.len(), 46 + 5 + 11);
        assert_eq!(out[..4], [0x50, 0x4B, 0x01, 0x02]);
        assert_eq!(out[4..6], [63, 3], "made by UNIX, APPNOTE 6.3");
        assert_eq!(out[38..42], (0o100_644u32 << 16).to_le_bytes());
        assert_eq!(out[42..46], [0x44, 0x33, 0x22, 0x11], "local header offset");
        assert_eq!(out[out.len() - 2..], [0, 0], "actual method store");

        let mut end = Vec::new();
        put_end_of_central_directory(&mut end, 3, 0x100, 0x2000);
        #[rustfmt::skip]
        assert_eq!(end, [
            0x50, 0x4B, 0x05, 0x06, 0, 0, 0, 0, 3, 0, 3, 0,
            0x00, 0x01, 0, 0, 0x00, 0x20, 0, 0, 0, 0,
        ]);
    }
}
