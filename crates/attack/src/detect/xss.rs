//! Reflected cross-site scripting, proven on the parsed answer.
//!
//! 1. A canary goes in: a fresh token, `'"<>`, and the token again. Each place it comes back is
//!    a reflection; the answer is tokenized ([`crate::html`]) to learn the context there (HTML
//!    text, an attribute and its quote, a string or code in a script, a comment, a raw-text
//!    element) and which of `'"<>` came back unencoded between the two tokens.
//! 2. For each reflection whose context can be left with the characters that survived, one
//!    payload that fits it is sent, marked with another fresh token.
//! 3. It is a finding only when the parsed answer holds what the payload meant to create: an
//!    element with an event handler and the marker attribute, an attribute added to the tag, a
//!    `javascript:` URL, or the marker as an identifier in script code. An escaping twin turns
//!    all of these into text, and nothing is found.

use super::{token, Evidence, Payload, Probe, Seen, Step};
use crate::html::{self, Context};
use crate::profile::Profile;
use crate::AttackType;

/// What must be in the parsed answer for a payload to count.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Proof {
    /// A start tag with `data-td=<marker>` and this event handler attribute.
    Element { handler: &'static str },
    /// An attribute starting with `javascript:` and holding the marker.
    JavascriptUrl,
    /// The marker as an identifier in script code.
    ScriptCode,
}

/// A payload for one reflection and how to recognise that it worked.
#[derive(Debug, Clone)]
struct Candidate {
    payload: String,
    marker: String,
    proof: Proof,
    context: String,
}

/// The XSS probe: canary, then one payload per exploitable reflection.
pub struct XssProbe {
    canary: String,
    candidates: Option<Vec<Candidate>>,
    at: usize,
}

impl Default for XssProbe {
    fn default() -> Self {
        Self::new()
    }
}

impl XssProbe {
    /// A probe with a fresh canary.
    pub fn new() -> Self {
        Self {
            canary: token(),
            candidates: None,
            at: 0,
        }
    }

    fn canary_payload(&self) -> String {
        format!("{0}'\"<>{0}", self.canary)
    }
}

/// Each reflection of `token` in `doc`: its byte offset and which of `'"<>` survived raw.
fn reflections(doc: &str, token: &str) -> Vec<(usize, String)> {
    let at: Vec<usize> = doc.match_indices(token).map(|(i, _)| i).collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < at.len() {
        let offset = at[i];
        let start = offset + token.len();
        // The window runs to the closing token when it is near, else a few bytes on.
        let end = match at.get(i + 1) {
            Some(&next) if next - start <= 48 => {
                i += 1;
                next
            }
            _ => (start + 8).min(doc.len()),
        };
        let window = doc.get(start..end).unwrap_or("");
        let survived: String = ['\'', '"', '<', '>']
            .into_iter()
            .filter(|c| window.contains(*c))
            .collect();
        out.push((offset, survived));
        i += 1;
    }
    out
}

fn candidates(doc: &str, canary: &str) -> Vec<Candidate> {
    let mut out: Vec<Candidate> = Vec::new();
    for (offset, survived) in reflections(doc, canary) {
        let Some(context) = html::context_at(doc, offset) else {
            continue;
        };
        let has = |c: char| survived.contains(c);
        let marker = token();
        let element = |prefix: &str| Candidate {
            payload: format!("{prefix}<svg data-td={marker} onload=alert(1)>"),
            marker: marker.clone(),
            proof: Proof::Element { handler: "onload" },
            context: String::new(),
        };
        let mut found = match &context {
            Context::Text if has('<') && has('>') => vec![element("")],
            Context::RawText(tag) if has('<') && has('>') => vec![element(&format!("</{tag}>"))],
            Context::Comment if has('<') && has('>') => vec![element("-->")],
            Context::Attribute {
                name,
                quote,
                at_start,
                ..
            } => {
                let mut c = Vec::new();
                if quote.is_none_or(has) {
                    let q = quote.map(String::from).unwrap_or_default();
                    let sep = if quote.is_none() { " " } else { "" };
                    c.push(Candidate {
                        payload: format!(
                            "{q}{sep} autofocus onfocus=alert(1) data-td={marker} x={q}"
                        ),
                        marker: marker.clone(),
                        proof: Proof::Element { handler: "onfocus" },
                        context: String::new(),
                    });
                }
                if *at_start
                    && ["href", "src", "action", "formaction", "data"].contains(&name.as_str())
                {
                    c.push(Candidate {
                        payload: format!("javascript:alert(1)//{marker}"),
                        marker: marker.clone(),
                        proof: Proof::JavascriptUrl,
                        context: String::new(),
                    });
                }
                c
            }
            Context::Script(quote) => {
                let mut c = Vec::new();
                if quote.is_none_or(has) {
                    let q = quote.map(String::from).unwrap_or_default();
                    c.push(Candidate {
                        payload: format!("{q};{marker}=1;//"),
                        marker: marker.clone(),
                        proof: Proof::ScriptCode,
                        context: String::new(),
                    });
                }
                if has('<') && has('>') {
                    c.push(element("</script>"));
                }
                c
            }
            _ => Vec::new(),
        };
        for c in &mut found {
            c.context = describe(&context);
        }
        for c in found {
            if !out
                .iter()
                .any(|o| o.proof == c.proof && o.context == c.context)
            {
                out.push(c);
            }
        }
    }
    out
}

fn describe(context: &Context) -> String {
    match context {
        Context::Text => "HTML text".into(),
        Context::RawText(tag) => format!("the text of a <{tag}> element"),
        Context::Comment => "an HTML comment".into(),
        Context::Attribute {
            tag,
            name,
            quote: Some(q),
            ..
        } => format!("the {q}-quoted attribute {name} of <{tag}>"),
        Context::Attribute {
            tag,
            name,
            quote: None,
            ..
        } => format!("the unquoted attribute {name} of <{tag}>"),
        Context::Script(Some(q)) => format!("a {q}-quoted JavaScript string"),
        Context::Script(None) => "JavaScript code".into(),
        Context::Tag => "a tag".into(),
    }
}

/// True when the parsed answer holds what the candidate meant to create.
fn proven(doc: &str, c: &Candidate) -> bool {
    match c.proof {
        Proof::Element { handler } => html::start_tags(doc).any(|(_, attrs)| {
            attrs
                .iter()
                .any(|a| a.name == "data-td" && a.value == c.marker)
                && attrs
                    .iter()
                    .any(|a| a.name == handler && a.value.starts_with("alert(1)"))
        }),
        Proof::JavascriptUrl => html::start_tags(doc).any(|(_, attrs)| {
            attrs.iter().any(|a| {
                a.value
                    .trim_start()
                    .to_ascii_lowercase()
                    .starts_with("javascript:")
                    && a.value.contains(&c.marker)
            })
        }),
        Proof::ScriptCode => html::script_has_code_identifier(doc, &c.marker),
    }
}

impl Probe for XssProbe {
    fn attack(&self) -> AttackType {
        AttackType::Xss
    }

    fn next(&mut self, _profile: &Profile, seen: Seen<'_>) -> Step {
        if let Seen::Answer(answer) = seen {
            let doc = answer.text();
            match &self.candidates {
                None => self.candidates = Some(candidates(&doc, &self.canary)),
                Some(list) => {
                    let c = &list[self.at];
                    if proven(&doc, c) {
                        return Step::Found(Evidence {
                            attack: AttackType::Xss,
                            threat: 60,
                            title: format!("Reflected XSS in {}", c.context),
                            description: format!(
                                "The value is reflected in {} unencoded; {:?} came back as {}.",
                                c.context,
                                c.payload,
                                match c.proof {
                                    Proof::Element { handler } => format!("markup the browser parses into a tag with an {handler} handler"),
                                    Proof::JavascriptUrl => "a javascript: URL".into(),
                                    Proof::ScriptCode => "a statement in the page's script".into(),
                                }
                            ),
                            payload: c.payload.clone(),
                        });
                    }
                    self.at += 1;
                }
            }
        }
        match &self.candidates {
            None => Step::Send(Payload::Value(self.canary_payload())),
            Some(list) => match list.get(self.at) {
                Some(c) => Step::Send(Payload::Value(c.payload.clone())),
                None => Step::Done,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::tests::{run, value};
    use crate::profile::tests::answer;
    use crate::Response;

    type App = Box<dyn FnMut(&Payload) -> Response>;

    fn html_escape(s: &str) -> String {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
            .replace('\'', "&#x27;")
    }

    fn js_escape(s: &str) -> String {
        serde_json::to_string(s)
            .unwrap()
            .replace('<', "\\u003c")
            .replace('>', "\\u003e")
            .replace('\'', "\\u0027")
    }

    fn page(inner: String) -> Response {
        answer(200, &format!("<!doctype html><html><head><title>Search</title></head><body>{inner}</body></html>"))
    }

    fn profile() -> Profile {
        Profile::learn(&[page("<p>Results for bob</p>".into())]).unwrap()
    }

    /// Each reflection shape once, vulnerable when `escape` is the identity.
    fn apps(escape: fn(&str) -> String) -> Vec<(&'static str, App)> {
        vec![
            (
                "text",
                Box::new(move |p| page(format!("<p>Results for {}</p>", escape(value(p))))),
            ),
            (
                "attribute",
                Box::new(move |p| page(format!("<input name=q value=\"{}\">", escape(value(p))))),
            ),
            (
                "single attribute",
                Box::new(move |p| page(format!("<input name=q value='{}'>", escape(value(p))))),
            ),
            (
                "unquoted attribute",
                Box::new(move |p| page(format!("<input name=q value={}>", escape(value(p))))),
            ),
            (
                "href",
                Box::new(move |p| page(format!("<a href=\"{}\">next</a>", escape(value(p))))),
            ),
            (
                "js string",
                Box::new(move |p| {
                    page(format!(
                        "<script>var q = \"{}\";</script>",
                        escape(value(p))
                    ))
                }),
            ),
            (
                "textarea",
                Box::new(move |p| page(format!("<textarea>{}</textarea>", escape(value(p))))),
            ),
            (
                "comment",
                Box::new(move |p| page(format!("<!-- q={} -->", escape(value(p))))),
            ),
        ]
    }

    #[test]
    fn each_reflection_context_is_proven_with_a_payload_that_fits_it() {
        for (name, mut app) in apps(|s| s.to_owned()) {
            let e = run(&mut XssProbe::new(), &profile(), &mut app, |_| false)
                .unwrap_or_else(|| panic!("{name}: no finding"));
            assert_eq!(e.attack, AttackType::Xss);
            assert!(e.title.starts_with("Reflected XSS in "), "{name}: {e:?}");
        }
    }

    #[test]
    fn contexts_are_named_on_the_finding() {
        let mut apps = apps(|s| s.to_owned());
        let title = |i: usize, apps: &mut Vec<(&str, App)>| {
            run(&mut XssProbe::new(), &profile(), &mut apps[i].1, |_| false)
                .unwrap()
                .title
        };
        assert_eq!(title(0, &mut apps), "Reflected XSS in HTML text");
        assert_eq!(
            title(1, &mut apps),
            "Reflected XSS in the \"-quoted attribute value of <input>"
        );
        assert_eq!(
            title(5, &mut apps),
            "Reflected XSS in a \"-quoted JavaScript string"
        );
        assert_eq!(
            title(6, &mut apps),
            "Reflected XSS in the text of a <textarea> element"
        );
    }

    #[test]
    fn escaping_twins_never_produce_a_finding() {
        for (name, mut app) in apps(html_escape) {
            // HTML escaping does not make these two safe (a javascript: URL, a space in an
            // unquoted value), so they are not twins; they are tested below.
            if name == "href" || name == "unquoted attribute" {
                continue;
            }
            assert!(
                run(&mut XssProbe::new(), &profile(), &mut app, |_| false).is_none(),
                "{name}"
            );
        }
        let mut js_twin =
            |p: &Payload| page(format!("<script>var q = {};</script>", js_escape(value(p))));
        assert!(run(&mut XssProbe::new(), &profile(), &mut js_twin, |_| false).is_none());
    }

    #[test]
    fn a_javascript_url_in_an_escaped_href_is_still_found() {
        let mut app = |p: &Payload| page(format!("<a href=\"{}\">next</a>", html_escape(value(p))));
        let e = run(&mut XssProbe::new(), &profile(), &mut app, |_| false).unwrap();
        assert!(e.payload.starts_with("javascript:"), "{e:?}");
    }

    #[test]
    fn html_escaping_an_unquoted_attribute_still_lets_a_space_add_one() {
        let mut app = |p: &Payload| page(format!("<input name=q value={}>", html_escape(value(p))));
        let e = run(&mut XssProbe::new(), &profile(), &mut app, |_| false).unwrap();
        assert_eq!(
            e.title,
            "Reflected XSS in the unquoted attribute value of <input>"
        );
    }

    #[test]
    fn a_page_that_drops_angle_brackets_in_text_is_not_claimed() {
        let mut app = |p: &Payload| page(format!("<p>{}</p>", value(p).replace(['<', '>'], "")));
        assert!(run(&mut XssProbe::new(), &profile(), &mut app, |_| false).is_none());
    }

    #[test]
    fn reflections_report_what_survived_between_the_tokens() {
        let r = reflections("a tdX'\"<>tdX b tdX&#x27;&quot;&lt;&gt;tdX", "tdX");
        assert_eq!(r, [(2, "'\"<>".to_owned()), (15, String::new())]);
    }
}
