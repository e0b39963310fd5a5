//! The two ways a template can fail: refused when parsed ([`TemplateError`], with the
//! construct and its 1-based line:column) and failed when rendered ([`RenderError`]).
//! Both are plain data; nothing here formats for a particular caller.

use super::tree::Position;

/// A template was refused: a FreeMarker construct outside the supported subset, or malformed
/// syntax. `Display` reads as one sentence, e.g.
/// ``line 3, column 7: `<#list>`: the FreeMarker directive `<#list>` is not supported …``.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: `{construct}`: {message}")]
pub struct TemplateError {
    /// 1-based line of the construct's first character.
    pub line: u32,
    /// 1-based column of the construct's first character, counted in characters (Unicode
    /// scalar values), not bytes.
    pub column: u32,
    /// The construct as the author would recognise it: `<#list>`, `?upper_case`, `${`, `+`.
    pub construct: String,
    /// What is wrong, in words, and where useful what to write instead.
    pub message: String,
}

impl TemplateError {
    pub(crate) fn new(at: Position, construct: impl Into<String>, message: impl Into<String>) -> Self {
        Self { line: at.line, column: at.column, construct: construct.into(), message: message.into() }
    }
}

/// Rendering failed. After validation (every block's personalization holds every
/// [`required variable`](super::Template::required_variables)) this cannot happen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    /// `${name}` without a default, outside an `<#if name??>` guard, and `name` has no value.
    #[error("line {line}, column {column}: the variable `{name}` has no value and no default")]
    MissingVariable {
        /// The variable's name.
        name: String,
        /// 1-based line of the interpolation.
        line: u32,
        /// 1-based column of the interpolation, in characters.
        column: u32,
    },
}
