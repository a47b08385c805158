//! Finding a described element through the page's accessibility tree.
//!
//! `tap(target="login button")` needs no AI model: the page's accessibility tree already names
//! every control with its role and accessible name. The best match wins, and its box centre is
//! turned into screen coordinates for real X input.

use std::net::SocketAddr;

use serde_json::{json, Value};
use tapedeck_core::ui::{ElementBounds, LocatedElement};

use crate::cdp::CdpClient;
use crate::tabs;
use crate::CaptureError;

/// Most elements one detection lists.
pub const MAX_ELEMENTS: usize = 200;

/// Roles a person acts on; they win over static text with the same name.
const INTERACTIVE_ROLES: &[&str] = &[
    "button",
    "link",
    "textbox",
    "searchbox",
    "checkbox",
    "radio",
    "combobox",
    "menuitem",
    "tab",
    "switch",
    "option",
    "slider",
];

/// Finds the element of the tab in front that best matches `description`, scrolled into view.
pub async fn find_by_description(
    addr: SocketAddr,
    browser_path: &str,
    description: &str,
) -> Result<Option<LocatedElement>, CaptureError> {
    let mut cdp = CdpClient::connect(addr, browser_path).await?;
    let Some(page) = tabs::front(&mut cdp).await? else {
        return Ok(None);
    };
    let session = Some(page.session.as_str());

    let tree = cdp
        .call("Accessibility.getFullAXTree", json!({}), session)
        .await?;
    let best = tree["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|n| n["ignored"] != json!(true))
        .filter_map(|n| {
            let role = n["role"]["value"].as_str()?.to_owned();
            let name = n["name"]["value"].as_str()?.to_owned();
            let node = n["backendDOMNodeId"].as_i64()?;
            let score = match_score(description, &role, &name);
            (score > 0).then_some((score, role, name, node))
        })
        .max_by_key(|(score, ..)| *score);
    let Some((_, role, name, node)) = best else {
        return Ok(None);
    };

    // Best effort: an element already in view needs no scrolling.
    let _ = cdp
        .call(
            "DOM.scrollIntoViewIfNeeded",
            json!({"backendNodeId": node}),
            session,
        )
        .await;
    let origin = viewport_origin(&mut cdp, session).await?;
    let Some(bounds) = screen_box(&mut cdp, session, node, origin).await? else {
        return Ok(None);
    };
    Ok(Some(LocatedElement {
        role,
        name,
        x: (bounds.0 + bounds.2 / 2.0).round() as i64,
        y: (bounds.1 + bounds.3 / 2.0).round() as i64,
    }))
}

/// The elements of the tab in front a person can act on (an interactive role and a box on
/// the page), in document order, at most [`MAX_ELEMENTS`].
pub async fn interactive(
    addr: SocketAddr,
    browser_path: &str,
) -> Result<Vec<ElementBounds>, CaptureError> {
    let mut cdp = CdpClient::connect(addr, browser_path).await?;
    let Some(page) = tabs::front(&mut cdp).await? else {
        return Ok(Vec::new());
    };
    let session = Some(page.session.as_str());
    let tree = cdp
        .call("Accessibility.getFullAXTree", json!({}), session)
        .await?;
    let origin = viewport_origin(&mut cdp, session).await?;
    let mut found = Vec::new();
    for n in tree["nodes"].as_array().into_iter().flatten() {
        let role = n["role"]["value"].as_str().unwrap_or_default();
        let (false, Some(node)) = (n["ignored"] == json!(true), n["backendDOMNodeId"].as_i64())
        else {
            continue;
        };
        if !INTERACTIVE_ROLES.contains(&role) {
            continue;
        }
        // Hidden elements have no box; they are not on the screen to act on.
        if let Some((x, y, width, height)) = screen_box(&mut cdp, session, node, origin).await? {
            found.push(ElementBounds {
                role: role.to_owned(),
                name: n["name"]["value"].as_str().unwrap_or_default().to_owned(),
                x,
                y,
                width,
                height,
            });
        }
        if found.len() == MAX_ELEMENTS {
            break;
        }
    }
    Ok(found)
}

/// The screen box (left, top, width, height) of DOM node `node`, the viewport being at
/// `origin` on the screen; `None` when it has no box.
async fn screen_box(
    cdp: &mut CdpClient,
    session: Option<&str>,
    node: i64,
    origin: (f64, f64),
) -> Result<Option<(f64, f64, f64, f64)>, CaptureError> {
    let Ok(model) = cdp
        .call("DOM.getBoxModel", json!({"backendNodeId": node}), session)
        .await
    else {
        return Ok(None);
    };
    let quad: Vec<f64> = model["model"]["border"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_f64)
        .collect();
    if quad.len() != 8 {
        return Ok(None);
    }
    let xs = [quad[0], quad[2], quad[4], quad[6]];
    let ys = [quad[1], quad[3], quad[5], quad[7]];
    let (left, top) = (
        xs.iter().copied().fold(f64::MAX, f64::min),
        ys.iter().copied().fold(f64::MAX, f64::min),
    );
    let (right, bottom) = (
        xs.iter().copied().fold(f64::MIN, f64::max),
        ys.iter().copied().fold(f64::MIN, f64::max),
    );
    let (ox, oy) = origin;
    Ok(Some((ox + left, oy + top, right - left, bottom - top)))
}

/// Where the page's viewport sits on the screen: the window's position plus its toolbar.
async fn viewport_origin(
    cdp: &mut CdpClient,
    session: Option<&str>,
) -> Result<(f64, f64), CaptureError> {
    let origin = cdp
        .call(
            "Runtime.evaluate",
            json!({"expression": "[screenX + outerWidth - innerWidth, screenY + outerHeight - innerHeight]",
                   "returnByValue": true}),
            session,
        )
        .await?;
    let offset = &origin["result"]["value"];
    Ok((
        offset[0].as_f64().unwrap_or(0.0),
        offset[1].as_f64().unwrap_or(0.0),
    ))
}

fn words(text: &str) -> Vec<String> {
    text.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

/// How well a node with `role` and accessible `name` matches `description`; 0 is no match.
///
/// Each description word found in the name counts most; a word naming the role (`button`,
/// `link`) counts next; interactive roles beat static text; and a name with no words beyond the
/// description beats a longer one.
pub fn match_score(description: &str, role: &str, name: &str) -> i64 {
    let wanted = words(description);
    let name_words = words(name);
    let role = role.to_lowercase();
    let name_hits = wanted.iter().filter(|w| name_words.contains(w)).count() as i64;
    if name_hits == 0 {
        return 0;
    }
    let role_hit = wanted
        .iter()
        .any(|w| *w == role || (w == "field" && role == "textbox"));
    let interactive = INTERACTIVE_ROLES.contains(&role.as_str());
    let extra_words = name_words.iter().filter(|w| !wanted.contains(w)).count() as i64;
    name_hits * 100 + i64::from(role_hit) * 30 + i64::from(interactive) * 20 - extra_words * 5
}

#[cfg(test)]
mod tests {
    use super::match_score;

    #[test]
    fn the_named_button_beats_its_text_and_other_buttons() {
        let d = "login button";
        let button = match_score(d, "button", "Login");
        assert!(button > match_score(d, "StaticText", "Login"));
        assert!(button > match_score(d, "button", "Sign up"));
        assert!(button > match_score(d, "link", "Login help and account recovery"));
        assert_eq!(match_score(d, "button", "Cancel"), 0);
        assert_eq!(match_score(d, "button", ""), 0);
    }

    #[test]
    fn matching_is_case_insensitive() {
        assert!(match_score("SUBMIT", "button", "submit") > 0);
    }
}
