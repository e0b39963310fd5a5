//! The syntax tree the parser builds and the renderer walks: text, interpolations and
//! `<#if>` branches, each interpolation with its source position.
//!
//! Plain data: it must never hold behaviour beyond what the parser and renderer share.

/// A 1-based position in a template source; columns count characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// 1-based line.
    pub line: u32,
    /// 1-based column, in characters (Unicode scalar values).
    pub column: u32,
}

/// `${…}`
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Interpolation {
    pub(super) name: String,
    pub(super) default: Option<String>,
    pub(super) html: bool,
    pub(super) at: Position,
}

/// One `<#if name??>` or `<#elseif name??>` branch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Branch {
    pub(super) variable: String,
    pub(super) body: Vec<Node>,
}

/// One piece of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Node {
    Text(String),
    Interpolation(Interpolation),
    /// The first branch whose variable is present renders, else `otherwise` (empty without
    /// `<#else>`).
    If {
        branches: Vec<Branch>,
        otherwise: Vec<Node>,
    },
}
