//! The browser's tabs over CDP: listing them, opening one, and finding the one in front.
//!
//! A tab is a CDP `page` target. Which tab is in front, and whether it is still loading, are
//! the page's own `document.visibilityState` and `document.readyState`, read by attaching to
//! each tab for a moment.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::{json, Value};
use tapedeck_core::ui::BrowserTab;

use crate::cdp::CdpClient;
use crate::CaptureError;

/// Most tabs looked at; the rest of a browser with more are not listed.
pub const MAX_TABS: usize = 50;
/// How long a new tab gets to reach `DOMContentLoaded` before it is reported still loading.
const LOAD_WAIT: Duration = Duration::from_secs(10);

/// One tab's target id and the CDP session attached to it.
pub(crate) struct AttachedTab {
    pub(crate) target_id: String,
    pub(crate) session: String,
}

/// Every tab of the browser at `addr` + `browser_path`, in the browser's order.
pub async fn list(addr: SocketAddr, browser_path: &str) -> Result<Vec<BrowserTab>, CaptureError> {
    let mut cdp = CdpClient::connect(addr, browser_path).await?;
    let mut tabs = Vec::new();
    for target in page_targets(&mut cdp).await? {
        tabs.push(describe(&mut cdp, &target).await?);
    }
    Ok(tabs)
}

/// Most bytes of a page's HTML handed out.
pub const MAX_HTML_BYTES: usize = 4 * 1024 * 1024;

/// The HTML of the tab in front (`document.documentElement.outerHTML`), at most
/// [`MAX_HTML_BYTES`] (cut at a character boundary); `None` when no tab is open.
pub async fn front_html(
    addr: SocketAddr,
    browser_path: &str,
) -> Result<Option<String>, CaptureError> {
    let mut cdp = CdpClient::connect(addr, browser_path).await?;
    let Some(page) = front(&mut cdp).await? else {
        return Ok(None);
    };
    let html = cdp
        .call(
            "Runtime.evaluate",
            json!({"expression": "document.documentElement.outerHTML", "returnByValue": true}),
            Some(page.session.as_str()),
        )
        .await?;
    let mut html = html["result"]["value"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    if html.len() > MAX_HTML_BYTES {
        let cut = (0..=MAX_HTML_BYTES)
            .rev()
            .find(|i| html.is_char_boundary(*i))
            .unwrap_or(0);
        html.truncate(cut);
    }
    Ok(Some(html))
}

/// Opens `url` in a new tab in front and waits (up to 10 s) for its DOM to be loaded.
pub async fn open(
    addr: SocketAddr,
    browser_path: &str,
    url: &str,
) -> Result<BrowserTab, CaptureError> {
    let mut cdp = CdpClient::connect(addr, browser_path).await?;
    let created = cdp
        .call("Target.createTarget", json!({"url": url}), None)
        .await?;
    let target_id = created["targetId"].as_str().unwrap_or_default().to_owned();
    let attached = attach(&mut cdp, &target_id).await?;
    loaded_tab(&mut cdp, &attached).await
}

/// Loads `url` in tab `tab_id` and waits (up to 10 s) for its DOM; `None` when the browser has
/// no such tab.
pub async fn navigate(
    addr: SocketAddr,
    browser_path: &str,
    tab_id: &str,
    url: &str,
) -> Result<Option<BrowserTab>, CaptureError> {
    let mut cdp = CdpClient::connect(addr, browser_path).await?;
    if find_target(&mut cdp, tab_id).await?.is_none() {
        return Ok(None);
    }
    let attached = attach(&mut cdp, tab_id).await?;
    cdp.call(
        "Page.navigate",
        json!({"url": url}),
        Some(&attached.session),
    )
    .await?;
    loaded_tab(&mut cdp, &attached).await.map(Some)
}

/// Brings tab `tab_id` to the front; `None` when the browser has no such tab.
pub async fn switch(
    addr: SocketAddr,
    browser_path: &str,
    tab_id: &str,
) -> Result<Option<BrowserTab>, CaptureError> {
    let mut cdp = CdpClient::connect(addr, browser_path).await?;
    let Some(target) = find_target(&mut cdp, tab_id).await? else {
        return Ok(None);
    };
    cdp.call("Target.activateTarget", json!({"targetId": tab_id}), None)
        .await?;
    let attached = attach(&mut cdp, tab_id).await?;
    // The window shows it at its next frame; until then it may still say it is hidden.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    while !page_state(&mut cdp, &attached.session).await?.visible
        && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    describe_attached(&mut cdp, &target, &attached)
        .await
        .map(Some)
}

/// Closes tab `tab_id`; `false` when the browser has no such tab.
pub async fn close(
    addr: SocketAddr,
    browser_path: &str,
    tab_id: &str,
) -> Result<bool, CaptureError> {
    let mut cdp = CdpClient::connect(addr, browser_path).await?;
    if find_target(&mut cdp, tab_id).await?.is_none() {
        return Ok(false);
    }
    cdp.call("Target.closeTarget", json!({"targetId": tab_id}), None)
        .await?;
    Ok(true)
}

/// Closes every tab but a new blank one, which it leaves in front: the browser's pages are gone
/// while its window (and the box's recording of it) stays. Answers how many tabs were closed.
pub async fn close_all(addr: SocketAddr, browser_path: &str) -> Result<usize, CaptureError> {
    let mut cdp = CdpClient::connect(addr, browser_path).await?;
    let open = page_targets(&mut cdp).await?;
    // The blank tab comes first: a browser whose last tab closes ends itself.
    cdp.call("Target.createTarget", json!({"url": "about:blank"}), None)
        .await?;
    for target in &open {
        cdp.call(
            "Target.closeTarget",
            json!({"targetId": target["targetId"]}),
            None,
        )
        .await?;
    }
    Ok(open.len())
}

/// The page target `tab_id`, if the browser has it.
async fn find_target(cdp: &mut CdpClient, tab_id: &str) -> Result<Option<Value>, CaptureError> {
    Ok(page_targets(cdp)
        .await?
        .into_iter()
        .find(|t| t["targetId"] == tab_id))
}

/// Waits (up to 10 s) for the attached tab's DOM to load, then describes it.
async fn loaded_tab(
    cdp: &mut CdpClient,
    attached: &AttachedTab,
) -> Result<BrowserTab, CaptureError> {
    let deadline = tokio::time::Instant::now() + LOAD_WAIT;
    loop {
        let state = page_state(cdp, &attached.session).await?;
        let loaded = state.ready != "loading" && state.url != "about:blank";
        if loaded || tokio::time::Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let target = cdp
        .call(
            "Target.getTargetInfo",
            json!({"targetId": attached.target_id}),
            None,
        )
        .await?;
    describe_attached(cdp, &target["targetInfo"], attached).await
}

/// The tab in front (visible), attached; the first tab when none says it is visible, and
/// `None` without tabs.
pub(crate) async fn front(cdp: &mut CdpClient) -> Result<Option<AttachedTab>, CaptureError> {
    let mut first = None;
    for target in page_targets(cdp).await? {
        let id = target["targetId"].as_str().unwrap_or_default();
        let attached = attach(cdp, id).await?;
        if page_state(cdp, &attached.session).await?.visible {
            return Ok(Some(attached));
        }
        first.get_or_insert(attached);
    }
    Ok(first)
}

async fn page_targets(cdp: &mut CdpClient) -> Result<Vec<Value>, CaptureError> {
    let targets = cdp.call("Target.getTargets", json!({}), None).await?;
    Ok(targets["targetInfos"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|t| t["type"] == "page")
        .take(MAX_TABS)
        .cloned()
        .collect())
}

async fn attach(cdp: &mut CdpClient, target_id: &str) -> Result<AttachedTab, CaptureError> {
    let attached = cdp
        .call(
            "Target.attachToTarget",
            json!({"targetId": target_id, "flatten": true}),
            None,
        )
        .await?;
    Ok(AttachedTab {
        target_id: target_id.to_owned(),
        session: attached["sessionId"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    })
}

/// What a page says about itself.
struct PageState {
    visible: bool,
    ready: String,
    url: String,
}

async fn page_state(cdp: &mut CdpClient, session: &str) -> Result<PageState, CaptureError> {
    let answer = cdp
        .call(
            "Runtime.evaluate",
            json!({"expression": "[document.visibilityState, document.readyState, location.href]",
                   "returnByValue": true}),
            Some(session),
        )
        .await?;
    let value = &answer["result"]["value"];
    let text = |i: usize| value[i].as_str().unwrap_or_default().to_owned();
    Ok(PageState {
        visible: text(0) == "visible",
        ready: text(1),
        url: text(2),
    })
}

async fn describe(cdp: &mut CdpClient, target: &Value) -> Result<BrowserTab, CaptureError> {
    let id = target["targetId"].as_str().unwrap_or_default();
    let attached = attach(cdp, id).await?;
    describe_attached(cdp, target, &attached).await
}

async fn describe_attached(
    cdp: &mut CdpClient,
    target: &Value,
    attached: &AttachedTab,
) -> Result<BrowserTab, CaptureError> {
    let state = page_state(cdp, &attached.session).await?;
    // Detaching is tidiness only: the connection, and every attachment with it, closes next.
    let _ = cdp
        .call(
            "Target.detachFromTarget",
            json!({"sessionId": attached.session}),
            None,
        )
        .await;
    Ok(BrowserTab {
        id: attached.target_id.clone(),
        title: target["title"].as_str().unwrap_or_default().to_owned(),
        url: target["url"].as_str().unwrap_or_default().to_owned(),
        active: state.visible,
        loading: state.ready != "complete",
    })
}
