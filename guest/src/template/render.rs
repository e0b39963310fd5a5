//! Renders a parsed template against one recipient block's personalization, escaping for
//! HTML when asked. Recursion depth is bounded by the parser's nesting limit.

use super::error::RenderError;
use super::tree::Node;

/// How interpolated values are escaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Escape {
    /// Every interpolation is HTML-escaped: HTML bodies.
    Html,
    /// Values are inserted as given, except `?html`: subjects and plain-text bodies.
    None,
}

/// Appends the output of `nodes` to `out`.
pub(super) fn render<'v>(
    nodes: &[Node],
    vars: &impl Fn(&str) -> Option<&'v str>,
    escape: Escape,
    out: &mut String,
) -> Result<(), RenderError> {
    for node in nodes {
        match node {
            Node::Text(text) => out.push_str(text),
            Node::Interpolation(i) => {
                let value = match (vars(&i.name), &i.default) {
                    (Some(value), _) => value,
                    (None, Some(default)) => default.as_str(),
                    (None, None) => {
                        return Err(RenderError::MissingVariable {
                            name: i.name.clone(),
                            line: i.at.line,
                            column: i.at.column,
                        });
                    }
                };
                // One escaping at most: `?html` in an auto-escaped HTML body is redundant,
                // not a second pass (FreeMarker would double-escape or refuse it there).
                if i.html || escape == Escape::Html {
                    escape_html(value, out);
                } else {
                    out.push_str(value);
                }
            }
            Node::If { branches, otherwise } => {
                let chosen = branches.iter().find(|b| vars(&b.variable).is_some()).map_or(otherwise, |b| &b.body);
                render(chosen, vars, escape, out)?;
            }
        }
    }
    Ok(())
}

/// The length in bytes of what [`render`] would append, without building it. A template
/// that repeats a large value (`${v}` a hundred thousand times, `v` 200 KB) would render to
/// gigabytes; size checks must not build that to find out. The escaped length of each
/// variable is computed once (`cache`), so the cost is that of the template plus its values.
pub(super) fn rendered_len<'t, 'v>(
    nodes: &'t [Node],
    vars: &impl Fn(&str) -> Option<&'v str>,
    escape: Escape,
    cache: &mut std::collections::HashMap<(&'t str, bool), Option<u64>>,
) -> Result<u64, RenderError> {
    let mut len = 0u64;
    for node in nodes {
        len = len.saturating_add(match node {
            Node::Text(text) => text.len() as u64,
            Node::Interpolation(i) => {
                let html = i.html || escape == Escape::Html;
                // One look-up per node: the value's length, or `None` for a name without a
                // value (whose default, if any, belongs to this occurrence).
                let cached = *cache.entry((i.name.as_str(), html)).or_insert_with(|| {
                    vars(&i.name).map(|value| if html { escaped_html_len(value) } else { value.len() as u64 })
                });
                match (cached, &i.default) {
                    (Some(n), _) => n,
                    (None, Some(default)) if html => escaped_html_len(default),
                    (None, Some(default)) => default.len() as u64,
                    (None, None) => {
                        return Err(RenderError::MissingVariable {
                            name: i.name.clone(),
                            line: i.at.line,
                            column: i.at.column,
                        });
                    }
                }
            }
            Node::If { branches, otherwise } => {
                let chosen = branches.iter().find(|b| vars(&b.variable).is_some()).map_or(otherwise, |b| &b.body);
                rendered_len(chosen, vars, escape, cache)?
            }
        });
    }
    Ok(len)
}

/// The length of [`escape_html`]'s output for `value`.
fn escaped_html_len(value: &str) -> u64 {
    value
        .bytes()
        .map(|b| match b {
            b'<' | b'>' => 4,
            b'&' | b'\'' => 5,
            b'"' => 6,
            _ => 1,
        })
        .sum()
}

/// FreeMarker's `?html` (and its HTML output format): `<`, `>`, `&`, `"` and `'`.
pub(super) fn escape_html(value: &str, out: &mut String) {
    for c in value.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_the_five_characters_and_nothing_else() {
        let mut out = String::new();
        escape_html(r#"<a href="x">Tom & Jerry's</a> ü €"#, &mut out);
        assert_eq!(out, "&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&#39;s&lt;/a&gt; ü €");
        assert_eq!(escaped_html_len(r#"<a href="x">Tom & Jerry's</a> ü €"#), out.len() as u64);
    }
}
