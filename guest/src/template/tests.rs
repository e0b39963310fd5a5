//! The subset end to end: every accepted construct, every refusal with its exact
//! line:column, escaping, nesting, white-space stripping, and a generated-input test that
//! parsing never panics.

use super::*;

fn render_with(source: &str, vars: &[(&str, &str)], escape: Escape) -> String {
    let template = Template::parse(source).unwrap_or_else(|e| panic!("{source:?} refused: {e}"));
    let lookup = |name: &str| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| *v);
    template.render(&lookup, escape).unwrap_or_else(|e| panic!("{source:?} failed: {e}"))
}

fn text(source: &str, vars: &[(&str, &str)]) -> String {
    render_with(source, vars, Escape::None)
}

fn html(source: &str, vars: &[(&str, &str)]) -> String {
    render_with(source, vars, Escape::Html)
}

/// `(line, column, construct)` of the refusal.
fn refused(source: &str) -> (u32, u32, String) {
    match Template::parse(source) {
        Ok(t) => panic!("{source:?} was accepted: {t:?}"),
        Err(e) => {
            assert!(!e.message.is_empty());
            (e.line, e.column, e.construct)
        }
    }
}

fn required(source: &str) -> Vec<String> {
    Template::parse(source).unwrap().required_variables().map(str::to_owned).collect()
}

#[test]
fn interpolations_and_defaults() {
    let vars = [("name", "Ana"), ("empty", "")];
    assert_eq!(text("Hello ${name}!", &vars), "Hello Ana!");
    assert_eq!(text("${ name }", &vars), "Ana");
    assert_eq!(text(r#"${missing!"you"} ${name!"you"}"#, &vars), "you Ana");
    assert_eq!(text("${missing!'single'}", &vars), "single");
    assert_eq!(text("[${missing!}]", &vars), "[]");
    assert_eq!(text("[${missing! }]", &vars), "[]");
    assert_eq!(text("[${empty!\"d\"}]", &vars), "[]", "an empty string is a value");
    assert_eq!(text(r#"${(missing)!"p"} ${(missing!"q")} ${(name)}"#, &vars), "p q Ana");
    assert_eq!(
        text("${$x} ${@y} ${_z9} ${Größe}", &[("$x", "1"), ("@y", "2"), ("_z9", "3"), ("Größe", "4")]),
        "1 2 3 4"
    );
}

#[test]
fn string_literal_escapes() {
    assert_eq!(text(r#"${x!"a\"b\\c\nd\te"}"#, &[]), "a\"b\\c\nd\te");
    assert_eq!(text(r#"${x!'it\'s'}"#, &[]), "it's");
    assert_eq!(text(r#"${x!"\l\g\a\{\="}"#, &[]), "<>&{=");
    assert_eq!(text(r#"${x!"\x41\x20AC"}"#, &[]), "A\u{20AC}");
    assert_eq!(text(r#"${x!"}"}"#, &[]), "}", "a brace inside the literal does not close");
    assert_eq!(text(r#"${x!"$5 and #1"}"#, &[]), "$5 and #1");
}

#[test]
fn html_escaping() {
    let vars = [("v", r#"<b>"Tom" & 'Jerry'</b>"#)];
    let escaped = "&lt;b&gt;&quot;Tom&quot; &amp; &#39;Jerry&#39;&lt;/b&gt;";
    assert_eq!(text("${v?html}", &vars), escaped);
    assert_eq!(text("${v}", &vars), vars[0].1, "no escaping outside HTML unless asked");
    assert_eq!(html("<p>${v}</p>", &vars), format!("<p>{escaped}</p>"));
    assert_eq!(html("${v?html}", &vars), escaped, "?html in an HTML body does not escape twice");
    assert_eq!(html(r#"${x!"<&>"}"#, &[]), "&lt;&amp;&gt;", "defaults are escaped too");
    assert_eq!(text(r#"${(x!"<")?html} ${(v!"<")?html}"#, &[("v", ">")]), "&lt; &gt;");
    assert_eq!(text("${ v ?html }", &[("v", "&")]), "&amp;");
    assert_eq!(
        html("<a href=\"x\">literal & text</a>", &[]),
        "<a href=\"x\">literal & text</a>",
        "text is not escaped"
    );
}

#[test]
fn conditions() {
    let src = "<#if name??>Hi ${name}<#else>Hi there</#if>";
    assert_eq!(text(src, &[("name", "Ana")]), "Hi Ana");
    assert_eq!(text(src, &[]), "Hi there");
    assert_eq!(text("a<#if x??>X</#if>b", &[]), "ab");
    assert_eq!(text("a<#if x??>X</#if>b", &[("x", "")]), "aXb");
    assert_eq!(text("<#if (x)?? >X</#if >", &[("x", "1")]), "X");
    let chain = "<#if a??>A<#elseif b??>B<#elseIf c??>C<#else>none</#if>";
    assert_eq!(text(chain, &[("a", "1"), ("b", "1")]), "A");
    assert_eq!(text(chain, &[("b", "1"), ("c", "1")]), "B");
    assert_eq!(text(chain, &[("c", "1")]), "C");
    assert_eq!(text(chain, &[]), "none");
    assert_eq!(text("<#if a??>A<#elseif b??>B</#if>", &[]), "");
    assert_eq!(text("<#if a??>A<#else/>E</#if>", &[]), "E");
}

#[test]
fn nesting() {
    let src = "<#if a??>[${a}<#if b??>(${b})<#else>(no b)</#if>]<#else><#if b??>only ${b}</#if></#if>";
    assert_eq!(text(src, &[("a", "1"), ("b", "2")]), "[1(2)]");
    assert_eq!(text(src, &[("a", "1")]), "[1(no b)]");
    assert_eq!(text(src, &[("b", "2")]), "only 2");
    assert_eq!(text(src, &[]), "");
    let deep = format!("{}x{}", "<#if a??>".repeat(parse::MAX_NESTING), "</#if>".repeat(parse::MAX_NESTING));
    assert_eq!(text(&deep, &[("a", "")]), "x");
    let too_deep =
        format!("{}x{}", "<#if a??>".repeat(parse::MAX_NESTING + 1), "</#if>".repeat(parse::MAX_NESTING + 1));
    let column = u32::try_from(parse::MAX_NESTING * "<#if a??>".len() + 1).unwrap();
    assert_eq!(refused(&too_deep), (1, column, "<#if>".to_owned()));
}

#[test]
fn comments_produce_nothing() {
    assert_eq!(text("a<#-- ${x} <#list> -->b", &[]), "ab");
    assert_eq!(text("a<#-- multi\nline -->b", &[]), "ab");
}

#[test]
fn whitespace_stripping_of_tag_only_lines() {
    let src = "Dear customer,\n<#if name??>\n  Hello ${name},\n<#else>\n  Hello,\n</#if>\n<#-- a note -->\nBye\n";
    assert_eq!(text(src, &[("name", "Ana")]), "Dear customer,\n  Hello Ana,\nBye\n");
    assert_eq!(text(src, &[]), "Dear customer,\n  Hello,\nBye\n");
    // A line with text or an interpolation beside the tag keeps its white-space.
    assert_eq!(text("x <#if a??>y</#if> \nz", &[("a", "")]), "x y \nz");
    assert_eq!(text("  <#if a??>\r\n${a}\r\n</#if>\r\n", &[("a", "v")]), "v\r\n");
}

#[test]
fn plain_text_stays_literal() {
    for s in [
        "costs $5",
        "a < b and c > d",
        "$ {x} $$ {",
        "<# not a tag",
        "<#5>",
        "</# x>",
        "<@ x",
        "[# x] [#1] [=x]",
        "50% # {",
        "<b>bold</b> <!-- html comment -->",
        "}",
        "",
    ] {
        assert_eq!(text(s, &[]), s);
        assert_eq!(html(s, &[]), s);
    }
}

#[test]
fn required_variables_and_guards() {
    assert_eq!(required("${a} ${b!} ${c!\"x\"} ${a} ${(d)!} ${(e!'y')} ${f?html}"), ["a", "f"]);
    assert_eq!(required("<#if a??>${a}</#if>"), Vec::<String>::new());
    assert_eq!(required("<#if a??>${b}</#if>"), ["b"]);
    assert_eq!(required("<#if a??><#if b??>${a}${b}</#if></#if>"), Vec::<String>::new());
    assert_eq!(required("<#if a??>x<#elseif b??>${b}${a}<#else>${c}</#if>"), ["a", "c"]);
    assert_eq!(required("<#if a??>x<#else>${a}</#if>"), ["a"], "in <#else> the variable is missing");
    assert_eq!(required("<#if a??>${a}</#if>${a}"), ["a"], "the guard ends at </#if>");
}

#[test]
fn render_reports_a_missing_variable() {
    let t = Template::parse("line one\n  ${who}").unwrap();
    let err = t.render(&|_: &str| None, Escape::None).unwrap_err();
    assert_eq!(err, RenderError::MissingVariable { name: "who".to_owned(), line: 2, column: 3 });
    assert!(err.to_string().contains("`who`"));
}

#[test]
fn refused_directives_with_position() {
    for (src, at, construct) in [
        ("<#list xs as x>${x}</#list>", (1, 1), "<#list>"),
        ("a\n  <#assign x = 1>", (2, 3), "<#assign>"),
        ("<#include \"f.ftl\">", (1, 1), "<#include>"),
        ("<#import \"lib.ftl\" as lib>", (1, 1), "<#import>"),
        ("<#macro m></#macro>", (1, 1), "<#macro>"),
        ("<#function f></#function>", (1, 1), "<#function>"),
        ("<#ftl output_format=\"HTML\">", (1, 1), "<#ftl>"),
        ("<#iff x??>", (1, 1), "<#iff>"),
        ("x</#list>", (1, 2), "</#list>"),
        ("<@greet name=\"x\"/>", (1, 1), "<@greet>"),
        ("a </@greet>", (1, 3), "</@greet>"),
        ("#{x}", (1, 1), "#{"),
        ("ü #{x; m2}", (1, 3), "#{"),
        ("[#if x??]y[/#if]", (1, 1), "[#if"),
        ("y[/#if]", (1, 2), "[/#if"),
        ("[@m/]", (1, 1), "[@m"),
        ("[#-- c --]", (1, 1), "[#--"),
    ] {
        let (line, column, c) = refused(src);
        assert_eq!(((line, column), c.as_str()), (at, construct), "{src:?}");
    }
}

#[test]
fn refused_conditions() {
    for (src, at, construct) in [
        ("<#if x>y</#if>", (1, 1), "<#if>"),
        ("<#if x == \"a\">y</#if>", (1, 1), "<#if>"),
        ("<#if x?? && y??>y</#if>", (1, 1), "<#if>"),
        ("<#if !x??>y</#if>", (1, 1), "<#if>"),
        ("<#if>y</#if>", (1, 1), "<#if>"),
        ("<#if x.y??>y</#if>", (1, 1), "<#if>"),
        ("<#if true??>y</#if>", (1, 1), "<#if>"),
        ("<#if x??>a<#elseif y>b</#if>", (1, 11), "<#elseif>"),
        ("<#if x??>a<#else x>b</#if>", (1, 11), "<#else>"),
        ("<#if x??>a</#if x>", (1, 11), "</#if>"),
    ] {
        let (line, column, c) = refused(src);
        assert_eq!(((line, column), c.as_str()), (at, construct), "{src:?}");
    }
}

#[test]
fn refused_structure() {
    for (src, at, construct) in [
        ("a\nb ${name", (2, 3), "${"),
        ("${name!\"abc}", (1, 8), "\""),
        ("${", (1, 1), "${"),
        ("${ }", (1, 1), "${}"),
        ("<#-- never closed", (1, 1), "<#--"),
        ("x\n<#if a??>\n<#if b??>\n</#if>", (2, 1), "<#if>"),
        ("</#if>", (1, 1), "</#if>"),
        ("a <#else>", (1, 3), "<#else>"),
        ("a <#elseif x??>", (1, 3), "<#elseif>"),
        ("<#if a??><#else><#else></#if>", (1, 17), "<#else>"),
        ("<#if a??><#else><#elseif b??></#if>", (1, 17), "<#elseif>"),
    ] {
        let (line, column, c) = refused(src);
        assert_eq!(((line, column), c.as_str()), (at, construct), "{src:?}");
    }
}

#[test]
fn refused_expressions_and_builtins() {
    for (src, at, construct) in [
        ("${name?upper_case}", (1, 7), "?upper_case"),
        ("${n?string(\"0.00\")}", (1, 4), "?string"),
        ("${n?html?html}", (1, 9), "?html"),
        ("${n?html?trim}", (1, 9), "?trim"),
        ("${name!\"d\"?html}", (1, 11), "?html"),
        ("${(name)!\"d\"?html}", (1, 13), "?html"),
        ("${a + b}", (1, 5), "+"),
        ("${a-b}", (1, 4), "-"),
        ("${a == b}", (1, 5), "=="),
        ("${a != b}", (1, 5), "!="),
        ("${a.b}", (1, 1), "a."),
        ("${(a.b)!}", (1, 5), "."),
        ("${a[0]}", (1, 4), "["),
        ("${f(x)}", (1, 4), "("),
        ("${a??}", (1, 4), "??"),
        ("${1 + 2}", (1, 3), "1"),
        ("${\"lit\"}", (1, 3), "\""),
        ("${true}", (1, 3), "true"),
        ("${x!y}", (1, 5), "y"),
        ("${x!1}", (1, 5), "1"),
        ("${x!\"a${y}\"}", (1, 7), "${"),
        ("${x!\"\\q\"}", (1, 6), "\\q"),
        ("${x!\"\\xZ\"}", (1, 6), "\\x"),
        ("${x y}", (1, 5), "y"),
        ("${(x}", (1, 5), "}"),
    ] {
        let (line, column, c) = refused(src);
        assert_eq!(((line, column), c.as_str()), (at, construct), "{src:?}");
    }
}

#[test]
fn columns_count_characters_not_bytes() {
    assert_eq!(refused("Grüße, 👋 <#list xs as x>"), (1, 10, "<#list>".to_owned()));
    assert_eq!(refused("ä\nöü€ ${a?cap_first}"), (2, 8, "?cap_first".to_owned()));
    let err = Template::parse("Zürich\n\tÄ <#assign a=1>").unwrap_err();
    assert_eq!((err.line, err.column), (2, 4));
    assert!(err.to_string().starts_with("line 2, column 4: `<#assign>`: "), "{err}");
}

#[test]
fn freemarker_manual_examples() {
    // "Template Author's Guide / Getting Started" and "Handling missing values".
    let greeting = "<h1>Welcome ${user!\"Anonymous\"}!</h1>";
    assert_eq!(html(greeting, &[]), "<h1>Welcome Anonymous!</h1>");
    assert_eq!(html(greeting, &[("user", "Big Joe")]), "<h1>Welcome Big Joe!</h1>");
    let guarded = "<#if user??><h1>Welcome ${user}!</h1></#if>";
    assert_eq!(html(guarded, &[]), "");
    assert_eq!(html(guarded, &[("user", "Joe")]), "<h1>Welcome Joe!</h1>");
    assert_eq!(text("${mouse!\"No mouse.\"}", &[]), "No mouse.");
    assert_eq!(text("(${mouse!})", &[]), "()");
    assert_eq!(text("(${mouse!})", &[("mouse", "Jerry")]), "(Jerry)");
    let mouse = "<#if mouse??>\n  Mouse found\n<#else>\n  No mouse found\n</#if>\n";
    assert_eq!(text(mouse, &[]), "  No mouse found\n");
    assert_eq!(text(mouse, &[("mouse", "Jerry")]), "  Mouse found\n");
}

#[test]
fn a_retarus_style_mail() {
    let subject = Template::parse("Ihre Rechnung ${invoiceNo} <#if firstName??>für ${firstName}</#if>").unwrap();
    assert_eq!(subject.required_variables().collect::<Vec<_>>(), ["invoiceNo"]);
    let body = "<p>Hallo ${firstName!\"Kunde\"},</p>\n<p>Betrag: ${amount} EUR</p>";
    let vars = [("firstName", "Zoë <Admin>"), ("amount", "42,00"), ("invoiceNo", "R-1")];
    assert_eq!(html(body, &vars), "<p>Hallo Zoë &lt;Admin&gt;,</p>\n<p>Betrag: 42,00 EUR</p>");
    let lookup = |n: &str| vars.iter().find(|(k, _)| *k == n).map(|(_, v)| *v);
    assert_eq!(subject.render(&lookup, Escape::None).unwrap(), "Ihre Rechnung R-1 für Zoë <Admin>");
}

/// A small deterministic generator (xorshift) over the characters that matter to the lexer.
struct Generator(u64);

impl Generator {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn string(&mut self, alphabet: &[&str], max_len: u64) -> String {
        let len = self.next() % (max_len + 1);
        (0..len).map(|_| alphabet[(self.next() % alphabet.len() as u64) as usize]).collect()
    }
}

#[test]
fn parse_never_panics_on_generated_input() {
    let alphabet = [
        "$", "{", "}", "<", "#", "/", ">", "!", "?", "\"", "'", "a", "b", " ", "\n", "(", ")", ".", "\\", "-", "@",
        "[", "]", "ü", "if", "else", "elseif", "html", "??", "${", "<#", "</#", "<#--", "-->",
    ];
    let mut generator = Generator(0x9E37_79B9_7F4A_7C15);
    let mut accepted = 0;
    for _ in 0..20_000 {
        let source = generator.string(&alphabet, 24);
        match Template::parse(&source) {
            Ok(t) => {
                accepted += 1;
                // Whatever was accepted renders with every variable present.
                let all = |_: &str| Some("v");
                assert!(t.render(&all, Escape::Html).is_ok(), "{source:?}");
            }
            Err(e) => {
                assert!(e.line >= 1 && e.column >= 1, "{source:?}: {e}");
                let line_count = u32::try_from(source.split('\n').count()).unwrap();
                assert!(e.line <= line_count, "{source:?}: {e}");
            }
        }
    }
    assert!(accepted > 1000, "the generator should also produce valid templates ({accepted})");
}

#[test]
fn plain_text_renders_as_itself() {
    // Without `${`, `#{`, `<#`, `</#`, `<@`, `</@`, `[#`, `[/#`, `[@` nothing is a construct.
    let alphabet = ["$", "{", "}", "<", "/", ">", "!", "?", "\"", "a", "b", " ", "\n", "#", "@", "[", "]", "é", "-"];
    let mut generator = Generator(0x2545_F491_4F6C_DD1D);
    let mut checked = 0;
    for _ in 0..20_000 {
        let source = generator.string(&alphabet, 32);
        let construct = ["${", "#{", "<#", "</#", "<@", "</@", "[#", "[/#", "[@"].iter().any(|c| source.contains(c));
        if construct {
            continue;
        }
        checked += 1;
        assert_eq!(text(&source, &[]), source);
        assert_eq!(html(&source, &[]), source);
    }
    assert!(checked > 1000, "{checked}");
}
