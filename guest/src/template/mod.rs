//! Retarus templates: the safe, common subset of Apache FreeMarker that `subject.template`,
//! `body.template` and `alternative.template` are written in, parsed once at validation and
//! rendered per recipient block with its flat `personalization` map.
//!
//! Pure Rust, no I/O, and it never panics on any input: a template outside the subset is a
//! [`TemplateError`] naming the construct and its 1-based line:column (columns in
//! characters, not bytes).
//!
//! # The subset
//!
//! - **Interpolations**: `${name}`, `${name!"default"}` (or `'default'`), `${name!}` (empty
//!   default), `${(name)}`, `${(name)!"default"}`, `${(name!"default")}`, each optionally
//!   followed by one `?html`: `${name?html}`, `${(name!"default")?html}`. White-space
//!   inside `${ … }` is allowed.
//!   - Names are FreeMarker identifiers: letters, digits, `_`, `$`, `@`, not starting with
//!     a digit; the keywords `true false gt gte lt lte as in using` are not names.
//!     Personalization is a flat map, so `${a.b}` is refused.
//!   - Defaults are string literals with FreeMarker's escapes `\" \' \\ \n \r \t \b \f \l
//!     (<) \g (>) \a (&) \{ \= \xH…` (one to four hex digits); `${…}` inside a literal is
//!     refused.
//!   - Precedence: in FreeMarker 2.3 the right side of `!` binds loosest, so
//!     `${name!"d"?html}` would escape only the default. That form is refused with a hint
//!     to write `${(name!"d")?html}`, which escapes whichever value is printed.
//! - **Escaping**: [`Escape::Html`] escapes every interpolation (`< > & " '`), as
//!   FreeMarker's HTML output format does; `?html` there is redundant and never escapes a
//!   second time. With [`Escape::None`] only `?html` interpolations are escaped.
//! - **Conditions**: `<#if name??>…</#if>`, with optional `<#elseif other??>` (also
//!   `<#elseIf>`) branches and an optional `<#else>`; nesting up to 32 levels. The only
//!   condition is the presence test `name??` (or `(name)??`); an empty string is present.
//! - **Comments**: `<#-- … -->` produce nothing.
//! - **White-space stripping** (FreeMarker's default): a line holding only `<#if>`,
//!   `<#elseif>`, `<#else>`, `</#if>` or comments and white-space disappears entirely,
//!   line break included.
//!
//! Everything else FreeMarker would interpret is refused: any other directive (`<#list>`,
//! `<#assign>`, `<#include>`, `<#import>`, `<#macro>`, `<#function>`, `<#ftl>`, …), user
//! directives `<@…>`, built-ins other than `?html` (`?upper_case`, `?string`, …),
//! expressions (operators, literals, `${a[0]}`, method calls, `??` outside `<#if>`),
//! legacy `#{…}` interpolations and the square-bracket tag syntax (`[#if …]`, `[@…]`).
//! Unclosed `${`, strings, comments and `<#if>`, and stray `<#elseif>`, `<#else>` and
//! `</#if>` are errors. Text FreeMarker leaves alone stays literal: `costs $5`, `a < b`,
//! `<# `, `50%`.
//!
//! # Required variables
//!
//! A variable is *required* when some `${name}` uses it without a default (`!`) and not
//! *guarded*. A use is guarded when it lies inside a branch of `<#if name??>` or
//! `<#elseif name??>` testing that same name, at any depth. In an `<#else>` branch the
//! tested names are known to be missing, so a bare `${name}` there is required (it could
//! only fail). Validation checks every block's personalization against
//! [`Template::required_variables`]; after that, [`Template::render`] cannot fail.

mod error;
mod lexer;
mod parse;
mod render;
mod tree;

pub use error::{RenderError, TemplateError};
pub use render::Escape;
use tree::Node;
pub use tree::Position;

/// A parsed template in the supported FreeMarker subset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    nodes: Vec<Node>,
    required: Vec<String>,
}

impl Template {
    /// Parses `source`, refusing the first construct outside the subset.
    pub fn parse(source: &str) -> Result<Self, TemplateError> {
        let nodes = parse::parse(lexer::tokenize(source)?)?;
        let mut required = Vec::new();
        // A set beside the list: a template may use a hundred thousand distinct names, and
        // a search of the list for each would be quadratic.
        collect_required(&nodes, &mut Vec::new(), &mut required, &mut std::collections::HashSet::new());
        Ok(Self { nodes, required })
    }

    /// The variables that must have a value for [`render`](Self::render) to succeed (see the
    /// module documentation for "guarded"), each once, in order of first use.
    pub fn required_variables(&self) -> impl Iterator<Item = &str> {
        self.required.iter().map(String::as_str)
    }

    /// Renders with `vars` looking up one block's personalization.
    pub fn render<'v>(&self, vars: &impl Fn(&str) -> Option<&'v str>, escape: Escape) -> Result<String, RenderError> {
        let mut out = String::new();
        render::render(&self.nodes, vars, escape, &mut out)?;
        Ok(out)
    }

    /// The length in bytes of [`render`](Self::render)'s output, computed without rendering:
    /// time and memory stay linear in the template and its values even when the output would
    /// be gigabytes (a large value repeated many times).
    pub fn rendered_len<'v>(
        &self,
        vars: &impl Fn(&str) -> Option<&'v str>,
        escape: Escape,
    ) -> Result<u64, RenderError> {
        render::rendered_len(&self.nodes, vars, escape, &mut std::collections::HashMap::new())
    }
}

fn collect_required<'t>(
    nodes: &'t [Node],
    guards: &mut Vec<&'t str>,
    required: &mut Vec<String>,
    seen: &mut std::collections::HashSet<&'t str>,
) {
    for node in nodes {
        match node {
            Node::Text(_) => {}
            Node::Interpolation(i) => {
                if i.default.is_none() && !guards.contains(&i.name.as_str()) && seen.insert(i.name.as_str()) {
                    required.push(i.name.clone());
                }
            }
            Node::If { branches, otherwise } => {
                for branch in branches {
                    guards.push(&branch.variable);
                    collect_required(&branch.body, guards, required, seen);
                    guards.pop();
                }
                collect_required(otherwise, guards, required, seen);
            }
        }
    }
}

#[cfg(test)]
mod tests;
