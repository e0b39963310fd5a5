//! What validation says about a request: problems (which refuse it) and warnings (which do
//! not), each tied to an RFC 6901 JSON Pointer so a client can find the field.

use serde::Serialize;

/// What kind of problem a request has (mirrors `problem-kind` in `wit/validation.wit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
#[expect(missing_docs, reason = "each case is documented in the WIT (`wit/validation.wit`)")]
pub enum ProblemKind {
    MalformedJson,
    NotUtf8,
    TooLarge,
    DuplicateKey,
    Missing,
    NullValue,
    EmptyValue,
    WrongType,
    TooLong,
    TooMany,
    InvalidValue,
    InvalidAddress,
    InvalidEncoding,
    HeaderInjection,
    InvalidHeaderName,
    InvalidUrl,
    Unsupported,
    RuleViolation,
}

impl ProblemKind {
    /// Every kind, in WIT order (for coverage checks of test corpora).
    pub const ALL: [ProblemKind; 18] = [
        Self::MalformedJson,
        Self::NotUtf8,
        Self::TooLarge,
        Self::DuplicateKey,
        Self::Missing,
        Self::NullValue,
        Self::EmptyValue,
        Self::WrongType,
        Self::TooLong,
        Self::TooMany,
        Self::InvalidValue,
        Self::InvalidAddress,
        Self::InvalidEncoding,
        Self::HeaderInjection,
        Self::InvalidHeaderName,
        Self::InvalidUrl,
        Self::Unsupported,
        Self::RuleViolation,
    ];
}

/// What kind of warning a request earned (mirrors `warning-kind` in the WIT).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
#[expect(missing_docs, reason = "each case is documented in the WIT (`wit/validation.wit`)")]
pub enum WarningKind {
    IgnoredKey,
    IgnoredValue,
    Alias,
}

impl WarningKind {
    /// Every kind, in WIT order.
    pub const ALL: [WarningKind; 3] = [Self::IgnoredKey, Self::IgnoredValue, Self::Alias];
}

/// One reason to refuse a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// RFC 6901 JSON Pointer (`""` = the whole request).
    pub path: String,
    /// What kind of problem.
    pub kind: ProblemKind,
    /// A sentence for people.
    pub message: String,
}

/// Something worth knowing about an accepted request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warning {
    /// RFC 6901 JSON Pointer.
    pub path: String,
    /// What kind of warning.
    pub kind: WarningKind,
    /// A sentence for people.
    pub message: String,
}

/// An RFC 6901 JSON Pointer under construction. Cheap to extend: validators hand child
/// pointers down as they descend.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pointer(String);

impl Pointer {
    /// The pointer to the whole document (`""`).
    pub fn root() -> Self {
        Self(String::new())
    }

    /// The pointer to member `key` of the object this points to (`~` and `/` escaped as
    /// `~0` and `~1`, RFC 6901 §3).
    pub fn key(&self, key: &str) -> Self {
        let mut s = String::with_capacity(self.0.len() + key.len() + 1);
        s.push_str(&self.0);
        s.push('/');
        for c in key.chars() {
            match c {
                '~' => s.push_str("~0"),
                '/' => s.push_str("~1"),
                c => s.push(c),
            }
        }
        Self(s)
    }

    /// The pointer to element `index` of the array this points to.
    pub fn index(&self, index: usize) -> Self {
        Self(format!("{}/{index}", self.0))
    }

    /// The pointer as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Pointer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Collects problems and warnings while a request is walked.
#[derive(Debug, Default)]
pub struct Report {
    problems: Vec<Problem>,
    warnings: Vec<Warning>,
    /// Problems found, including those beyond [`MAX_LISTED`].
    problem_total: usize,
    /// Warnings found, including those beyond [`MAX_LISTED`].
    warning_total: usize,
}

/// Most problems (and warnings) listed one by one. A request of a million empty recipient
/// blocks has a million problems; listing them all would only make the answer the largest
/// part of the exchange. The rest is counted in one closing entry.
pub const MAX_LISTED: usize = 1000;

impl Report {
    /// Records a problem at `path`.
    pub fn problem(&mut self, path: &Pointer, kind: ProblemKind, message: impl Into<String>) {
        self.problem_total += 1;
        if self.problems.len() < MAX_LISTED {
            self.problems.push(Problem { path: path.0.clone(), kind, message: message.into() });
        }
    }

    /// Records a warning at `path`.
    pub fn warn(&mut self, path: &Pointer, kind: WarningKind, message: impl Into<String>) {
        self.warning_total += 1;
        if self.warnings.len() < MAX_LISTED {
            self.warnings.push(Warning { path: path.0.clone(), kind, message: message.into() });
        }
    }

    /// How many problems were recorded so far.
    pub fn problem_count(&self) -> usize {
        self.problem_total
    }

    /// Whether any problem was recorded so far.
    pub fn has_problems(&self) -> bool {
        self.problem_total > 0
    }

    /// Problems and warnings, each sorted by path (array indices compared as numbers) so
    /// the order does not depend on the order in which rules happen to run. Past
    /// [`MAX_LISTED`], one last entry at the root says how many more there were.
    pub fn finish(mut self) -> (Vec<Problem>, Vec<Warning>) {
        self.problems.sort_by(|a, b| path_order(&a.path, &b.path));
        self.warnings.sort_by(|a, b| path_order(&a.path, &b.path));
        if self.problem_total > MAX_LISTED {
            let more = self.problem_total - MAX_LISTED;
            self.problems.push(Problem {
                path: String::new(),
                kind: ProblemKind::TooMany,
                message: format!("{more} more problems were found and are not listed; fix the ones above first"),
            });
        }
        if self.warning_total > MAX_LISTED {
            let more = self.warning_total - MAX_LISTED;
            self.warnings.push(Warning {
                path: String::new(),
                kind: WarningKind::IgnoredKey,
                message: format!("{more} more warnings are not listed"),
            });
        }
        (self.problems, self.warnings)
    }
}

/// Orders pointers segment by segment; all-digit segments compare numerically, so
/// `/attachments/2` sorts before `/attachments/10`. Stable sorting keeps the walk order
/// among equal paths.
fn path_order(a: &str, b: &str) -> std::cmp::Ordering {
    let mut a = a.split('/');
    let mut b = b.split('/');
    loop {
        match (a.next(), b.next()) {
            (None, None) => return std::cmp::Ordering::Equal,
            (None, Some(_)) => return std::cmp::Ordering::Less,
            (Some(_), None) => return std::cmp::Ordering::Greater,
            (Some(x), Some(y)) => {
                let numeric = |s: &str| !s.is_empty() && s.len() < 19 && s.bytes().all(|c| c.is_ascii_digit());
                let ord = if numeric(x) && numeric(y) {
                    x.parse::<u64>().unwrap_or(0).cmp(&y.parse::<u64>().unwrap_or(0))
                } else {
                    x.cmp(y)
                };
                if ord.is_ne() {
                    return ord;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointers_escape_per_rfc_6901() {
        let p = Pointer::root().key("xHeaders").key("a/b~c").index(3);
        assert_eq!(p.as_str(), "/xHeaders/a~1b~0c/3");
    }

    #[test]
    fn listing_stops_at_the_cap_and_says_how_many_more() {
        let mut r = Report::default();
        for i in 0..MAX_LISTED + 5 {
            r.problem(&Pointer::root().key("recipients").index(i), ProblemKind::EmptyValue, "x");
        }
        assert_eq!(r.problem_count(), MAX_LISTED + 5);
        let (p, _) = r.finish();
        assert_eq!(p.len(), MAX_LISTED + 1);
        let last = p.last().unwrap();
        assert_eq!((last.path.as_str(), last.kind), ("", ProblemKind::TooMany));
        assert!(last.message.starts_with("5 more problems"), "{}", last.message);
    }

    #[test]
    fn problems_sort_numerically_by_path() {
        let mut r = Report::default();
        let root = Pointer::root();
        r.problem(&root.key("recipients").index(10), ProblemKind::Missing, "x");
        r.problem(&root.key("recipients").index(2).key("mail"), ProblemKind::Missing, "x");
        r.problem(&root, ProblemKind::TooLarge, "x");
        r.problem(&root.key("attachments"), ProblemKind::WrongType, "x");
        let (p, _) = r.finish();
        let paths: Vec<_> = p.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(paths, ["", "/attachments", "/recipients/2/mail", "/recipients/10"]);
    }
}
