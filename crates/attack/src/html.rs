//! Just enough of the HTML tokenizer (WHATWG §13.2.5) to judge a reflection: where text,
//! tags, attributes, comments and raw-text elements start and end, as a browser sees them.
//!
//! Whether an injected `<svg onload=…>` becomes an element, or an injected quote ends an
//! attribute, is decided by the tokenizer, not by tree construction, so this is what the XSS
//! detector needs; a full HTML5 parser (html5ever and its rcdom) would add a dozen crates for
//! answers it does not need. What it leaves out: character references (values are kept raw,
//! which only makes a reflected `&quot;` look harmless, as it is), the script-data-escaped
//! states, and foreign content.

/// An attribute of a start tag, first of its name only (a browser drops later duplicates).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    /// Name, lower case.
    pub name: String,
    /// Value as written (character references not decoded).
    pub value: String,
    /// Byte range of the value in the document.
    pub span: (usize, usize),
    /// The quote around the value, if any.
    pub quote: Option<char>,
}

/// A piece of a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    /// A start tag.
    Start {
        /// Tag name, lower case.
        name: String,
        /// Attributes, duplicates dropped.
        attrs: Vec<Attribute>,
        /// Byte range from `<` to `>`.
        span: (usize, usize),
    },
    /// An end tag.
    End {
        /// Tag name, lower case.
        name: String,
        /// Byte range from `<` to `>`.
        span: (usize, usize),
    },
    /// Text in the data state, where markup can start.
    Text((usize, usize)),
    /// The content of an element whose content is not markup (`script`, `style`, `textarea`,
    /// `title`, …), up to its end tag.
    RawText {
        /// The element, lower case.
        tag: String,
        /// Byte range of the content.
        span: (usize, usize),
    },
    /// A comment, a DOCTYPE or a processing instruction.
    Comment((usize, usize)),
}

/// Elements whose content is not parsed as markup.
const RAW_TEXT: [&str; 9] = [
    "script", "style", "textarea", "title", "xmp", "iframe", "noembed", "noframes", "noscript",
];

/// Splits a document into tokens as a browser's tokenizer does.
pub fn tokenize(doc: &str) -> Vec<Token> {
    let b = doc.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let mut text_start = 0;
    let flush = |out: &mut Vec<Token>, from: usize, to: usize| {
        if to > from {
            out.push(Token::Text((from, to)));
        }
    };
    while i < b.len() {
        if b[i] != b'<' {
            i += 1;
            continue;
        }
        let next = b.get(i + 1).copied().unwrap_or(0);
        if doc[i..].starts_with("<!--") {
            flush(&mut out, text_start, i);
            let end = doc[i + 4..]
                .find("-->")
                .map(|e| i + 4 + e + 3)
                .unwrap_or(b.len());
            out.push(Token::Comment((i, end)));
            i = end;
            text_start = i;
        } else if next == b'!' || next == b'?' {
            flush(&mut out, text_start, i);
            let end = doc[i..].find('>').map(|e| i + e + 1).unwrap_or(b.len());
            out.push(Token::Comment((i, end)));
            i = end;
            text_start = i;
        } else if next == b'/' && b.get(i + 2).is_some_and(u8::is_ascii_alphabetic) {
            flush(&mut out, text_start, i);
            let (name, _) = tag_name(doc, i + 2);
            let end = doc[i..].find('>').map(|e| i + e + 1).unwrap_or(b.len());
            out.push(Token::End {
                name,
                span: (i, end),
            });
            i = end;
            text_start = i;
        } else if next.is_ascii_alphabetic() {
            flush(&mut out, text_start, i);
            let (name, after) = tag_name(doc, i + 1);
            let (attrs, end) = attributes(doc, after);
            let raw = RAW_TEXT.contains(&name.as_str());
            out.push(Token::Start {
                name: name.clone(),
                attrs,
                span: (i, end),
            });
            i = end;
            text_start = i;
            if raw {
                let close = find_end_tag(doc, i, &name);
                out.push(Token::RawText {
                    tag: name,
                    span: (i, close),
                });
                i = close;
                text_start = i;
            } else if name == "plaintext" {
                break;
            }
        } else {
            i += 1;
        }
    }
    flush(&mut out, text_start, b.len());
    out
}

fn tag_name(doc: &str, from: usize) -> (String, usize) {
    let end = doc[from..]
        .find(|c: char| c.is_ascii_whitespace() || c == '/' || c == '>')
        .map(|e| from + e)
        .unwrap_or(doc.len());
    (doc[from..end].to_ascii_lowercase(), end)
}

/// Reads attributes from `from` to the tag's `>`; returns them and the offset after `>`.
fn attributes(doc: &str, mut i: usize) -> (Vec<Attribute>, usize) {
    let b = doc.as_bytes();
    let mut attrs: Vec<Attribute> = Vec::new();
    loop {
        while i < b.len() && (b[i].is_ascii_whitespace() || b[i] == b'/') {
            i += 1;
        }
        if i >= b.len() {
            return (attrs, b.len());
        }
        if b[i] == b'>' {
            return (attrs, i + 1);
        }
        // A name may start with `=`; after its first character it ends at `=`.
        let start = i;
        i += 1;
        while i < b.len() && !(b[i].is_ascii_whitespace() || matches!(b[i], b'/' | b'>' | b'=')) {
            i += 1;
        }
        let name = doc[start..i].to_ascii_lowercase();
        let mut j = i;
        while j < b.len() && b[j].is_ascii_whitespace() {
            j += 1;
        }
        let (value_span, quote) = if b.get(j) == Some(&b'=') {
            j += 1;
            while j < b.len() && b[j].is_ascii_whitespace() {
                j += 1;
            }
            match b.get(j) {
                Some(&q) if q == b'"' || q == b'\'' => {
                    let end = doc[j + 1..]
                        .find(q as char)
                        .map(|e| j + 1 + e)
                        .unwrap_or(b.len());
                    i = (end + 1).min(b.len());
                    ((j + 1, end), Some(q as char))
                }
                _ => {
                    let end = doc[j..]
                        .find(|c: char| c.is_ascii_whitespace() || c == '>')
                        .map(|e| j + e)
                        .unwrap_or(b.len());
                    i = end;
                    ((j, end), None)
                }
            }
        } else {
            ((i, i), None)
        };
        if !attrs.iter().any(|a| a.name == name) {
            attrs.push(Attribute {
                name,
                value: doc[value_span.0..value_span.1].to_owned(),
                span: value_span,
                quote,
            });
        }
    }
}

fn find_end_tag(doc: &str, from: usize, name: &str) -> usize {
    let lower = doc[from..].to_ascii_lowercase();
    let needle = format!("</{name}");
    let mut at = 0;
    while let Some(p) = lower[at..].find(&needle) {
        let after = lower.as_bytes().get(at + p + needle.len()).copied();
        if after.is_none_or(|c| c.is_ascii_whitespace() || c == b'/' || c == b'>') {
            return from + at + p;
        }
        at += p + needle.len();
    }
    doc.len()
}

/// What a byte of a document is to a browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Context {
    /// Text where markup can start.
    Text,
    /// The content of a raw-text element other than `script`: only its end tag gets out.
    RawText(String),
    /// Inside a `script` element, in code (`None`) or in a string with this quote.
    Script(Option<char>),
    /// An attribute value.
    Attribute {
        /// The element, lower case.
        tag: String,
        /// The attribute, lower case.
        name: String,
        /// The quote around it, if any.
        quote: Option<char>,
        /// True when the value starts right at this byte.
        at_start: bool,
    },
    /// A comment.
    Comment,
    /// Inside a tag but not in an attribute value (a tag or attribute name).
    Tag,
}

/// The context of the byte at `offset` in `doc`.
pub fn context_at(doc: &str, offset: usize) -> Option<Context> {
    for token in tokenize(doc) {
        match token {
            Token::Text((s, e)) if (s..e).contains(&offset) => return Some(Context::Text),
            Token::Comment((s, e)) if (s..e).contains(&offset) => return Some(Context::Comment),
            Token::RawText { tag, span: (s, e) } if (s..e).contains(&offset) => {
                return Some(if tag == "script" {
                    Context::Script(js_string_at(&doc[s..offset]))
                } else {
                    Context::RawText(tag)
                });
            }
            Token::Start {
                name,
                attrs,
                span: (s, e),
            } if (s..e).contains(&offset) => {
                return Some(
                    attrs
                        .into_iter()
                        .find(|a| (a.span.0..a.span.1.max(a.span.0 + 1)).contains(&offset))
                        .map(|a| Context::Attribute {
                            at_start: a.span.0 == offset,
                            tag: name,
                            name: a.name,
                            quote: a.quote,
                        })
                        .unwrap_or(Context::Tag),
                );
            }
            Token::End { span: (s, e), .. } if (s..e).contains(&offset) => {
                return Some(Context::Tag)
            }
            _ => {}
        }
    }
    None
}

/// The JavaScript string (by its quote) open at the end of `code`, or `None` in code.
/// Comments are skipped; regex literals are taken as code.
pub fn js_string_at(code: &str) -> Option<char> {
    js_scan(code, |_, _| {}).0
}

/// Scans JavaScript, calling `on_code(offset, byte)` for each byte in code (not in a string or
/// a comment); returns the string open at the end.
fn js_scan(code: &str, mut on_code: impl FnMut(usize, u8)) -> (Option<char>, ()) {
    let b = code.as_bytes();
    let mut string: Option<u8> = None;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match string {
            Some(q) => {
                if c == b'\\' {
                    i += 1;
                } else if c == q {
                    string = None;
                }
            }
            None => {
                if c == b'/' && b.get(i + 1) == Some(&b'/') {
                    i = code[i..].find('\n').map(|e| i + e).unwrap_or(b.len());
                    continue;
                } else if c == b'/' && b.get(i + 1) == Some(&b'*') {
                    i = code[i + 2..]
                        .find("*/")
                        .map(|e| i + 2 + e + 2)
                        .unwrap_or(b.len());
                    continue;
                } else if matches!(c, b'"' | b'\'' | b'`') {
                    string = Some(c);
                } else {
                    on_code(i, c);
                }
            }
        }
        i += 1;
    }
    (string.map(char::from), ())
}

/// Start tags of a document, by name, outside comments and raw text.
pub fn start_tags(doc: &str) -> impl Iterator<Item = (String, Vec<Attribute>)> {
    tokenize(doc).into_iter().filter_map(|t| match t {
        Token::Start { name, attrs, .. } => Some((name, attrs)),
        _ => None,
    })
}

/// True when a `script` element of the document holds `ident` as a whole identifier in code,
/// not in a string or a comment: an injected statement that runs.
pub fn script_has_code_identifier(doc: &str, ident: &str) -> bool {
    tokenize(doc).into_iter().any(|t| match t {
        Token::RawText { tag, span: (s, e) } if tag == "script" => {
            let code = &doc[s..e];
            let mut in_code = vec![false; code.len()];
            js_scan(code, |i, _| in_code[i] = true);
            let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || c == b'$';
            code.match_indices(ident).any(|(at, _)| {
                let end = at + ident.len();
                in_code[at..end].iter().all(|&c| c)
                    && (at == 0 || !word(code.as_bytes()[at - 1]))
                    && code.as_bytes().get(end).is_none_or(|&c| !word(c))
            })
        }
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(doc: &str, marker: &str) -> Context {
        context_at(doc, doc.find(marker).unwrap()).unwrap()
    }

    #[test]
    fn contexts_are_those_a_browser_sees() {
        let doc = r#"<html><head><title>T MARK1</title><script>var a = "MARK2"; var b = 'x' + MARK3; // MARK4 '
var c = `MARK5`;</script><style>p { color: MARK6 }</style></head>
<body><!-- MARK7 --><p class="MARK8" data-x='MARK9' id=MARK10>Hello MARK11</p><a href="MARK12">x</a>
<textarea>MARK13</textarea></body></html>"#;
        assert_eq!(ctx(doc, "MARK1"), Context::RawText("title".into()));
        assert_eq!(ctx(doc, "MARK2"), Context::Script(Some('"')));
        assert_eq!(ctx(doc, "MARK3"), Context::Script(None));
        assert_eq!(ctx(doc, "MARK4"), Context::Script(None));
        assert_eq!(ctx(doc, "MARK5"), Context::Script(Some('`')));
        assert_eq!(ctx(doc, "MARK6"), Context::RawText("style".into()));
        assert_eq!(ctx(doc, "MARK7"), Context::Comment);
        let attr = |name: &str, quote, at_start| Context::Attribute {
            tag: if name == "href" { "a" } else { "p" }.into(),
            name: name.into(),
            quote,
            at_start,
        };
        assert_eq!(ctx(doc, "MARK8"), attr("class", Some('"'), true));
        assert_eq!(ctx(doc, "MARK9"), attr("data-x", Some('\''), true));
        assert_eq!(ctx(doc, "MARK10"), attr("id", None, true));
        assert_eq!(ctx(doc, "MARK11"), Context::Text);
        assert_eq!(ctx(doc, "MARK12"), attr("href", Some('"'), true));
        assert_eq!(ctx(doc, "MARK13"), Context::RawText("textarea".into()));
    }

    #[test]
    fn escaped_markup_is_text_and_injected_markup_is_a_tag() {
        let safe = "<p>&lt;svg onload=alert(1)&gt;</p>";
        assert!(start_tags(safe).all(|(n, _)| n == "p"));
        let hit = r#"<p><svg data-td=abc onload=alert(1)></p>"#;
        let (name, attrs) = start_tags(hit).nth(1).unwrap();
        assert_eq!(name, "svg");
        assert_eq!(
            attrs
                .iter()
                .map(|a| (a.name.as_str(), a.value.as_str()))
                .collect::<Vec<_>>(),
            [("data-td", "abc"), ("onload", "alert(1)")]
        );
        // In a textarea or a comment, markup is text.
        assert_eq!(start_tags("<textarea><svg onload=x></textarea>").count(), 1);
        assert_eq!(start_tags("<!-- <svg onload=x> -->").count(), 0);
    }

    #[test]
    fn a_broken_out_quote_adds_attributes_and_the_first_of_a_name_wins() {
        let doc = r#"<input value="" autofocus onfocus=alert(1) data-td=abc x="" onfocus="y">"#;
        let (_, attrs) = start_tags(doc).next().unwrap();
        let get = |n: &str| attrs.iter().find(|a| a.name == n).map(|a| a.value.clone());
        assert_eq!(get("onfocus").as_deref(), Some("alert(1)"));
        assert_eq!(get("data-td").as_deref(), Some("abc"));
        let escaped = r#"<input value="&quot; onfocus=alert(1) data-td=abc x=&quot;">"#;
        assert_eq!(start_tags(escaped).next().unwrap().1.len(), 1);
    }

    #[test]
    fn script_code_identifiers_are_told_from_strings_and_comments() {
        assert!(script_has_code_identifier(
            "<script>var q = '';td1=1;//';</script>",
            "td1"
        ));
        assert!(!script_has_code_identifier(
            r"<script>var q = '\';td1=1;//';</script>",
            "td1"
        ));
        assert!(!script_has_code_identifier(
            "<script>var q = \"';td1=1;//\";</script>",
            "td1"
        ));
        assert!(!script_has_code_identifier(
            "<script>// td1\n/* td1 */ xtd1 = 1</script>",
            "td1"
        ));
        assert!(!script_has_code_identifier("<p>td1</p>", "td1"));
        // `</script>` ends the element wherever it stands, even in a string.
        let broke_out = "<script>var q = '</script><svg onload=alert(1)>';</script>";
        assert!(start_tags(broke_out).any(|(n, _)| n == "svg"));
    }
}
