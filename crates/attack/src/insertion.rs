//! Insertion points: where in a request a payload can go, named in FAST's point syntax, and the
//! request with a payload put at one of them.
//!
//! Names (a policy's include and exclude patterns match them whole):
//!
//! | where | name |
//! | --- | --- |
//! | query parameter | `GET_<name>` |
//! | `application/x-www-form-urlencoded` field | `POST_<name>` |
//! | `multipart/form-data` field (not a file) | `POST_MULTIPART_<name>` |
//! | JSON body leaf | `JSON_<dotted.path>` (array items by index: `JSON_items.0.id`) |
//! | XML text node | `XML_<dotted.path>`; attribute `XML_<dotted.path>@<attr>` |
//! | path segment | `PATH_<index>`, from 0, empty segments not counted |
//! | the whole path | `URI` |
//! | cookie | `COOKIE_<name>` |
//! | `User-Agent`, `Referer`, `X-Forwarded-For` | `HEADER_USER-AGENT`, … |
//!
//! A payload reaches the application as the characters it holds: [`inject`] encodes it for its
//! place (percent-encoding in the URL and form bodies, JSON string escaping, XML escaping), so
//! the application's own decoding gives the payload back. A payload that cannot be carried at a
//! point (a line break in a header) gives no request. The URL is rebuilt as text and never
//! normalised, so `..` survives to the wire.

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use quick_xml::events::Event;
use serde_json::Value;

use crate::Request;

/// Characters percent-encoded in a path segment or query value: everything but RFC 3986's
/// unreserved set, so `/`, `&`, `=`, `#` and `+` inside a payload stay data.
const STRICT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Headers that are insertion points even when the baseline did not send them.
pub const HEADERS: [&str; 3] = ["User-Agent", "Referer", "X-Forwarded-For"];

/// One step of a JSON path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JsonStep {
    /// An object member.
    Key(String),
    /// An array item.
    Index(usize),
}

/// Where exactly a point is, enough to put a payload there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// The `index`th `&`-separated pair of the query.
    Query(usize),
    /// The `index`th pair of a urlencoded body.
    Form(usize),
    /// The content of a multipart part, as a byte range of the body.
    Multipart(usize, usize),
    /// A leaf of a JSON body.
    Json(Vec<JsonStep>),
    /// An XML text node, as the byte range of its raw (escaped) text.
    XmlText(usize, usize),
    /// An XML attribute value, as the byte range inside its quotes.
    XmlAttr(usize, usize),
    /// The `index`th non-empty path segment.
    PathSegment(usize),
    /// The whole path.
    Uri,
    /// The `index`th cookie of the `Cookie` header.
    Cookie(usize),
    /// A request header (one of [`HEADERS`]).
    Header(&'static str),
}

/// An insertion point of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Point {
    /// Its name in FAST's point syntax, e.g. `GET_id`.
    pub name: String,
    /// The value the baseline sent there, decoded.
    pub value: String,
    /// Where it is.
    pub location: Location,
}

/// The parts of an absolute URL, split as text so nothing is normalised.
pub(crate) struct UrlParts<'a> {
    pub(crate) origin: &'a str,
    pub(crate) path: &'a str,
    pub(crate) query: Option<&'a str>,
    fragment: Option<&'a str>,
}

pub(crate) fn split_url(url: &str) -> UrlParts<'_> {
    let after_scheme = url.find("://").map(|i| i + 3).unwrap_or(0);
    let path_start = url[after_scheme..]
        .find(['/', '?', '#'])
        .map(|i| i + after_scheme)
        .unwrap_or(url.len());
    let (rest, fragment) = match url[path_start..].find('#') {
        Some(i) => (
            &url[path_start..path_start + i],
            Some(&url[path_start + i + 1..]),
        ),
        None => (&url[path_start..], None),
    };
    let (path, query) = match rest.find('?') {
        Some(i) => (&rest[..i], Some(&rest[i + 1..])),
        None => (rest, None),
    };
    UrlParts {
        origin: &url[..path_start],
        path,
        query,
        fragment,
    }
}

fn join_url(parts: &UrlParts<'_>, path: &str, query: Option<&str>) -> String {
    let mut url = format!("{}{}", parts.origin, path);
    if let Some(q) = query {
        url.push('?');
        url.push_str(q);
    }
    if let Some(f) = parts.fragment {
        url.push('#');
        url.push_str(f);
    }
    url
}

fn decode_component(raw: &str, plus_is_space: bool) -> String {
    let raw = if plus_is_space {
        raw.replace('+', " ")
    } else {
        raw.to_owned()
    };
    percent_decode_str(&raw).decode_utf8_lossy().into_owned()
}

/// Name and value of each `&`-separated pair, decoded.
fn pairs(raw: &str) -> impl Iterator<Item = (String, String)> + '_ {
    raw.split('&').map(|pair| {
        let (n, v) = pair.split_once('=').unwrap_or((pair, ""));
        (decode_component(n, true), decode_component(v, true))
    })
}

fn path_segments(path: &str) -> impl Iterator<Item = (usize, &str)> {
    // Byte offset and text of each non-empty segment.
    path.split('/')
        .scan(0usize, |offset, seg| {
            let start = *offset;
            *offset += seg.len() + 1;
            Some((start, seg))
        })
        .filter(|(_, seg)| !seg.is_empty())
}

/// Every insertion point of a request, in a stable order: path, query, body, cookies, headers.
pub fn points(request: &Request) -> Vec<Point> {
    let mut out = Vec::new();
    let url = split_url(&request.url);
    out.push(Point {
        name: "URI".into(),
        value: decode_component(url.path, false),
        location: Location::Uri,
    });
    for (index, (_, seg)) in path_segments(url.path).enumerate() {
        out.push(Point {
            name: format!("PATH_{index}"),
            value: decode_component(seg, false),
            location: Location::PathSegment(index),
        });
    }
    if let Some(query) = url.query.filter(|q| !q.is_empty()) {
        for (index, (name, value)) in pairs(query).enumerate() {
            out.push(Point {
                name: format!("GET_{name}"),
                value,
                location: Location::Query(index),
            });
        }
    }
    body_points(request, &mut out);
    if let Some(cookie) = request.header("cookie") {
        for (index, c) in cookie.split(';').enumerate() {
            let (name, value) = c.trim().split_once('=').unwrap_or((c.trim(), ""));
            out.push(Point {
                name: format!("COOKIE_{name}"),
                value: value.to_owned(),
                location: Location::Cookie(index),
            });
        }
    }
    for header in HEADERS {
        out.push(Point {
            name: format!("HEADER_{}", header.to_ascii_uppercase()),
            value: request.header(header).unwrap_or("").to_owned(),
            location: Location::Header(header),
        });
    }
    out
}

fn body_points(request: &Request, out: &mut Vec<Point>) {
    if request.body.is_empty() {
        return;
    }
    let media = request.media_type().unwrap_or_default();
    let text = String::from_utf8_lossy(&request.body);
    if media == "application/x-www-form-urlencoded" {
        for (index, (name, value)) in pairs(&text).enumerate() {
            out.push(Point {
                name: format!("POST_{name}"),
                value,
                location: Location::Form(index),
            });
        }
    } else if media == "multipart/form-data" {
        if let Some(boundary) = request.header("content-type").and_then(boundary) {
            for part in multipart_parts(&request.body, &boundary) {
                out.push(Point {
                    name: format!("POST_MULTIPART_{}", part.name),
                    value: String::from_utf8_lossy(&request.body[part.start..part.end])
                        .into_owned(),
                    location: Location::Multipart(part.start, part.end),
                });
            }
        }
    } else if media.ends_with("json") {
        if let Ok(doc) = serde_json::from_slice::<Value>(&request.body) {
            json_leaves(&doc, &mut Vec::new(), out);
        }
    } else if media.ends_with("xml") || text.trim_start().starts_with("<?xml") {
        xml_points(&request.body, out);
    }
}

fn boundary(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|param| {
        let (k, v) = param.trim().split_once('=')?;
        k.eq_ignore_ascii_case("boundary")
            .then(|| v.trim_matches('"').to_owned())
    })
}

struct Part {
    name: String,
    start: usize,
    end: usize,
}

/// The non-file fields of a multipart body, with the byte range of each one's content.
fn multipart_parts(body: &[u8], boundary: &str) -> Vec<Part> {
    let delimiter = format!("--{boundary}");
    let finder = memfind(body, delimiter.as_bytes());
    let mut parts = Vec::new();
    for pair in finder.windows(2) {
        let part_start = pair[0] + delimiter.len();
        // The part runs to the CRLF before the next delimiter.
        let part_end = pair[1].saturating_sub(2).max(part_start);
        let part = &body[part_start..part_end];
        let Some(head_end) = find(part, b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&part[..head_end]);
        let disposition = head
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with("content-disposition:"));
        let Some(disposition) = disposition else {
            continue;
        };
        if disposition.contains("filename=") {
            continue;
        }
        let Some(name) = disposition
            .split(';')
            .find_map(|p| p.trim().strip_prefix("name="))
        else {
            continue;
        };
        parts.push(Part {
            name: name.trim_matches('"').to_owned(),
            start: part_start + head_end + 4,
            end: part_end,
        });
    }
    parts
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn memfind(hay: &[u8], needle: &[u8]) -> Vec<usize> {
    let mut at = Vec::new();
    let mut from = 0;
    while let Some(i) = find(&hay[from..], needle) {
        at.push(from + i);
        from += i + needle.len();
    }
    at
}

fn json_leaves(value: &Value, path: &mut Vec<JsonStep>, out: &mut Vec<Point>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                path.push(JsonStep::Key(k.clone()));
                json_leaves(v, path, out);
                path.pop();
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                path.push(JsonStep::Index(i));
                json_leaves(v, path, out);
                path.pop();
            }
        }
        leaf => {
            let dotted: Vec<String> = path
                .iter()
                .map(|s| match s {
                    JsonStep::Key(k) => k.clone(),
                    JsonStep::Index(i) => i.to_string(),
                })
                .collect();
            out.push(Point {
                name: format!("JSON_{}", dotted.join(".")),
                value: match leaf {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                },
                location: Location::Json(path.clone()),
            });
        }
    }
}

fn xml_points(body: &[u8], out: &mut Vec<Point>) {
    let mut reader = quick_xml::Reader::from_reader(body);
    let mut stack: Vec<String> = Vec::new();
    // A text node arrives as several events when it holds entity references.
    let mut text: Option<(usize, usize)> = None;
    let flush = |text: &mut Option<(usize, usize)>, stack: &[String], out: &mut Vec<Point>| {
        if let Some((start, end)) = text.take() {
            let raw = String::from_utf8_lossy(&body[start..end]);
            if !raw.trim().is_empty() && !stack.is_empty() {
                let value = quick_xml::escape::unescape(&raw)
                    .map(|v| v.into_owned())
                    .unwrap_or_else(|_| raw.clone().into_owned());
                out.push(Point {
                    name: format!("XML_{}", stack.join(".")),
                    value,
                    location: Location::XmlText(start, end),
                });
            }
        }
    };
    loop {
        let before = reader.buffer_position() as usize;
        let event = match reader.read_event() {
            Ok(Event::Eof) | Err(_) => break,
            Ok(event) => event,
        };
        let after = reader.buffer_position() as usize;
        match &event {
            Event::Text(_) | Event::GeneralRef(_) => {
                text = Some(match text {
                    Some((start, _)) => (start, after),
                    None => (before, after),
                });
                continue;
            }
            _ => flush(&mut text, &stack, out),
        }
        let empty = matches!(event, Event::Empty(_));
        match event {
            Event::Start(e) | Event::Empty(e) => {
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                stack.push(name);
                for attr in e.attributes().flatten() {
                    let key = String::from_utf8_lossy(attr.key.as_ref()).into_owned();
                    if key == "xmlns" || key.starts_with("xmlns:") {
                        continue;
                    }
                    // The value borrows from the body, so its place is its pointer's offset.
                    let std::borrow::Cow::Borrowed(raw) = attr.value else {
                        continue;
                    };
                    let start = raw.as_ptr() as usize - body.as_ptr() as usize;
                    let value = attr
                        .unescape_value()
                        .map(|v| v.into_owned())
                        .unwrap_or_default();
                    out.push(Point {
                        name: format!("XML_{}@{key}", stack.join(".")),
                        value,
                        location: Location::XmlAttr(start, start + raw.len()),
                    });
                }
                if empty {
                    stack.pop();
                }
            }
            Event::End(_) => {
                stack.pop();
            }
            _ => {}
        }
    }
}

/// The request with `payload` at `point`, encoded so the application decodes it back to
/// `payload`; `None` when the point cannot carry it or the request no longer has the point.
pub fn inject(request: &Request, point: &Point, payload: &str) -> Option<Request> {
    let mut out = request.clone();
    let url = split_url(&request.url);
    match &point.location {
        Location::Uri => {
            let encoded: Vec<String> = payload
                .split('/')
                .map(|s| utf8_percent_encode(s, STRICT).to_string())
                .collect();
            let path = format!("/{}", encoded.join("/").trim_start_matches('/'));
            out.url = join_url(&url, &path, url.query);
        }
        Location::PathSegment(index) => {
            let (offset, seg) = path_segments(url.path).nth(*index)?;
            let path = format!(
                "{}{}{}",
                &url.path[..offset],
                utf8_percent_encode(payload, STRICT),
                &url.path[offset + seg.len()..]
            );
            out.url = join_url(&url, &path, url.query);
        }
        Location::Query(index) => {
            let query = replace_pair(
                url.query?,
                *index,
                &utf8_percent_encode(payload, STRICT).to_string(),
            )?;
            out.url = join_url(&url, url.path, Some(&query));
        }
        Location::Form(index) => {
            let body = String::from_utf8_lossy(&request.body);
            let value: String = url::form_urlencoded::byte_serialize(payload.as_bytes()).collect();
            out.body = replace_pair(&body, *index, &value)?.into_bytes();
        }
        Location::Multipart(start, end)
        | Location::XmlText(start, end)
        | Location::XmlAttr(start, end) => {
            if *end > request.body.len() || start > end {
                return None;
            }
            let replacement = match &point.location {
                Location::Multipart(..) => payload.to_owned(),
                _ => quick_xml::escape::escape(payload).into_owned(),
            };
            out.body = splice(&request.body, *start, *end, replacement.as_bytes());
        }
        Location::Json(path) => {
            let mut doc: Value = serde_json::from_slice(&request.body).ok()?;
            *json_at(&mut doc, path)? = Value::String(payload.to_owned());
            out.body = serde_json::to_vec(&doc).ok()?;
        }
        Location::Cookie(index) => {
            if payload.contains(['\r', '\n']) {
                return None;
            }
            // `;` would end the cookie; it is the one character a cookie value cannot carry.
            let value = payload.replace(';', "%3B");
            let cookie = request.header("cookie")?;
            let mut cookies: Vec<String> = cookie.split(';').map(|c| c.trim().to_owned()).collect();
            let target = cookies.get_mut(*index)?;
            let name = target
                .split_once('=')
                .map(|(n, _)| n)
                .unwrap_or(target)
                .to_owned();
            *target = format!("{name}={value}");
            set_header(&mut out.headers, "Cookie", &cookies.join("; "));
        }
        Location::Header(name) => {
            if payload.chars().any(|c| c.is_control() && c != '\t') {
                return None;
            }
            set_header(&mut out.headers, name, payload);
        }
    }
    Some(out)
}

/// The request with `payload` as raw XML at an XML text point, for a payload that is markup
/// itself (an entity reference): `prolog` goes right before the root element (a DOCTYPE).
/// `None` when the point is not an XML text node or the body already has a DOCTYPE.
pub fn inject_xml_markup(
    request: &Request,
    point: &Point,
    prolog: &str,
    markup: &str,
) -> Option<Request> {
    let Location::XmlText(start, end) = point.location else {
        return None;
    };
    let body = &request.body;
    let mut reader = quick_xml::Reader::from_reader(body.as_slice());
    let root = loop {
        let before = reader.buffer_position() as usize;
        match reader.read_event().ok()? {
            Event::DocType(_) | Event::Eof => return None,
            Event::Start(_) | Event::Empty(_) => break before,
            _ => {}
        }
    };
    if root > start || end > body.len() {
        return None;
    }
    let mut out = request.clone();
    let mut new = Vec::with_capacity(body.len() + prolog.len() + markup.len());
    new.extend_from_slice(&body[..root]);
    new.extend_from_slice(prolog.as_bytes());
    new.extend_from_slice(&body[root..start]);
    new.extend_from_slice(markup.as_bytes());
    new.extend_from_slice(&body[end..]);
    out.body = new;
    Some(out)
}

fn replace_pair(raw: &str, index: usize, encoded_value: &str) -> Option<String> {
    let mut pairs: Vec<String> = raw.split('&').map(str::to_owned).collect();
    let pair = pairs.get_mut(index)?;
    let name = pair
        .split_once('=')
        .map(|(n, _)| n)
        .unwrap_or(pair)
        .to_owned();
    *pair = format!("{name}={encoded_value}");
    Some(pairs.join("&"))
}

fn splice(body: &[u8], start: usize, end: usize, with: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + with.len());
    out.extend_from_slice(&body[..start]);
    out.extend_from_slice(with);
    out.extend_from_slice(&body[end..]);
    out
}

fn json_at<'a>(doc: &'a mut Value, path: &[JsonStep]) -> Option<&'a mut Value> {
    path.iter().try_fold(doc, |node, step| match step {
        JsonStep::Key(k) => node.get_mut(k.as_str()),
        JsonStep::Index(i) => node.get_mut(*i),
    })
}

fn set_header(headers: &mut Vec<(String, String)>, name: &str, value: &str) {
    match headers
        .iter_mut()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
    {
        Some(h) => h.1 = value.to_owned(),
        None => headers.push((name.to_owned(), value.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(method: &str, url: &str, content_type: Option<&str>, body: &str) -> Request {
        let mut headers = vec![("Host".to_owned(), "app".to_owned())];
        if let Some(ct) = content_type {
            headers.push(("Content-Type".into(), ct.into()));
        }
        Request {
            method: method.into(),
            url: url.into(),
            headers,
            body: body.as_bytes().to_vec(),
        }
    }

    fn names(r: &Request) -> Vec<String> {
        points(r).into_iter().map(|p| p.name).collect()
    }

    fn point(r: &Request, name: &str) -> Point {
        points(r).into_iter().find(|p| p.name == name).unwrap()
    }

    /// Decodes a query or form value the way Python's parse_qs does.
    fn decoded_pairs(raw: &str) -> Vec<(String, String)> {
        url::form_urlencoded::parse(raw.as_bytes())
            .into_owned()
            .collect()
    }

    const NASTY: &str = "a'\"<>&=+#%/?;\\ \u{e9}";

    #[test]
    fn query_path_and_header_points_are_named_in_fast_syntax() {
        let r = req(
            "GET",
            "http://app:8000/users/42/view?id=7&q=a%20b#top",
            None,
            "",
        );
        assert_eq!(
            names(&r),
            [
                "URI",
                "PATH_0",
                "PATH_1",
                "PATH_2",
                "GET_id",
                "GET_q",
                "HEADER_USER-AGENT",
                "HEADER_REFERER",
                "HEADER_X-FORWARDED-FOR"
            ]
        );
        assert_eq!(point(&r, "GET_q").value, "a b");
        assert_eq!(point(&r, "PATH_1").value, "42");
    }

    #[test]
    fn a_query_payload_reaches_the_app_as_its_raw_characters() {
        let r = req("GET", "http://app/s?id=7&q=x#frag", None, "");
        let out = inject(&r, &point(&r, "GET_id"), NASTY).unwrap();
        let query = out
            .url
            .split_once('?')
            .unwrap()
            .1
            .split_once('#')
            .unwrap()
            .0;
        assert_eq!(
            decoded_pairs(query),
            [
                ("id".to_owned(), NASTY.to_owned()),
                ("q".into(), "x".into())
            ]
        );
        assert!(out.url.ends_with("#frag"));
    }

    #[test]
    fn a_path_payload_keeps_dot_dot_and_encodes_slashes_within_its_segment() {
        let r = req("GET", "http://app/files/report.txt?x=1", None, "");
        let out = inject(&r, &point(&r, "PATH_1"), "../../etc/passwd").unwrap();
        assert_eq!(out.url, "http://app/files/..%2F..%2Fetc%2Fpasswd?x=1");
        let uri = inject(&r, &point(&r, "URI"), "a/../b c").unwrap();
        assert_eq!(uri.url, "http://app/a/../b%20c?x=1");
    }

    #[test]
    fn a_form_payload_is_urlencoded_and_other_fields_are_untouched() {
        let r = req(
            "POST",
            "http://app/login",
            Some("application/x-www-form-urlencoded"),
            "user=bob&pass=s%26cret",
        );
        assert!(names(&r).contains(&"POST_user".to_owned()));
        assert_eq!(point(&r, "POST_pass").value, "s&cret");
        let out = inject(&r, &point(&r, "POST_user"), NASTY).unwrap();
        let body = String::from_utf8(out.body).unwrap();
        assert_eq!(
            decoded_pairs(&body),
            [
                ("user".to_owned(), NASTY.to_owned()),
                ("pass".into(), "s&cret".into())
            ]
        );
    }

    #[test]
    fn every_json_leaf_is_a_point_and_a_payload_is_a_json_string() {
        let r = req(
            "POST",
            "http://app/api",
            Some("application/json; charset=utf-8"),
            r#"{"user":{"name":"bob","tags":["a",{"k":1}]},"active":true}"#,
        );
        let json: Vec<String> = names(&r)
            .into_iter()
            .filter(|n| n.starts_with("JSON_"))
            .collect();
        assert_eq!(
            json,
            [
                "JSON_active",
                "JSON_user.name",
                "JSON_user.tags.0",
                "JSON_user.tags.1.k"
            ]
        );
        let out = inject(&r, &point(&r, "JSON_user.tags.1.k"), NASTY).unwrap();
        let doc: Value = serde_json::from_slice(&out.body).unwrap();
        assert_eq!(doc["user"]["tags"][1]["k"], NASTY);
        assert_eq!(doc["user"]["name"], "bob");
    }

    #[test]
    fn multipart_fields_are_points_but_files_are_not() {
        let body = "--XyZ\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nhello\r\n--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a.txt\"\r\nContent-Type: text/plain\r\n\r\nfile\r\n--XyZ\r\nContent-Disposition: form-data; name=\"n\"\r\n\r\n7\r\n--XyZ--\r\n";
        let r = req(
            "POST",
            "http://app/up",
            Some("multipart/form-data; boundary=XyZ"),
            body,
        );
        let mp: Vec<String> = names(&r)
            .into_iter()
            .filter(|n| n.starts_with("POST_MULTIPART_"))
            .collect();
        assert_eq!(mp, ["POST_MULTIPART_title", "POST_MULTIPART_n"]);
        assert_eq!(point(&r, "POST_MULTIPART_title").value, "hello");
        let out = inject(&r, &point(&r, "POST_MULTIPART_n"), NASTY).unwrap();
        let text = String::from_utf8(out.body).unwrap();
        assert!(
            text.contains(&format!("name=\"n\"\r\n\r\n{NASTY}\r\n--XyZ--")),
            "{text}"
        );
        assert!(text.contains("\r\n\r\nhello\r\n"));
    }

    #[test]
    fn xml_text_and_attributes_are_points_and_payloads_are_escaped_there() {
        let body = r#"<?xml version="1.0"?><order id="5"><item sku="a&amp;b">Tea &amp; cake</item><note/></order>"#;
        let r = req("POST", "http://app/x", Some("application/xml"), body);
        let xml: Vec<String> = names(&r)
            .into_iter()
            .filter(|n| n.starts_with("XML_"))
            .collect();
        assert_eq!(
            xml,
            ["XML_order@id", "XML_order.item@sku", "XML_order.item"]
        );
        assert_eq!(point(&r, "XML_order.item").value, "Tea & cake");
        assert_eq!(point(&r, "XML_order.item@sku").value, "a&b");
        for name in ["XML_order.item", "XML_order.item@sku", "XML_order@id"] {
            let out = inject(&r, &point(&r, name), NASTY).unwrap();
            let again = points(&out).into_iter().find(|p| p.name == name).unwrap();
            assert_eq!(
                again.value,
                NASTY,
                "{name}: {}",
                String::from_utf8_lossy(&out.body)
            );
        }
    }

    #[test]
    fn xml_markup_goes_in_raw_with_a_doctype_before_the_root() {
        let body = r#"<?xml version="1.0"?><order><item>tea</item></order>"#;
        let r = req("POST", "http://app/x", Some("text/xml"), body);
        let out = inject_xml_markup(
            &r,
            &point(&r, "XML_order.item"),
            "<!DOCTYPE order [<!ENTITY e SYSTEM \"file:///etc/passwd\">]>",
            "&e;",
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(out.body).unwrap(),
            r#"<?xml version="1.0"?><!DOCTYPE order [<!ENTITY e SYSTEM "file:///etc/passwd">]><order><item>&e;</item></order>"#
        );
        let with_doctype = req(
            "POST",
            "http://app/x",
            Some("text/xml"),
            "<!DOCTYPE a><a>x</a>",
        );
        assert!(inject_xml_markup(
            &with_doctype,
            &point(&with_doctype, "XML_a"),
            "<!DOCTYPE a>",
            "&e;"
        )
        .is_none());
    }

    #[test]
    fn cookies_and_headers_are_points_and_line_breaks_cannot_go_in_a_header() {
        let mut r = req("GET", "http://app/", None, "");
        r.headers
            .push(("Cookie".into(), "sid=abc; theme=dark".into()));
        r.headers.push(("User-Agent".into(), "curl/8".into()));
        assert_eq!(point(&r, "COOKIE_theme").value, "dark");
        assert_eq!(point(&r, "HEADER_USER-AGENT").value, "curl/8");
        let out = inject(&r, &point(&r, "COOKIE_theme"), "x' OR '1").unwrap();
        assert_eq!(out.header("cookie"), Some("sid=abc; theme=x' OR '1"));
        let out = inject(&r, &point(&r, "HEADER_X-FORWARDED-FOR"), "1.2.3.4'").unwrap();
        assert_eq!(out.header("x-forwarded-for"), Some("1.2.3.4'"));
        assert!(inject(&r, &point(&r, "HEADER_REFERER"), "a\r\nX-Evil: 1").is_none());
    }
}
