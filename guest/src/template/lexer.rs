//! Splits a template source into tokens: literal text, `${…}` interpolations, the `<#if>`
//! family of tags and comments. Every other FreeMarker construct is refused here, at its
//! position; text that FreeMarker would not interpret (`costs $5`, `a < b`) stays literal.
//!
//! Works on a `Vec<char>` so that columns are counted in characters. Never panics: every
//! index is checked through [`Cursor::peek`].

use super::error::TemplateError;
use super::tree::{Interpolation, Position};

/// One lexical unit of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Token {
    Text(String),
    Interpolation(Interpolation),
    /// `<#if name??>`
    If {
        variable: String,
        at: Position,
    },
    /// `<#elseif name??>`
    ElseIf {
        variable: String,
        at: Position,
    },
    /// `<#else>`
    Else {
        at: Position,
    },
    /// `</#if>`
    EndIf {
        at: Position,
    },
    /// `<#-- … -->`: produces nothing, but counts as a tag for white-space stripping.
    Comment,
}

struct Cursor {
    chars: Vec<char>,
    index: usize,
    line: u32,
    column: u32,
}

impl Cursor {
    fn peek(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.index + ahead).copied()
    }

    fn at(&self) -> Position {
        Position { line: self.line, column: self.column }
    }

    fn starts_with(&self, s: &str) -> bool {
        s.chars().enumerate().all(|(i, c)| self.peek(i) == Some(c))
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek(0)?;
        self.index += 1;
        if c == '\n' {
            self.line = self.line.saturating_add(1);
            self.column = 1;
        } else {
            self.column = self.column.saturating_add(1);
        }
        Some(c)
    }

    fn bump_n(&mut self, n: usize) {
        for _ in 0..n {
            self.bump();
        }
    }

    fn skip_whitespace(&mut self) {
        while self.peek(0).is_some_and(char::is_whitespace) {
            self.bump();
        }
    }

    /// Reads a FreeMarker identifier (letters, digits, `_`, `$`, `@`; not starting with a
    /// digit), or `None` without moving when none starts here.
    fn identifier(&mut self) -> Option<String> {
        if !self.peek(0).is_some_and(is_identifier_start) {
            return None;
        }
        let mut name = String::new();
        while let Some(c) = self.peek(0).filter(|&c| is_identifier_part(c)) {
            name.push(c);
            self.bump();
        }
        Some(name)
    }

    /// Reads a directive name (`if`, `list`, `elseIf`): letters and `_` only.
    fn directive_name(&mut self) -> String {
        let mut name = String::new();
        while let Some(c) = self.peek(0).filter(|c| c.is_alphabetic() || *c == '_') {
            name.push(c);
            self.bump();
        }
        name
    }
}

fn is_identifier_start(c: char) -> bool {
    c.is_alphabetic() || c == '_' || c == '$' || c == '@'
}

fn is_identifier_part(c: char) -> bool {
    is_identifier_start(c) || c.is_numeric()
}

/// Words that are not variable names inside a FreeMarker expression.
const RESERVED: &[&str] = &["true", "false", "gt", "gte", "lt", "lte", "as", "in", "using"];

/// Splits `source` into tokens, or refuses the first construct outside the subset.
pub(super) fn tokenize(source: &str) -> Result<Vec<Token>, TemplateError> {
    let mut c = Cursor { chars: source.chars().collect(), index: 0, line: 1, column: 1 };
    let mut tokens = Vec::new();
    let mut text = String::new();
    while let Some(ch) = c.peek(0) {
        let next = c.peek(1);
        let next2 = c.peek(2);
        let starts_name = |x: Option<char>| x.is_some_and(|x| x.is_alphabetic() || x == '_');
        let token = match (ch, next) {
            ('$', Some('{')) => Some(interpolation(&mut c)?),
            ('#', Some('{')) => {
                return Err(TemplateError::new(
                    c.at(),
                    "#{",
                    "legacy numeric interpolations `#{…}` are not supported; use `${name}`",
                ));
            }
            ('<', Some('#')) if c.starts_with("<#--") => Some(comment(&mut c)?),
            ('<', Some('#')) if starts_name(next2) => Some(directive(&mut c)?),
            ('<', Some('/')) if next2 == Some('#') && starts_name(c.peek(3)) => Some(end_directive(&mut c)?),
            ('<', Some('@')) if next2.is_some_and(is_identifier_start) => {
                return Err(user_directive(&mut c, 2, "<@"));
            }
            ('<', Some('/')) if next2 == Some('@') => return Err(user_directive(&mut c, 3, "</@")),
            ('[', Some('#')) if starts_name(next2) || c.starts_with("[#--") => {
                return Err(square_bracket(&mut c, 2, "[#"));
            }
            ('[', Some('/')) if next2 == Some('#') && starts_name(c.peek(3)) => {
                return Err(square_bracket(&mut c, 3, "[/#"));
            }
            ('[', Some('@')) if next2.is_some_and(is_identifier_start) => return Err(square_bracket(&mut c, 2, "[@")),
            _ => None,
        };
        match token {
            Some(token) => {
                if !text.is_empty() {
                    tokens.push(Token::Text(std::mem::take(&mut text)));
                }
                tokens.push(token);
            }
            None => {
                text.push(ch);
                c.bump();
            }
        }
    }
    if !text.is_empty() {
        tokens.push(Token::Text(text));
    }
    Ok(tokens)
}

fn comment(c: &mut Cursor) -> Result<Token, TemplateError> {
    let at = c.at();
    c.bump_n(4);
    while c.peek(0).is_some() {
        if c.starts_with("-->") {
            c.bump_n(3);
            return Ok(Token::Comment);
        }
        c.bump();
    }
    Err(TemplateError::new(at, "<#--", "the comment is never closed with `-->`"))
}

fn user_directive(c: &mut Cursor, prefix: usize, sigil: &str) -> TemplateError {
    let at = c.at();
    c.bump_n(prefix);
    let name = c.identifier().unwrap_or_default();
    let construct = format!("{sigil}{name}>");
    TemplateError::new(
        at,
        construct.clone(),
        format!("user-defined directives (macro calls) such as `{construct}` are not supported"),
    )
}

fn square_bracket(c: &mut Cursor, prefix: usize, sigil: &str) -> TemplateError {
    let at = c.at();
    let comment = c.starts_with("[#--");
    c.bump_n(prefix);
    let name = if comment { "--".to_owned() } else { c.directive_name() };
    let construct = format!("{sigil}{name}");
    TemplateError::new(
        at,
        construct,
        "FreeMarker's square-bracket tag syntax is not supported; use `<#if name??>` and `<#-- … -->`",
    )
}

/// `<#name …>`: only `if`, `elseif` and `else` are in the subset.
fn directive(c: &mut Cursor) -> Result<Token, TemplateError> {
    let at = c.at();
    c.bump_n(2);
    let name = c.directive_name();
    match name.as_str() {
        "if" | "elseif" | "elseIf" => {
            let variable = condition(c, at, &name)?;
            Ok(if name == "if" { Token::If { variable, at } } else { Token::ElseIf { variable, at } })
        }
        "else" => {
            c.skip_whitespace();
            if c.peek(0) == Some('/') {
                c.bump();
            }
            if c.peek(0) == Some('>') {
                c.bump();
                Ok(Token::Else { at })
            } else {
                Err(TemplateError::new(at, "<#else>", "`<#else>` takes no parameters; expected `>`"))
            }
        }
        _ => Err(TemplateError::new(
            at,
            format!("<#{name}>"),
            format!(
                "the FreeMarker directive `<#{name}>` is not supported; the subset has `<#if name??>`, \
                 `<#elseif name??>`, `<#else>`, `</#if>` and comments `<#-- … -->`"
            ),
        )),
    }
}

/// The parameter of `<#if>` / `<#elseif>`: exactly `name??` or `(name)??`, then `>`.
fn condition(c: &mut Cursor, at: Position, directive: &str) -> Result<String, TemplateError> {
    let construct = format!("<#{directive}>");
    let refuse = |found: String| {
        TemplateError::new(
            at,
            construct.clone(),
            format!(
                "the only supported condition is a presence test `<#{directive} name??>`{}",
                if found.is_empty() { String::new() } else { format!(" (found `{found}`)") }
            ),
        )
    };
    if !c.peek(0).is_some_and(char::is_whitespace) {
        return Err(refuse(String::new()));
    }
    let start = c.index;
    c.skip_whitespace();
    let parenthesized = c.peek(0) == Some('(');
    if parenthesized {
        c.bump();
        c.skip_whitespace();
    }
    let name = c.identifier();
    if parenthesized {
        c.skip_whitespace();
        if c.peek(0) == Some(')') {
            c.bump();
        } else {
            return Err(refuse(rest_of_tag(c, start)));
        }
    }
    let Some(name) = name else { return Err(refuse(rest_of_tag(c, start))) };
    if c.peek(0) == Some('.') {
        return Err(TemplateError::new(
            at,
            construct,
            format!("`{name}.…`: personalization is a flat map of names; dotted names are not supported"),
        ));
    }
    if RESERVED.contains(&name.as_str()) || !c.starts_with("??") {
        return Err(refuse(rest_of_tag(c, start)));
    }
    c.bump_n(2);
    c.skip_whitespace();
    if c.peek(0) == Some('>') {
        c.bump();
        Ok(name)
    } else {
        Err(refuse(rest_of_tag(c, start)))
    }
}

/// The condition text from `start` to the tag's `>` (for messages; at most 40 characters).
fn rest_of_tag(c: &Cursor, start: usize) -> String {
    c.chars[start.min(c.chars.len())..]
        .iter()
        .take_while(|&&ch| ch != '>')
        .take(40)
        .collect::<String>()
        .trim()
        .to_owned()
}

/// `</#name>`: only `</#if>` is in the subset.
fn end_directive(c: &mut Cursor) -> Result<Token, TemplateError> {
    let at = c.at();
    c.bump_n(3);
    let name = c.directive_name();
    if name != "if" {
        return Err(TemplateError::new(
            at,
            format!("</#{name}>"),
            format!("the FreeMarker directive `<#{name}>` is not supported; the only closing tag is `</#if>`"),
        ));
    }
    c.skip_whitespace();
    if c.peek(0) == Some('>') {
        c.bump();
        Ok(Token::EndIf { at })
    } else {
        Err(TemplateError::new(at, "</#if>", "expected `>` to close `</#if`"))
    }
}

/// `${…}`: `name`, `name!`, `name!"default"`, `(name)`, `(name)!…`, `(name!…)`, each
/// optionally followed by one `?html`.
fn interpolation(c: &mut Cursor) -> Result<Token, TemplateError> {
    let at = c.at();
    c.bump_n(2);
    c.skip_whitespace();
    let unclosed = || TemplateError::new(at, "${", "the interpolation is never closed with `}`");
    let (name, mut default, parenthesized) = if c.peek(0) == Some('(') {
        c.bump();
        c.skip_whitespace();
        let name = variable_name(c, at)?;
        c.skip_whitespace();
        let default = if c.peek(0) == Some('!') { Some(default_value(c)?) } else { None };
        c.skip_whitespace();
        match c.peek(0) {
            Some(')') => {
                c.bump();
            }
            None => return Err(unclosed()),
            Some(_) => return Err(unexpected(c, "inside `( … )` only `name` or `name!\"default\"` is supported")),
        }
        (name, default, true)
    } else {
        (variable_name(c, at)?, None, false)
    };
    c.skip_whitespace();
    let default_outside = default.is_none() && c.peek(0) == Some('!') && c.peek(1) != Some('=');
    if default_outside {
        default = Some(default_value(c)?);
        c.skip_whitespace();
    }
    let mut html = false;
    while c.peek(0) == Some('?') && c.peek(1) != Some('?') {
        let builtin_at = c.at();
        c.bump();
        let builtin = c.identifier().unwrap_or_default();
        let construct = format!("?{builtin}");
        if default_outside {
            return Err(TemplateError::new(
                builtin_at,
                construct,
                format!(
                    "after `!` FreeMarker applies `?{builtin}` to the default only; write \
                     `${{({name}!\"…\")?{builtin}}}` to apply it to the value"
                ),
            ));
        }
        if builtin != "html" {
            return Err(TemplateError::new(builtin_at, construct, "the only supported built-in is `?html`".to_owned()));
        }
        if html {
            return Err(TemplateError::new(builtin_at, construct, "`?html` is applied once at most"));
        }
        html = true;
        c.skip_whitespace();
    }
    match c.peek(0) {
        Some('}') => {
            c.bump();
            Ok(Token::Interpolation(Interpolation { name, default, html, at }))
        }
        None => Err(unclosed()),
        Some('.') if !parenthesized => Err(TemplateError::new(
            at,
            format!("{name}."),
            "personalization is a flat map of names; dotted names such as `${a.b}` are not supported",
        )),
        Some(_) => Err(unexpected(c, "only `${name}`, `${name!\"default\"}` and `?html` are supported")),
    }
}

/// The variable name starting an interpolation; anything else (literals, operators,
/// parentheses) is refused.
fn variable_name(c: &mut Cursor, at: Position) -> Result<String, TemplateError> {
    let name_at = c.at();
    match c.identifier() {
        Some(name) if RESERVED.contains(&name.as_str()) => Err(TemplateError::new(
            name_at,
            name.clone(),
            format!("`{name}` is a FreeMarker keyword, not a variable name"),
        )),
        Some(name) => Ok(name),
        None if c.peek(0).is_none() => Err(TemplateError::new(at, "${", "the interpolation is never closed with `}`")),
        None if c.peek(0) == Some('}') => Err(TemplateError::new(at, "${}", "the interpolation is empty")),
        None => Err(unexpected(c, "an interpolation must start with a variable name")),
    }
}

/// `!` and an optional string literal after it.
fn default_value(c: &mut Cursor) -> Result<String, TemplateError> {
    c.bump();
    c.skip_whitespace();
    match c.peek(0) {
        Some(q @ ('"' | '\'')) => string_literal(c, q),
        Some('}' | ')' | '?') | None => Ok(String::new()),
        Some(_) => Err(unexpected(c, "the default after `!` must be a string literal, \"…\" or '…'")),
    }
}

/// A FreeMarker string literal with its escapes; interpolations inside it are refused.
fn string_literal(c: &mut Cursor, quote: char) -> Result<String, TemplateError> {
    let at = c.at();
    c.bump();
    let mut value = String::new();
    loop {
        let here = c.at();
        let Some(ch) = c.bump() else {
            return Err(TemplateError::new(at, quote.to_string(), "the string literal is never closed"));
        };
        match ch {
            _ if ch == quote => return Ok(value),
            '$' | '#' if c.peek(0) == Some('{') => {
                return Err(TemplateError::new(
                    here,
                    format!("{ch}{{"),
                    "interpolations inside string literals are not supported",
                ));
            }
            '\\' => {
                let escaped = match c.bump() {
                    Some('"') => '"',
                    Some('\'') => '\'',
                    Some('\\') => '\\',
                    Some('n') => '\n',
                    Some('r') => '\r',
                    Some('t') => '\t',
                    Some('b') => '\u{8}',
                    Some('f') => '\u{c}',
                    Some('l') => '<',
                    Some('g') => '>',
                    Some('a') => '&',
                    Some('{') => '{',
                    Some('=') => '=',
                    Some('x') => hex_escape(c, here)?,
                    other => {
                        let shown = other.map(|o| format!("\\{o}")).unwrap_or_else(|| "\\".to_owned());
                        return Err(TemplateError::new(here, shown, "unknown escape sequence in a string literal"));
                    }
                };
                value.push(escaped);
            }
            _ => value.push(ch),
        }
    }
}

/// `\xH…`: one to four hexadecimal digits, a Unicode code point.
fn hex_escape(c: &mut Cursor, at: Position) -> Result<char, TemplateError> {
    let mut code = 0u32;
    let mut digits = 0;
    while digits < 4 {
        let Some(d) = c.peek(0).and_then(|d| d.to_digit(16)) else { break };
        code = code * 16 + d;
        digits += 1;
        c.bump();
    }
    char::from_u32(code)
        .filter(|_| digits > 0)
        .ok_or_else(|| TemplateError::new(at, "\\x", "`\\x` needs one to four hexadecimal digits of a character"))
}

/// Refuses the construct at the cursor, naming it by its first token.
fn unexpected(c: &mut Cursor, hint: &str) -> TemplateError {
    let at = c.at();
    let first = c.peek(0).unwrap_or(' ');
    let (construct, what) = if let Some(op) =
        ["==", "!=", "<=", ">=", "&&", "||", "..", "+", "-", "*", "/", "%", "=", "<", ">", "!"]
            .iter()
            .find(|op| c.starts_with(op))
    {
        ((*op).to_owned(), "expressions with operators are not supported")
    } else if first == '?' {
        ("??".to_owned(), "`??` is only supported as the condition of `<#if name??>`")
    } else if first == '[' {
        ("[".to_owned(), "indexing and sequence literals are not supported")
    } else if first == '(' {
        ("(".to_owned(), "method calls and grouped expressions are not supported")
    } else if first == '.' {
        (".".to_owned(), "personalization is a flat map of names; dotted names are not supported")
    } else if first == '"' || first == '\'' {
        (first.to_string(), "string literals are only supported as the default after `!`")
    } else if first.is_numeric() {
        (
            c.chars[c.index..].iter().take_while(|d| d.is_numeric() || **d == '.').collect(),
            "number literals are not supported",
        )
    } else {
        (first.to_string(), "this is not part of the supported subset")
    };
    TemplateError::new(at, construct, format!("{what}; {hint}"))
}
