//! `/boxes`: create, get, list, terminate.

use std::time::Duration;

use axum::extract::rejection::QueryRejection;
use axum::extract::{OriginalUri, Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{any, MethodRouter};
use axum::Extension;
use axum::Json;
use bytes::Bytes;
use tapedeck_core::duration::duration_field;
use tapedeck_core::{EngineError, Session, SessionKind, SessionSpec, SessionState, Viewport};
use tapedeck_store::meta::SessionFilter;

use super::wire::{
    labels_of, BoxDisplay, BoxPage, CreateBox, LinuxBox, ListQuery, LiveViewRequest, LiveViewUrl,
    Resolution,
};
use super::GboxError;
use crate::common::auth::Caller;
use crate::common::body::parse_json;
use crate::common::error::query;
use crate::common::live_view;
use crate::common::token::LiveAccess;
use crate::ApiState;

/// A box lives this long unless `config.expiresIn` says otherwise.
const DEFAULT_EXPIRES: Duration = Duration::from_secs(60 * 60);
/// The longest lifetime a box may ask for.
const MAX_EXPIRES: Duration = Duration::from_secs(24 * 60 * 60);
/// Create's documented `timeout` default and maximum.
const DEFAULT_CREATE_TIMEOUT: Duration = Duration::from_secs(30);
const MAX_CREATE_TIMEOUT: Duration = Duration::from_secs(5 * 60);
/// Boxes read from the database at a time while listing.
const LIST_BATCH: u32 = 500;
/// A box's screen.
const BOX_SCREEN: Viewport = Viewport {
    width: 1280,
    height: 720,
};

/// `project`'s running or terminated box `id`; a Kernel browser is not a box.
pub(super) async fn find_box(
    state: &ApiState,
    project: &str,
    id: &str,
) -> Result<Session, GboxError> {
    let session = state.engine.get_session(project, id, true).await?;
    if session.spec.kind != SessionKind::LinuxBox {
        return Err(EngineError::not_found("box", id).into());
    }
    Ok(session)
}

/// `project`'s running box `id`; actions on a terminated box are not found.
pub(super) async fn running_box(
    state: &ApiState,
    project: &str,
    id: &str,
) -> Result<Session, GboxError> {
    let session = find_box(state, project, id).await?;
    if session.state != SessionState::Running {
        return Err(EngineError::not_found("running box", id).into());
    }
    Ok(session)
}

/// `POST /boxes/linux` → 201 with the box, once its desktop and browser run.
pub async fn create_linux(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Result<(StatusCode, Json<LinuxBox>), GboxError> {
    let params: CreateBox = parse_json(&body)?;
    duration_field(
        "timeout",
        params.timeout.as_deref(),
        DEFAULT_CREATE_TIMEOUT,
        MAX_CREATE_TIMEOUT,
    )?;
    let config = params.config.unwrap_or_default();
    let lifetime = duration_field(
        "config.expiresIn",
        config.expires_in.as_deref(),
        DEFAULT_EXPIRES,
        MAX_EXPIRES,
    )?;
    let spec = SessionSpec {
        kind: SessionKind::LinuxBox,
        name: None,
        viewport: BOX_SCREEN,
        start_url: None,
        // A box lives until it expires or is terminated, not until it is idle.
        timeout_seconds: *SessionSpec::TIMEOUT_RANGE.end(),
        kiosk: false,
        tags: config
            .labels
            .into_iter()
            .map(|(k, v)| (k, serde_json::Value::String(v)))
            .collect(),
        envs: config.envs,
        lifetime_secs: Some(lifetime.as_secs().max(1)),
    };
    let session = state.engine.create_session(caller.project(), spec).await?;
    Ok((StatusCode::CREATED, Json(LinuxBox::from_session(session))))
}

/// `POST /boxes/android` → 400: Android boxes need an attached device.
pub async fn create_android() -> GboxError {
    EngineError::InvalidInput(
        "Android boxes need an attached Android device (adb), which this server does not have; \
         create a Linux box with POST /boxes/linux"
            .into(),
    )
    .into()
}

/// `GET /boxes/{id}`; a terminated box still reads, as `terminated`.
pub async fn retrieve(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<LinuxBox>, GboxError> {
    Ok(Json(LinuxBox::from_session(
        find_box(&state, caller.project(), &id).await?,
    )))
}

/// `GET /boxes?page&pageSize&status&type&labels[k]=v` → `{data, page, pageSize, total}`.
pub async fn list(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<BoxPage>, GboxError> {
    let q = query(q)?;
    let page = q.page.unwrap_or(1).max(1);
    let page_size = q.page_size.unwrap_or(20).clamp(1, 100);
    let csv = |v: &Option<String>| -> Vec<String> {
        v.iter()
            .flat_map(|s| s.split(','))
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty() && s != "all")
            .collect()
    };
    let statuses = csv(&q.status);
    let kinds = csv(&q.kind);
    let labels: Vec<(String, String)> = q
        .rest
        .iter()
        .filter_map(|(k, v)| {
            let key = k.strip_prefix("labels[")?.strip_suffix(']')?;
            Some((key.to_owned(), v.clone()))
        })
        .collect();
    // Linux boxes only: an `android` filter matches none. Boxes are read from the database a
    // batch at a time and only the asked page is kept, so a project with years of boxes costs
    // one batch of memory; `total` counts every match.
    let mut data = Vec::new();
    let mut total = 0u64;
    let skip = (page - 1).saturating_mul(page_size);
    if kinds.is_empty() || kinds.iter().any(|k| k == "linux") {
        let mut offset = 0;
        loop {
            let batch = state
                .engine
                .list_sessions(
                    caller.project(),
                    &SessionFilter::of_kind(SessionKind::LinuxBox, true),
                    LIST_BATCH,
                    offset,
                )
                .await?;
            offset += batch.items.len() as u64;
            for session in batch.items {
                let box_labels = labels_of(&session);
                if !labels.iter().all(|(k, v)| box_labels.get(k) == Some(v)) {
                    continue;
                }
                let linux_box = LinuxBox::from_session(session);
                if !statuses.is_empty() && !statuses.iter().any(|s| s == linux_box.status) {
                    continue;
                }
                if total >= skip && data.len() < page_size as usize {
                    data.push(linux_box);
                }
                total += 1;
            }
            if !batch.has_more {
                break;
            }
        }
    }
    Ok(Json(BoxPage {
        data,
        page,
        page_size,
        total,
    }))
}

/// `POST /boxes/{id}/terminate` → 200 with an empty body; the box stays readable, and
/// terminating it again is a no-op.
pub async fn terminate(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<StatusCode, GboxError> {
    let session = find_box(&state, caller.project(), &id).await?;
    if session.state == SessionState::Running {
        state
            .engine
            .delete_session(caller.project(), &session.id)
            .await?;
    }
    Ok(StatusCode::OK)
}

/// `GET /boxes/{id}/display` → `{orientation, resolution: {width, height}}` of the box's
/// screen (a desktop is not rotated: landscape when wider than tall).
pub async fn display(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<BoxDisplay>, GboxError> {
    let screen = running_box(&state, caller.project(), &id)
        .await?
        .spec
        .viewport;
    let orientation = if screen.width > screen.height {
        "landscapeLeft"
    } else {
        "portrait"
    };
    Ok(Json(BoxDisplay {
        orientation,
        resolution: Resolution::of(screen),
    }))
}

/// `POST /boxes/{id}/resolution {width, height}` → the screen's `{width, height}`. A box's
/// screen keeps its size for its whole life (its recording is that size), so asking for
/// another size is a 400 naming the box's.
pub async fn set_resolution(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Resolution>, GboxError> {
    let screen = running_box(&state, caller.project(), &id)
        .await?
        .spec
        .viewport;
    let asked: Resolution = parse_json(&body)?;
    let current = Resolution::of(screen);
    if asked != current {
        return Err(EngineError::InvalidInput(format!(
            "a Linux box's screen is {}x{} for its whole life, as its recordings are; \
             {}x{} cannot be set",
            screen.width, screen.height, asked.width, asked.height
        ))
        .into());
    }
    Ok(Json(current))
}

/// `POST /boxes/{id}/start` → the box: a running box is already started. A terminated box
/// cannot start again (see [`stop`]).
pub async fn start(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<LinuxBox>, GboxError> {
    let session = find_box(&state, caller.project(), &id).await?;
    if session.state != SessionState::Running {
        return Err(EngineError::conflict(format!(
            "box {id} is terminated and cannot start again: create a new box"
        ))
        .into());
    }
    Ok(Json(LinuxBox::from_session(session)))
}

/// A live-view URL's lifetime when none is asked for (GBOX's default, 180m).
const DEFAULT_LIVE_VIEW: Duration = Duration::from_secs(180 * 60);
/// The longest lifetime a live-view URL may ask for.
const MAX_LIVE_VIEW: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// `POST /boxes/{id}/live-view-url {expiresIn?}` → `{url, rawUrl}`: the viewer page, and the
/// bare screen for embedding; both watch the box and drive its mouse and keyboard.
pub async fn live_view_url(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<LiveViewUrl>, GboxError> {
    let session = running_box(&state, caller.project(), &id).await?;
    let params: LiveViewRequest = parse_json(&body)?;
    let ttl = duration_field(
        "expiresIn",
        params.expires_in.as_deref(),
        DEFAULT_LIVE_VIEW,
        MAX_LIVE_VIEW,
    )?;
    let ttl = time::Duration::try_from(ttl).unwrap_or(time::Duration::hours(3));
    let urls = live_view::urls(&state, &session, LiveAccess::Control, ttl, false);
    Ok(Json(LiveViewUrl {
        url: urls.url,
        raw_url: urls.raw_url,
    }))
}

/// A GBOX route this server does not serve for a Linux box, answered with a 400 that names the
/// route and says `why`, once the box is known to be the caller's running box.
pub fn refused(why: &'static str) -> MethodRouter<ApiState> {
    any(
        move |State(state): State<ApiState>,
              Extension(caller): Extension<Caller>,
              Path(params): Path<Vec<(String, String)>>,
              uri: OriginalUri| async move {
            let id = params
                .iter()
                .find(|(name, _)| name == "id")
                .map_or("", |(_, value)| value.as_str());
            if let Err(e) = running_box(&state, caller.project(), id).await {
                return e;
            }
            let route = uri
                .path()
                .split_once("/boxes/")
                .map_or(uri.path(), |(_, rest)| rest);
            let route = route.split_once('/').map_or(route, |(_, rest)| rest);
            GboxError::from(EngineError::InvalidInput(format!("{route}: {why}")))
        },
    )
}

/// Why the Android-only routes (`press-button`, `screen-rotation`, `settings`, `android/*`,
/// `media/*`) are refused.
pub const ANDROID_ONLY: &str =
    "an Android box route; this box is a Linux box, which does not have it";
/// Why `stop` is refused.
pub const NOT_STOPPABLE: &str = "a Linux box here cannot be stopped and resumed: its desktop \
     and browser live in memory and end with it; terminate it, or leave it running until it \
     expires";
/// Why `actions/extract` is refused.
pub const NO_EXTRACTION: &str = "extraction needs a vision-language model, which this server \
     does not run: read the page with actions/screen-layout or actions/elements/detect";
/// Why `web-terminal-url` and `websocket-url` are refused.
pub const NO_TERMINAL: &str =
    "an interactive terminal is not served: run programs with POST /boxes/{id}/commands";
/// Why `proxy` and `browser/proxy` are refused.
pub const NO_PROXY_SETTING: &str = "a box's proxy cannot be set: its browser goes through \
     Tapedeck's recording proxy when a test run records it, and straight out otherwise";
