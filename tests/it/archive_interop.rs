//! Archives made by the component, in wasmtime, opened by tools we did not write: 7-Zip,
//! bsdtar (libarchive) and Python's pyzipper. Each must extract every file byte-identically
//! with the right password and refuse a wrong one. The archive's headers are then parsed
//! here, independently of the guest's writer, against WinZip's AE-2 specification.

use std::path::Path;
use std::process::Command;

use sealmail_sandbox::library::{Compression, File, Timestamp};
use sealmail_test_support::require_tool;
use sealmail_test_support::sevenzip_extract;
use sealmail_tests::library;
use sealmail_tests::{invoice_text as text, random_bytes as random};

const MODIFIED: Timestamp = Timestamp { year: 2026, month: 11, day: 29, hour: 10, minute: 30, second: 0 };

/// Input name, expected entry name, content, expected compression.
struct Input {
    name: &'static str,
    entry: &'static str,
    content: Vec<u8>,
    compression: Compression,
}

fn inputs() -> Vec<Input> {
    let mut pdf = b"%PDF-1.4\n".to_vec();
    pdf.extend(random(1, 200_000));
    let mut jpg = vec![0xFF, 0xD8, 0xFF, 0xE0];
    jpg.extend(random(2, 150_000));
    let mut zip = b"PK\x03\x04".to_vec();
    zip.extend(random(3, 50_000));
    // 20 MiB: half incompressible, half text, so the component meets both paths at size.
    let mut big = random(4, 10 << 20);
    big.extend(text(10 << 20));
    vec![
        Input {
            name: "Rechnung-Müller.pdf",
            entry: "Rechnung-Müller.pdf",
            content: pdf,
            compression: Compression::Store,
        },
        Input { name: "empty.txt", entry: "empty.txt", content: Vec::new(), compression: Compression::Store },
        Input { name: "big.dat", entry: "big.dat", content: big, compression: Compression::Store },
        Input { name: "notes.txt", entry: "notes.txt", content: text(300_000), compression: Compression::Deflate },
        Input { name: "notes.txt", entry: "notes (2).txt", content: text(1_000), compression: Compression::Deflate },
        Input {
            name: "../../etc/passwd",
            entry: "passwd",
            content: b"root:x:0:0:root:/root:/bin/bash\n".to_vec(),
            compression: Compression::Deflate,
        },
        Input { name: "photo.jpg", entry: "photo.jpg", content: jpg, compression: Compression::Store },
        Input { name: "bundle.zip", entry: "bundle.zip", content: zip, compression: Compression::Store },
    ]
}

/// Seals through the streaming `sealer` resource (1 MiB chunks), as the CLI does.
async fn seal_streaming(inputs: &[Input], password: &str) -> Vec<u8> {
    let lib = library();
    let mut sealer = lib.sealer("Unterlagen", password, MODIFIED).await.expect("sandbox").expect("sealer");
    assert_eq!(sealer.archive_name().await.unwrap(), "Unterlagen.zip");
    let mut archive = Vec::new();
    for input in inputs {
        let entry_name = sealer.begin_file(input.name).await.unwrap().unwrap();
        assert_eq!(entry_name, input.entry);
        for chunk in input.content.chunks(1 << 20) {
            sealer.write(chunk).await.unwrap().unwrap();
        }
        let (entry, bytes) = sealer.end_file().await.unwrap().unwrap();
        assert_eq!(entry.name, input.entry);
        assert_eq!(entry.size, input.content.len() as u64);
        assert_eq!(entry.compression, input.compression, "{}", input.entry);
        archive.extend(bytes);
    }
    archive.extend(sealer.finish().await.unwrap().unwrap());
    archive
}

fn assert_extracted(dir: &Path, inputs: &[Input], tool: &str) {
    for input in inputs {
        let path = dir.join(input.entry);
        let got = std::fs::read(&path).unwrap_or_else(|e| panic!("{tool}: {} not extracted: {e}", input.entry));
        assert!(
            got == input.content,
            "{tool}: {} differs ({} vs {} bytes)",
            input.entry,
            got.len(),
            input.content.len()
        );
    }
    let count = std::fs::read_dir(dir).unwrap().count();
    assert_eq!(count, inputs.len(), "{tool}: unexpected extra files");
}

fn bsdtar(archive: &Path, password: &str, out: &Path) -> std::process::Output {
    Command::new("bsdtar")
        .env("LC_ALL", "C.UTF-8")
        .args(["-x", "--passphrase", password, "-f"])
        .arg(archive)
        .arg("-C")
        .arg(out)
        .output()
        .expect("bsdtar runs")
}

const PYZIPPER: &str = r#"
import sys, os, pyzipper
archive, password, out = sys.argv[1], sys.argv[2].encode(), sys.argv[3]
with pyzipper.AESZipFile(archive) as z:
    z.setpassword(password)
    for info in z.infolist():
        if info.wz_aes_version != 2 or info.wz_aes_strength != 3:
            sys.exit("entry %s is not WinZip AES-256 AE-2" % info.filename)
        with open(os.path.join(out, info.filename), "wb") as f:
            f.write(z.read(info))
"#;

fn pyzipper(archive: &Path, password: &str, out: &Path) -> std::process::Output {
    Command::new("python3").args(["-c", PYZIPPER]).arg(archive).arg(password).arg(out).output().expect("python3 runs")
}

#[tokio::test]
async fn third_party_tools_extract_component_archives_byte_identically() {
    for tool in ["7z", "bsdtar", "python3"] {
        require_tool(tool);
    }
    let inputs = inputs();
    let password = library().generate_password(sealmail_sandbox::library::Strength::VeryHigh).await.unwrap();
    let archive = seal_streaming(&inputs, &password).await;
    let dir = tempfile::tempdir().unwrap();
    let zip = dir.path().join("Unterlagen.zip");
    std::fs::write(&zip, &archive).unwrap();

    type Extract = fn(&Path, &str, &Path) -> std::process::Output;
    for (tool, extract) in [("7z", sevenzip_extract as Extract), ("bsdtar", bsdtar), ("pyzipper", pyzipper)] {
        let out = dir.path().join(format!("out-{tool}"));
        std::fs::create_dir(&out).unwrap();
        let o = extract(&zip, &password, &out);
        assert!(
            o.status.success(),
            "{tool} failed: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        assert_extracted(&out, &inputs, tool);

        // A wrong password must fail. (bsdtar may still create empty files; what matters is
        // that it reports failure and writes none of the content.)
        let wrong = dir.path().join(format!("wrong-{tool}"));
        std::fs::create_dir(&wrong).unwrap();
        let o = extract(&zip, "Wrong-Passw0rd", &wrong);
        assert!(!o.status.success(), "{tool} accepted a wrong password");
        for input in inputs.iter().filter(|i| !i.content.is_empty()) {
            let got = std::fs::read(wrong.join(input.entry)).unwrap_or_default();
            assert!(got != input.content, "{tool} extracted {} with a wrong password", input.entry);
        }
    }

    check_headers(&archive, &inputs);
}

#[tokio::test]
async fn one_shot_seal_matches_the_streaming_layout() {
    require_tool("7z");
    let files = vec![
        File { name: "a.txt".into(), content: text(5_000) },
        File { name: "A.TXT".into(), content: b"second".to_vec() },
    ];
    let sealed = library().seal("bundle", &files, "Pw-23456789", MODIFIED).await.unwrap().unwrap();
    assert_eq!(sealed.name, "bundle.zip");
    let names: Vec<_> = sealed.entries.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["a.txt", "A (2).TXT"], "duplicates are found case-insensitively");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("b.zip"), &sealed.bytes).unwrap();
    let out = dir.path().join("out");
    let o = sevenzip_extract(&dir.path().join("b.zip"), "Pw-23456789", &out);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
    assert_eq!(std::fs::read(out.join("A (2).TXT")).unwrap(), b"second");
}

#[tokio::test]
async fn sealing_errors_are_variants_not_traps() {
    use sealmail_sandbox::library::SealError;
    let lib = library();
    let file = vec![File { name: "a".into(), content: b"x".to_vec() }];
    assert!(matches!(lib.seal("x", &file, "", MODIFIED).await.unwrap(), Err(SealError::InvalidPassword)));
    assert!(matches!(lib.seal("x", &[], "pw", MODIFIED).await.unwrap(), Err(SealError::NoFiles)));
    let feb30 = Timestamp { month: 2, day: 30, ..MODIFIED };
    assert!(matches!(lib.seal("x", &file, "pw", feb30).await.unwrap(), Err(SealError::InvalidTimestamp(_))));
    let mut sealer = lib.sealer("x", "pw", MODIFIED).await.unwrap().unwrap();
    assert!(matches!(sealer.write(b"no file open").await.unwrap(), Err(SealError::OutOfOrder(_))));
    assert!(matches!(sealer.end_file().await.unwrap(), Err(SealError::OutOfOrder(_))));
    assert!(matches!(sealer.finish().await.unwrap(), Err(SealError::NoFiles)));
}

// ---- An independent reading of the archive format (APPNOTE.TXT 4.3, WinZip AE-2). ----

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}
fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Checks one 0x9901 extra field: data size 7, vendor version 2 (AE-2), vendor "AE",
/// strength 3 (AES-256), and the real method.
fn check_aes_extra(extra: &[u8], expected_method: u16, what: &str) {
    let mut at = 0;
    while at + 4 <= extra.len() {
        let (id, size) = (u16_at(extra, at), u16_at(extra, at + 2) as usize);
        if id == 0x9901 {
            assert_eq!(size, 7, "{what}: AES extra size");
            let d = &extra[at + 4..at + 4 + size];
            assert_eq!(u16_at(d, 0), 2, "{what}: vendor version must be AE-2");
            assert_eq!(&d[2..4], b"AE", "{what}: vendor id");
            assert_eq!(d[4], 3, "{what}: strength must be 3 (AES-256)");
            assert_eq!(u16_at(d, 5), expected_method, "{what}: actual compression method");
            return;
        }
        at += 4 + size;
    }
    panic!("{what}: no 0x9901 extra field");
}

fn check_headers(zip: &[u8], inputs: &[Input]) {
    let method = |i: &Input| if i.compression == Compression::Deflate { 8 } else { 0 };
    // Local headers, in order.
    let mut at = 0;
    for input in inputs {
        assert_eq!(u32_at(zip, at), 0x0403_4b50, "local header signature for {}", input.entry);
        let flags = u16_at(zip, at + 6);
        assert_eq!(flags & 1, 1, "{}: encrypted flag", input.entry);
        assert_eq!(flags & (1 << 11), 1 << 11, "{}: UTF-8 name flag", input.entry);
        assert_eq!(flags & (1 << 3), 0, "{}: no data descriptor", input.entry);
        assert_eq!(u16_at(zip, at + 8), 99, "{}: method must be 99 (AES)", input.entry);
        assert_eq!(u32_at(zip, at + 14), 0, "{}: AE-2 stores no CRC", input.entry);
        let compressed = u32_at(zip, at + 18) as usize;
        assert_eq!(u32_at(zip, at + 22) as usize, input.content.len(), "{}: uncompressed size", input.entry);
        let (name_len, extra_len) = (u16_at(zip, at + 26) as usize, u16_at(zip, at + 28) as usize);
        let name = std::str::from_utf8(&zip[at + 30..at + 30 + name_len]).expect("UTF-8 name");
        assert_eq!(name, input.entry);
        check_aes_extra(
            &zip[at + 30 + name_len..at + 30 + name_len + extra_len],
            method(input),
            &format!("local {name}"),
        );
        // Salt (16 for AES-256) + verifier (2) + data + authentication code (10).
        assert!(compressed >= 28, "{name}: too small for AES-256 framing");
        at += 30 + name_len + extra_len + compressed;
    }
    // Central directory.
    let eocd = zip.len() - 22;
    assert_eq!(u32_at(zip, eocd), 0x0605_4b50, "end of central directory");
    assert_eq!(u16_at(zip, eocd + 10) as usize, inputs.len(), "entry count");
    let mut at = u32_at(zip, eocd + 16) as usize;
    for input in inputs {
        assert_eq!(u32_at(zip, at), 0x0201_4b50, "central header for {}", input.entry);
        let flags = u16_at(zip, at + 8);
        assert_eq!(flags & 0x0801, 0x0801, "{}: central flags", input.entry);
        assert_eq!(u16_at(zip, at + 10), 99, "{}: central method", input.entry);
        assert_eq!(u32_at(zip, at + 16), 0, "{}: central CRC", input.entry);
        let (name_len, extra_len, comment_len) =
            (u16_at(zip, at + 28) as usize, u16_at(zip, at + 30) as usize, u16_at(zip, at + 32) as usize);
        check_aes_extra(
            &zip[at + 46 + name_len..at + 46 + name_len + extra_len],
            method(input),
            &format!("central {}", input.entry),
        );
        at += 46 + name_len + extra_len + comment_len;
    }
}
