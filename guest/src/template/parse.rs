//! Builds the template tree from the tokens: pairs `<#if>`/`<#elseif>`/`<#else>`/`</#if>`
//! (refusing strays and unclosed ones), applies FreeMarker's white-space stripping and
//! bounds the nesting depth. Uses an explicit stack, so hostile nesting cannot overflow the
//! guest's stack.

use super::error::TemplateError;
use super::lexer::Token;
use super::tree::{Branch, Node, Position};

/// The deepest `<#if>` nesting accepted; real mail templates nest two or three levels, and
/// rendering recurses once per level.
pub(super) const MAX_NESTING: usize = 32;

/// An `<#if>` whose `</#if>` has not been seen yet.
struct OpenIf {
    at: Position,
    branches: Vec<Branch>,
    /// The condition of the branch being read; `None` once inside `<#else>`.
    variable: Option<String>,
    body: Vec<Node>,
}

/// Builds the tree of `tokens` (already tokenized from one source).
pub(super) fn parse(tokens: Vec<Token>) -> Result<Vec<Node>, TemplateError> {
    let mut root = Vec::new();
    let mut open: Vec<OpenIf> = Vec::new();
    for token in strip_whitespace(tokens) {
        match token {
            Token::Text(text) => push(&mut root, &mut open, Node::Text(text)),
            Token::Interpolation(i) => push(&mut root, &mut open, Node::Interpolation(i)),
            Token::Comment => {}
            Token::If { variable, at } => {
                if open.len() >= MAX_NESTING {
                    return Err(TemplateError::new(
                        at,
                        "<#if>",
                        format!("`<#if>` is nested deeper than {MAX_NESTING} levels"),
                    ));
                }
                open.push(OpenIf { at, branches: Vec::new(), variable: Some(variable), body: Vec::new() });
            }
            Token::ElseIf { variable, at } => {
                let Some(top) = open.last_mut() else {
                    return Err(TemplateError::new(at, "<#elseif>", "`<#elseif>` without an open `<#if>`"));
                };
                let Some(previous) = top.variable.replace(variable) else {
                    return Err(TemplateError::new(at, "<#elseif>", "`<#elseif>` after `<#else>`"));
                };
                let body = std::mem::take(&mut top.body);
                top.branches.push(Branch { variable: previous, body });
            }
            Token::Else { at } => {
                let Some(top) = open.last_mut() else {
                    return Err(TemplateError::new(at, "<#else>", "`<#else>` without an open `<#if>`"));
                };
                let Some(previous) = top.variable.take() else {
                    return Err(TemplateError::new(at, "<#else>", "a second `<#else>` in the same `<#if>`"));
                };
                let body = std::mem::take(&mut top.body);
                top.branches.push(Branch { variable: previous, body });
            }
            Token::EndIf { at } => {
                let Some(mut closed) = open.pop() else {
                    return Err(TemplateError::new(at, "</#if>", "`</#if>` without an open `<#if>`"));
                };
                let otherwise = match closed.variable {
                    Some(variable) => {
                        closed.branches.push(Branch { variable, body: closed.body });
                        Vec::new()
                    }
                    None => closed.body,
                };
                push(&mut root, &mut open, Node::If { branches: closed.branches, otherwise });
            }
        }
    }
    match open.last() {
        Some(unclosed) => Err(TemplateError::new(unclosed.at, "<#if>", "`<#if>` is never closed with `</#if>`")),
        None => Ok(root),
    }
}

fn push(root: &mut Vec<Node>, open: &mut [OpenIf], node: Node) {
    let list = match open.last_mut() {
        Some(top) => &mut top.body,
        None => root,
    };
    // Adjacent text (split for white-space stripping) is joined again.
    if let (Node::Text(new), Some(Node::Text(last))) = (&node, list.last_mut()) {
        last.push_str(new);
    } else {
        list.push(node);
    }
}

/// FreeMarker's default white-space stripping: in a line holding only FTL tags (`<#if>`,
/// `<#else>`, `</#if>`, comments) and white-space, the white-space including the line break
/// is dropped. A line with an interpolation or other text is kept as written. A tag that
/// spans lines (a multi-line comment) joins those lines into one for this rule.
fn strip_whitespace(tokens: Vec<Token>) -> Vec<Token> {
    let mut out = Vec::with_capacity(tokens.len());
    let mut line: Vec<Token> = Vec::new();
    for token in tokens {
        match token {
            Token::Text(text) => {
                for piece in text.split_inclusive('\n') {
                    line.push(Token::Text(piece.to_owned()));
                    if piece.ends_with('\n') {
                        flush_line(&mut line, &mut out);
                    }
                }
            }
            other => line.push(other),
        }
    }
    flush_line(&mut line, &mut out);
    out
}

fn flush_line(line: &mut Vec<Token>, out: &mut Vec<Token>) {
    let has_tag = line.iter().any(|t| !matches!(t, Token::Text(_) | Token::Interpolation(_)));
    let tags_only = line.iter().all(|t| match t {
        Token::Text(s) => s.chars().all(char::is_whitespace),
        Token::Interpolation(_) => false,
        _ => true,
    });
    if has_tag && tags_only {
        out.extend(line.drain(..).filter(|t| !matches!(t, Token::Text(_))));
    } else {
        out.append(line);
    }
}
