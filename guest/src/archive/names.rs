//! Entry and archive file names: sanitizing what a sender supplied, and numbering duplicates.
//!
//! An entry name ends up as a file on the recipient's disk, written by an extraction tool we
//! do not control, so the name must be a single harmless file name on every common platform
//! (docs/secure-documents.md#the-archive): no directories (APPNOTE.TXT 4.4.17 allows paths; we never write one), no
//! `..`, no control characters, nothing Windows refuses. This module must never return a name
//! containing a path separator, nor two names of one archive that a case-insensitive file
//! system would treat as the same file.

use std::collections::{HashMap, HashSet};

/// The longest name in bytes: the limit of NTFS, ext4, APFS (in UTF-16 units or bytes, 255
/// bytes of UTF-8 satisfies all of them), well within the 16-bit name length of APPNOTE 4.4.10.
pub const MAX_NAME_BYTES: usize = 255;

/// The name given to an entry when nothing usable is left of the sender's name.
const FALLBACK_ENTRY_NAME: &str = "file";

/// The archive name used when nothing usable is left of the requested one (docs/secure-documents.md#settings).
const FALLBACK_ARCHIVE_NAME: &str = "documents.zip";

/// An extension longer than this is not treated as one when shortening a name: keeping it
/// could leave almost nothing of the stem.
const MAX_KEPT_EXTENSION_BYTES: usize = 32;

/// Turns a sender-supplied file name into a single safe file name.
///
/// Keeps the last path component (splitting on `/` and `\`, ignoring `.` and `..`), removes
/// control characters (C0, DEL, C1), Unicode direction overrides (used to disguise an
/// extension) and the characters Windows forbids (`< > : " | ? *`), trims trailing dots and
/// spaces (Windows strips them, turning `a.pdf.` into `a.pdf` on disk), prefixes Windows
/// device names (`CON`, `nul.txt`, `COM1`, …) with `_`, and shortens the result to 255 bytes
/// keeping the extension. Returns `file` when nothing usable is left.
///
/// `../../etc/passwd` becomes `passwd`.
pub fn sanitize_entry_name(name: &str) -> String {
    match sanitize(name) {
        Some(clean) => clean,
        None => FALLBACK_ENTRY_NAME.to_owned(),
    }
}

/// The file name of an archive for a `requested` name: sanitized like an entry name, `.zip`
/// appended unless it already ends in `.zip` (in any case), `documents.zip` when nothing
/// usable is left (docs/secure-documents.md#settings).
pub fn archive_file_name(requested: &str) -> String {
    let Some(clean) = sanitize(requested) else {
        return FALLBACK_ARCHIVE_NAME.to_owned();
    };
    let zip_suffix = clean.get(clean.len().saturating_sub(".zip".len())..);
    if zip_suffix.is_some_and(|suffix| suffix.eq_ignore_ascii_case(".zip")) {
        // `.zip` alone has no stem: nothing usable was requested.
        if clean.len() == ".zip".len() {
            return FALLBACK_ARCHIVE_NAME.to_owned();
        }
        return clean;
    }
    let with_extension = format!("{clean}.zip");
    let (stem, extension) = split_extension(&with_extension);
    fit_to_limit(stem, extension)
}

/// The sanitizing steps shared by entry and archive names; `None` when nothing is left.
fn sanitize(name: &str) -> Option<String> {
    let cleaned: String = name.chars().filter(|&c| !is_removed_char(c)).collect();
    // Components that are empty, `.`, `..` (or only dots and spaces, which Windows would
    // reduce to one of those) are not names; the last real component is the file's name.
    let component =
        cleaned.split(['/', '\\']).map(trim_trailing_dots_and_spaces).rfind(|component| !component.is_empty())?;
    let mut clean = component.to_owned();
    if is_windows_device_name(&clean) {
        clean.insert(0, '_');
    }
    let (stem, extension) = split_extension(&clean);
    let fitted = fit_to_limit(stem, extension);
    if fitted.is_empty() { None } else { Some(fitted) }
}

/// Characters never kept in a name.
fn is_removed_char(c: char) -> bool {
    // `char::is_control` is exactly Unicode category Cc: C0 (U+0000..U+001F), DEL and C1
    // (U+0080..U+009F).
    c.is_control()
        // Forbidden in Windows file names ("Naming Files, Paths, and Namespaces", Microsoft
        // Learn); `/` and `\` are separators and handled by the component split.
        || matches!(c, '<' | '>' | ':' | '"' | '|' | '?' | '*')
        // Bidirectional embeddings, overrides and isolates (Unicode UAX #9): the classic
        // "invoice\u{202E}fdp.exe" displays as "invoiceexe.pdf" while opening as a program.
        || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

fn trim_trailing_dots_and_spaces(component: &str) -> &str {
    component.trim_end_matches(['.', ' '])
}

/// Whether Windows treats `name` as a device: the reserved names apply to the part before
/// the first dot with trailing spaces ignored (`CON.txt`, `con .tar.gz`), in any case.
fn is_windows_device_name(name: &str) -> bool {
    const RESERVED: &[&str] = &[
        "CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$", "COM0", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6",
        "COM7", "COM8", "COM9", "COM¹", "COM²", "COM³", "LPT0", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7",
        "LPT8", "LPT9", "LPT¹", "LPT²", "LPT³",
    ];
    let base = name.split('.').next().unwrap_or(name).trim_end_matches(' ');
    RESERVED.iter().any(|reserved| reserved.eq_ignore_ascii_case(base))
}

/// Splits `name` into stem and extension (with its dot), e.g. `a.tar.gz` → (`a.tar`, `.gz`).
/// A leading dot starts a stem (`.bashrc` has no extension), and an implausibly long
/// "extension" is treated as part of the stem.
fn split_extension(name: &str) -> (&str, &str) {
    match name.rfind('.') {
        Some(dot) if dot > 0 && name.len() - dot <= MAX_KEPT_EXTENSION_BYTES => name.split_at(dot),
        _ => (name, ""),
    }
}

/// `stem` + `extension`, the stem shortened on a character boundary so that the whole is at
/// most [`MAX_NAME_BYTES`]; trailing dots and spaces a cut exposes are trimmed again.
fn fit_to_limit(stem: &str, extension: &str) -> String {
    // `split_extension` bounds the extension far below the limit.
    let budget = MAX_NAME_BYTES.saturating_sub(extension.len());
    let mut cut = stem.len().min(budget);
    while !stem.is_char_boundary(cut) {
        cut -= 1;
    }
    let was_cut = cut < stem.len();
    let stem = &stem[..cut];
    let stem = if was_cut || extension.is_empty() { trim_trailing_dots_and_spaces(stem) } else { stem };
    format!("{stem}{extension}")
}

/// The names already used in one archive, compared case-insensitively (Windows and macOS
/// file systems are case-insensitive by default, and an extraction tool would overwrite or
/// rename the second file).
#[derive(Debug, Default)]
pub(crate) struct EntryNames {
    /// Lower-cased names in use.
    used: HashSet<String>,
    /// Per lower-cased sanitized name, the next number to try, so that thousands of files
    /// with one name cost one probe each rather than a scan from 2.
    next_number: HashMap<String, u32>,
}

impl EntryNames {
    /// Sanitizes `requested` and returns a name not used before in this archive, numbering
    /// duplicates before the extension: `a.pdf`, `a (2).pdf`, `a (3).pdf`.
    pub(crate) fn claim(&mut self, requested: &str) -> String {
        let clean = sanitize_entry_name(requested);
        let key = fold_case(&clean);
        if self.used.insert(key.clone()) {
            return clean;
        }
        let (stem, extension) = split_extension(&clean);
        let mut number = self.next_number.get(&key).copied().unwrap_or(2);
        loop {
            let candidate = fit_to_limit_with_suffix(stem, &format!(" ({number})"), extension);
            number = number.saturating_add(1);
            let candidate_key = fold_case(&candidate);
            if self.used.insert(candidate_key) {
                self.next_number.insert(key, number);
                return candidate;
            }
        }
    }
}

/// `stem` + `suffix` + `extension` within [`MAX_NAME_BYTES`], shortening the stem.
fn fit_to_limit_with_suffix(stem: &str, suffix: &str, extension: &str) -> String {
    let tail = format!("{suffix}{extension}");
    fit_to_limit(stem, &tail)
}

/// The case-insensitive comparison key of a name.
fn fold_case(name: &str) -> String {
    name.to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_ordinary_names() {
        assert_eq!(sanitize_entry_name("Rechnung-Müller.pdf"), "Rechnung-Müller.pdf");
        assert_eq!(sanitize_entry_name("report 2024.tar.gz"), "report 2024.tar.gz");
        assert_eq!(sanitize_entry_name(".bashrc"), ".bashrc");
        assert_eq!(sanitize_entry_name("日本語の文書.docx"), "日本語の文書.docx");
    }

    #[test]
    fn strips_paths_and_dot_components() {
        assert_eq!(sanitize_entry_name("../../etc/passwd"), "passwd");
        assert_eq!(sanitize_entry_name("..\\..\\Windows\\win.ini"), "win.ini");
        assert_eq!(sanitize_entry_name("/abs/path/a.txt"), "a.txt");
        assert_eq!(sanitize_entry_name("C:\\Users\\x\\a.txt"), "a.txt");
        assert_eq!(sanitize_entry_name("dir/sub/"), "sub");
        assert_eq!(sanitize_entry_name("dir/.."), "dir");
        assert_eq!(sanitize_entry_name("a/./."), "a");
        assert_eq!(sanitize_entry_name(".."), "file");
        assert_eq!(sanitize_entry_name("../"), "file");
        assert_eq!(sanitize_entry_name("...."), "file");
    }

    #[test]
    fn removes_control_forbidden_and_bidi_characters() {
        assert_eq!(sanitize_entry_name("a\u{0}b\u{1f}c\u{7f}d\u{85}e.txt"), "abcde.txt");
        assert_eq!(sanitize_entry_name("new\nline\r.txt"), "newline.txt");
        assert_eq!(sanitize_entry_name("what?<now>:\"|*.txt"), "whatnow.txt");
        assert_eq!(sanitize_entry_name("invoice\u{202E}fdp.exe"), "invoicefdp.exe");
        assert_eq!(sanitize_entry_name("\u{2066}a\u{2069}.txt"), "a.txt");
        // Removing characters must not smuggle in a `..` component.
        assert_eq!(sanitize_entry_name(".\u{1}./x"), "x");
        assert_eq!(sanitize_entry_name("\u{0}\u{1}"), "file");
        assert_eq!(sanitize_entry_name(""), "file");
    }

    #[test]
    fn trims_trailing_dots_and_spaces() {
        assert_eq!(sanitize_entry_name("a.pdf. . "), "a.pdf");
        assert_eq!(sanitize_entry_name("notes   "), "notes");
        assert_eq!(sanitize_entry_name("  lead.txt"), "  lead.txt");
    }

    #[test]
    fn prefixes_windows_device_names() {
        assert_eq!(sanitize_entry_name("CON"), "_CON");
        assert_eq!(sanitize_entry_name("con.txt"), "_con.txt");
        assert_eq!(sanitize_entry_name("Nul.tar.gz"), "_Nul.tar.gz");
        assert_eq!(sanitize_entry_name("com1"), "_com1");
        assert_eq!(sanitize_entry_name("LPT9.log"), "_LPT9.log");
        assert_eq!(sanitize_entry_name("aux .txt"), "_aux .txt");
        assert_eq!(sanitize_entry_name("COM¹"), "_COM¹");
        assert_eq!(sanitize_entry_name("dir/prn"), "_prn");
        // Not device names.
        assert_eq!(sanitize_entry_name("console.txt"), "console.txt");
        assert_eq!(sanitize_entry_name("COM10"), "COM10");
        assert_eq!(sanitize_entry_name("my.con"), "my.con");
    }

    #[test]
    fn caps_length_keeping_extension_on_char_boundary() {
        let long = format!("{}.pdf", "ü".repeat(200)); // 400 bytes of stem
        let capped = sanitize_entry_name(&long);
        assert!(capped.len() <= MAX_NAME_BYTES, "{} bytes", capped.len());
        assert!(capped.ends_with(".pdf"));
        assert_eq!(capped, format!("{}.pdf", "ü".repeat(125)));

        let no_extension = "x".repeat(300);
        assert_eq!(sanitize_entry_name(&no_extension), "x".repeat(255));

        // A cut that exposes trailing spaces trims them (Windows would).
        let spaced = format!("{}{}", "y".repeat(250), " ".repeat(20));
        let spaced = format!("{spaced}z");
        assert_eq!(sanitize_entry_name(&spaced), "y".repeat(250));
    }

    #[test]
    fn archive_names() {
        assert_eq!(archive_file_name("documents"), "documents.zip");
        assert_eq!(archive_file_name("Rechnung.ZIP"), "Rechnung.ZIP");
        assert_eq!(archive_file_name("Rechnung.zip"), "Rechnung.zip");
        assert_eq!(archive_file_name("offer.pdf"), "offer.pdf.zip");
        assert_eq!(archive_file_name("../../x/secret"), "secret.zip");
        assert_eq!(archive_file_name("con"), "_con.zip");
        assert_eq!(archive_file_name(""), "documents.zip");
        assert_eq!(archive_file_name("../.."), "documents.zip");
        assert_eq!(archive_file_name("<>|"), "documents.zip");
        assert_eq!(archive_file_name(".zip"), "documents.zip");
        assert_eq!(archive_file_name("zip"), "zip.zip");
        let long = archive_file_name(&"a".repeat(300));
        assert_eq!(long, format!("{}.zip", "a".repeat(251)));
    }

    #[test]
    fn numbers_duplicates_case_insensitively() {
        let mut names = EntryNames::default();
        assert_eq!(names.claim("a.pdf"), "a.pdf");
        assert_eq!(names.claim("A.PDF"), "A (2).PDF");
        assert_eq!(names.claim("dir/a.pdf"), "a (3).pdf");
        assert_eq!(names.claim("b"), "b");
        assert_eq!(names.claim("b"), "b (2)");
        assert_eq!(names.claim("../x/a.pdf"), "a (4).pdf");
    }

    #[test]
    fn numbering_skips_names_already_taken() {
        let mut names = EntryNames::default();
        assert_eq!(names.claim("a (2).pdf"), "a (2).pdf");
        assert_eq!(names.claim("a.pdf"), "a.pdf");
        assert_eq!(names.claim("a.pdf"), "a (3).pdf");
        assert_eq!(names.claim("a (3).pdf"), "a (3) (2).pdf");
    }

    #[test]
    fn numbered_long_names_stay_within_limit() {
        let mut names = EntryNames::default();
        let long = format!("{}.txt", "n".repeat(300));
        let first = names.claim(&long);
        let second = names.claim(&long);
        assert_eq!(first.len(), MAX_NAME_BYTES);
        assert_eq!(second.len(), MAX_NAME_BYTES);
        assert!(second.ends_with(" (2).txt"), "{second}");
        assert_ne!(first, second);
    }

    #[test]
    fn many_duplicates_are_all_distinct() {
        let mut names = EntryNames::default();
        let mut seen = HashSet::new();
        for _ in 0..2000 {
            assert!(seen.insert(names.claim("same.txt").to_lowercase()));
        }
        assert!(seen.contains("same (2000).txt"));
    }
}
