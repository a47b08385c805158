//! JSON documents whose one large array is streamed from a test record's baseline pages: an
//! export of any size holds one page in memory, not the record.

use axum::body::Body;
use bytes::Bytes;
use futures::stream;
use serde::Serialize;
use tapedeck_core::Baseline;
use tapedeck_engine::BaselinePages;

/// `head` (which serializes to a JSON object) opened for one more member, the array `key`:
/// `{"a":1}` becomes `{"a":1,"key":[`.
///
/// Errors: when `head` does not serialize to a JSON object.
pub(super) fn open_array(head: &impl Serialize, key: &str) -> serde_json::Result<String> {
    let text = serde_json::to_string(head)?;
    let Some(members) = text.strip_suffix('}') else {
        return Err(serde::ser::Error::custom("the head is not a JSON object"));
    };
    let separator = if members == "{" { "" } else { "," };
    Ok(format!(
        "{members}{separator}{}:[",
        serde_json::to_string(key)?
    ))
}

/// Where the stream is.
enum Part {
    Prefix(String),
    Items { first: bool },
    Suffix,
}

/// The body `prefix`, then `item(b)` for every baseline `pages` yields, comma-separated, then
/// `suffix`. A failure mid-way (the database) ends the body early, which the client sees as a
/// cut-off download; it is logged.
pub(super) fn streamed_json(
    prefix: String,
    suffix: &'static str,
    pages: BaselinePages,
    item: impl Fn(&Baseline) -> serde_json::Result<Vec<u8>> + Send + Sync + 'static,
) -> Body {
    let parts = stream::unfold(
        (Some(Part::Prefix(prefix)), pages, item),
        move |(part, mut pages, item)| async move {
            let chunk = match part? {
                Part::Prefix(prefix) => {
                    let next = Part::Items { first: true };
                    return Some((Ok(Bytes::from(prefix)), (Some(next), pages, item)));
                }
                Part::Suffix => {
                    return Some((
                        Ok(Bytes::from_static(suffix.as_bytes())),
                        (None, pages, item),
                    ))
                }
                Part::Items { first } => match pages.next_page().await {
                    Ok(Some(page)) => page_bytes(&page, first, &item),
                    Ok(None) => return Some((Ok(Bytes::new()), (Some(Part::Suffix), pages, item))),
                    Err(e) => Err(std::io::Error::other(e.to_string())),
                },
            };
            match chunk {
                Ok(bytes) => Some((Ok(bytes), (Some(Part::Items { first: false }), pages, item))),
                Err(e) => {
                    tracing::error!(error = %e, "an export stopped part-way");
                    Some((Err(e), (None, pages, item)))
                }
            }
        },
    );
    Body::from_stream(parts)
}

/// One page of items, each preceded by a comma but for the very first.
fn page_bytes(
    page: &[Baseline],
    first: bool,
    item: &impl Fn(&Baseline) -> serde_json::Result<Vec<u8>>,
) -> Result<Bytes, std::io::Error> {
    let mut out = Vec::new();
    for (i, baseline) in page.iter().enumerate() {
        if !(first && i == 0) {
            out.push(b',');
        }
        out.extend(item(baseline).map_err(std::io::Error::other)?);
    }
    Ok(Bytes::from(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_head_opens_for_its_array() {
        let head = serde_json::json!({"id": 7, "name": "a \"b\""});
        let open = open_array(&head, "baselines").unwrap();
        let closed: serde_json::Value = serde_json::from_str(&format!("{open}1,2]}}")).unwrap();
        assert_eq!(closed["baselines"], serde_json::json!([1, 2]));
        assert_eq!(closed["name"], "a \"b\"");
        let empty = open_array(&serde_json::json!({}), "x").unwrap();
        assert_eq!(empty, "{\"x\":[");
        assert!(open_array(&[1, 2], "x").is_err());
    }
}
