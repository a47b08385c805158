//! Display sessions: create (with a profile or not), look up, list, relabel and delete; their
//! activity and CDP guards.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tapedeck_capture::chromium::user_data_dir;
use tapedeck_capture::{Browser, Display};
use tapedeck_core::{id, EngineError, Session, SessionSpec, SessionState, StopReason};
use tapedeck_store::meta::{Page, SessionFilter};
use time::OffsetDateTime;
use tokio::sync::OwnedSemaphorePermit;

use crate::counters::Counters;
use crate::displays::DisplayLease;
use crate::endpoints::EndpointClaim;
use crate::launch::{remove_session_dir, stop_processes, LaunchOptions, StartedSession};
use crate::profiles::{HeldProfile, ProfileRequest};
use crate::{lock, to_completion, Engine};

/// How long a teardown waits for an action in progress to release the display.
const DISPLAY_WAIT: Duration = Duration::from_secs(3);

/// The running sessions, by id.
pub(crate) type LiveSessions = HashMap<String, Arc<LiveSession>>;

/// A session whose display and browser are running on this node.
pub(crate) struct LiveSession {
    pub(crate) session: Session,
    pub(crate) display: tokio::sync::Mutex<Option<Display>>,
    pub(crate) browser: tokio::sync::Mutex<Option<Browser>>,
    /// The profile it loaded, if any.
    profile: Option<HeldProfile>,
    pub(crate) devtools: SocketAddr,
    pub(crate) browser_ws_path: String,
    /// The X server's process group, to stop it under an action stuck on it.
    display_pgid: i32,
    pub(crate) activity: Activity,
    /// The text this session's clipboard holds, when a client wrote it.
    pub(crate) clipboard: Mutex<Option<tapedeck_capture::clipboard::ClipboardOwner>>,
    /// Its live view: feed, input connection and revocations.
    pub(crate) live_view: crate::live_view::LiveViewState,
    /// Its event clock and count.
    pub(crate) events: crate::events::SessionEvents,
    _display_lease: DisplayLease,
    _slot: OwnedSemaphorePermit,
    /// Released when the last holder drops, after the browser is stopped.
    _devtools_claim: EndpointClaim,
}

/// When a session was last used, and how many CDP connections hold it open.
#[derive(Default)]
pub(crate) struct Activity {
    last: Mutex<Option<Instant>>,
    open_connections: AtomicUsize,
}

impl Activity {
    fn touch(&self) {
        *lock(&self.last) = Some(Instant::now());
    }

    pub(crate) fn idle_for(&self) -> Option<Duration> {
        if self.open_connections.load(Ordering::SeqCst) > 0 {
            return None;
        }
        lock(&self.last).map(|t| t.elapsed())
    }
}

/// Where a CDP client should be connected, held open while the guard lives.
pub struct CdpEndpoint {
    /// Chromium's loopback DevTools address.
    pub addr: SocketAddr,
    /// The browser-level WebSocket path, `/devtools/browser/<uuid>`.
    pub path: String,
    /// Counts as activity (no inactivity timeout) until dropped.
    pub guard: ConnectionGuard,
}

/// Keeps a session active while a CDP or live-view connection is open.
pub struct ConnectionGuard {
    session: Arc<LiveSession>,
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.session
            .activity
            .open_connections
            .fetch_sub(1, Ordering::SeqCst);
        self.session.activity.touch();
    }
}

/// The labels of a running session a client may change; `None` keeps the current value.
#[derive(Debug, Clone, Default)]
pub struct SessionLabels {
    /// A new name, or `Some(None)` to drop the name.
    pub name: Option<Option<String>>,
    /// New tags, replacing the old ones.
    pub tags: Option<serde_json::Map<String, serde_json::Value>>,
}

impl Engine {
    /// Starts a display and a headful Chromium for `spec` in `project`, or hands out a pooled
    /// one that fits.
    ///
    /// Errors: `InvalidInput` for a bad spec, `Conflict` when a live session of the project
    /// already has its name, `CapacityExhausted` when every slot is taken.
    #[tracing::instrument(skip_all, fields(project, name = spec.name.as_deref()))]
    pub async fn create_session(
        &self,
        project: &str,
        spec: SessionSpec,
    ) -> Result<Session, EngineError> {
        let (engine, project) = (self.clone(), project.to_owned());
        to_completion(async move { engine.start_session(&project, spec, None).await }).await
    }

    /// As [`Engine::create_session`], with one of `project`'s profiles loaded into the
    /// browser, and saved back when the session ends if `profile` asks so.
    ///
    /// Errors: those of [`Engine::create_session`], and `NotFound` for an unknown profile,
    /// `Conflict` while another session uses it.
    #[tracing::instrument(skip_all, fields(project, name = spec.name.as_deref(), profile = %profile.id_or_name))]
    pub async fn create_session_with_profile(
        &self,
        project: &str,
        spec: SessionSpec,
        profile: ProfileRequest,
    ) -> Result<Session, EngineError> {
        let (engine, project) = (self.clone(), project.to_owned());
        to_completion(async move { engine.start_session(&project, spec, Some(profile)).await })
            .await
    }

    async fn start_session(
        &self,
        project: &str,
        spec: SessionSpec,
        profile: Option<ProfileRequest>,
    ) -> Result<Session, EngineError> {
        spec.validate()?;
        if self.is_draining() {
            return Err(EngineError::CapacityExhausted(
                "this node is draining (shutting down) and takes no new sessions".into(),
            ));
        }
        if let Some(name) = &spec.name {
            self.ensure_name_free(project, name, None).await?;
        }
        let Some(request) = profile else {
            let started = match self.take_warm(&spec) {
                // A pooled session becomes a client's: the fleet sees one more running here.
                // (A cold start announced its slot as it took it.)
                Some(warm) => {
                    self.announce_load().await;
                    warm
                }
                None => self.start_cold(&spec, id::new_id(), None).await?,
            };
            return self.hand_out(project, spec, started, None).await;
        };
        // A pooled browser already runs on an empty user-data dir, so a profile takes a cold
        // start, under an id chosen first: the claim names it.
        let id = id::new_id();
        let (held, user_data) = self.claim_profile(project, &request, &id).await?;
        let user_data = user_data.map(|archive| (held.clone(), archive));
        let handed_out = async {
            let started = self.start_cold(&spec, id.clone(), user_data).await?;
            self.hand_out(project, spec, started, Some(held.clone()))
                .await
        }
        .await;
        if handed_out.is_err() {
            self.release_profile(&held, &id).await;
        }
        handed_out
    }

    /// Stores the session `started` runs for `spec` and hands it out; stops it if it cannot be
    /// stored.
    async fn hand_out(
        &self,
        project: &str,
        spec: SessionSpec,
        started: StartedSession,
        profile: Option<HeldProfile>,
    ) -> Result<Session, EngineError> {
        let inner = &self.inner;
        let id = started.id.clone();
        let display_number = started.lease.number();
        let session = Session {
            id: id.clone(),
            project: project.to_owned(),
            spec,
            state: SessionState::Running,
            created_at: OffsetDateTime::now_utc(),
            deleted_at: None,
            end_reason: None,
            node: Some(self.node_id().to_owned()),
        };
        if let Err(e) = inner.meta.insert_session(&session).await {
            started.stop(&inner.config).await;
            return Err(e.into());
        }
        let StartedSession {
            display,
            browser,
            lease,
            slot,
            devtools_claim,
            ..
        } = started;
        let live = Arc::new(LiveSession {
            display_pgid: display.pgid(),
            devtools: browser.devtools_addr(),
            browser_ws_path: browser.browser_ws_path().to_owned(),
            session: session.clone(),
            display: tokio::sync::Mutex::new(Some(display)),
            browser: tokio::sync::Mutex::new(Some(browser)),
            profile,
            activity: Activity::default(),
            clipboard: Mutex::default(),
            live_view: Default::default(),
            events: Default::default(),
            _display_lease: lease,
            _slot: slot,
            _devtools_claim: devtools_claim,
        });
        live.activity.touch();
        lock(&inner.sessions).insert(id.clone(), live);
        Counters::bump(&inner.counters.sessions_created);
        tracing::info!(session = %id, display_number, "session created");
        Ok(session)
    }

    /// Takes a capacity slot (evicting a pooled session if that frees one) and starts a
    /// display and browser for `spec` as session `id`, on `user_data` when given.
    async fn start_cold(
        &self,
        spec: &SessionSpec,
        id: String,
        user_data: Option<(HeldProfile, Bytes)>,
    ) -> Result<StartedSession, EngineError> {
        let inner = &self.inner;
        let exhausted = || {
            EngineError::CapacityExhausted(format!(
                "all {} session slots are in use; delete a session or raise --max-sessions",
                inner.config.max_sessions
            ))
        };
        let slot = match inner.session_slots.clone().try_acquire_owned() {
            Ok(slot) => slot,
            Err(_) if self.evict_warm().await => inner
                .session_slots
                .clone()
                .try_acquire_owned()
                .map_err(|_| exhausted())?,
            Err(_) => return Err(exhausted()),
        };
        self.announce_load().await;
        let options = LaunchOptions {
            start_url: spec.start_url.clone(),
            kiosk: spec.kiosk,
            envs: spec.envs.clone(),
            user_data,
        };
        self.launch(id, slot, spec.viewport, options).await
    }

    /// Finds one of `project`'s sessions by id or name.
    ///
    /// Errors: `NotFound` when no such session exists in `project`, whether or not another
    /// project has one.
    pub async fn get_session(
        &self,
        project: &str,
        id_or_name: &str,
        include_deleted: bool,
    ) -> Result<Session, EngineError> {
        self.inner
            .meta
            .find_session(project, id_or_name, include_deleted)
            .await?
            .ok_or_else(|| EngineError::not_found("session", id_or_name))
    }

    /// Lists `project`'s sessions matching `filter`, oldest first.
    pub async fn list_sessions(
        &self,
        project: &str,
        filter: &SessionFilter,
        limit: u32,
        offset: u64,
    ) -> Result<Page<Session>, EngineError> {
        Ok(self
            .inner
            .meta
            .list_sessions(project, filter, limit, offset)
            .await?)
    }

    /// Refuses `name` when a running session of `project` other than `except` holds it.
    async fn ensure_name_free(
        &self,
        project: &str,
        name: &str,
        except: Option<&str>,
    ) -> Result<(), EngineError> {
        let holder = self.inner.meta.find_session(project, name, false).await?;
        if holder.is_some_and(|other| Some(other.id.as_str()) != except) {
            return Err(EngineError::conflict(format!(
                "a session named {name:?} is already running"
            )));
        }
        Ok(())
    }

    /// Renames and re-tags one of `project`'s running sessions; a `None` field is left as it is.
    pub async fn relabel_session(
        &self,
        project: &str,
        id_or_name: &str,
        labels: SessionLabels,
    ) -> Result<Session, EngineError> {
        let mut session = self.get_session(project, id_or_name, false).await?;
        if let Some(name) = labels.name {
            if let Some(new) = &name {
                self.ensure_name_free(project, new, Some(&session.id))
                    .await?;
            }
            session.spec.name = name;
        }
        if let Some(tags) = labels.tags {
            session.spec.tags = tags;
        }
        session.spec.validate()?;
        self.inner.meta.update_session_spec(&session).await?;
        Ok(session)
    }

    /// Ends one of `project`'s running sessions: see [`Engine::end_session`].
    ///
    /// Errors: `NotFound` when `project` has no such running session.
    pub async fn delete_session(&self, project: &str, id_or_name: &str) -> Result<(), EngineError> {
        let session = match self.get_session(project, id_or_name, false).await {
            // With the database down, a session running here is still found and ended: its
            // processes go now, and its row is written once the database is back.
            Err(EngineError::Unavailable(why)) => self
                .running_here(project, id_or_name)
                .ok_or(EngineError::Unavailable(why))?,
            found => found?,
        };
        let engine = self.clone();
        to_completion(async move { engine.end_session(&session.id).await }).await
    }

    /// Ends the session `session_id`, whoever owns it (the reaper, shutdown): its recordings are
    /// finalized, then its browser and display are stopped by pid and the display number is freed.
    /// A session saving its profile first has its browser close itself (writing out cookies and
    /// local storage), then its user data is saved once both processes are gone.
    ///
    /// Errors: only a failed profile save, once the session has ended all the same.
    #[tracing::instrument(skip(self))]
    pub(crate) async fn end_session(&self, session_id: &str) -> Result<(), EngineError> {
        let live = lock(&self.inner.sessions).remove(session_id);
        for recording_id in self.live_recording_ids(session_id) {
            if let Err(e) = self
                .finish_recording(&recording_id, StopReason::SessionEnded)
                .await
            {
                tracing::warn!(recording = %recording_id, error = %e, "could not finalize on session end");
            }
        }
        let mut saved = Ok(());
        if let Some(live) = live {
            let mut browser = live.browser.lock().await.take();
            let saving = live.profile.as_ref().filter(|held| held.save_changes);
            if let (Some(browser), Some(held)) = (browser.as_mut(), saving) {
                if let Err(e) = browser.close().await {
                    tracing::warn!(session = %session_id, profile = %held.id, error = %e, "chromium did not close by itself; saving its user data as it is on disk");
                }
            }
            let display = match tokio::time::timeout(DISPLAY_WAIT, live.display.lock()).await {
                Ok(mut display) => display.take(),
                Err(_) => {
                    // An action is stuck on the display (or on a stopped X server): stopping
                    // the X server under it fails the action at once and frees the display.
                    tracing::warn!(session = %session_id, "an action holds the display; stopping the X server under it");
                    tapedeck_capture::process::kill_group(live.display_pgid);
                    live.display.lock().await.take()
                }
            };
            stop_processes(browser, display).await;
            let home = self.inner.config.session_dir(session_id);
            if let Some(held) = saving {
                saved = self.save_profile(held, user_data_dir(&home)).await;
            }
            remove_session_dir(&home).await;
            if let Some(held) = &live.profile {
                self.release_profile(held, session_id).await;
            }
        }
        let ended_at = OffsetDateTime::now_utc();
        if let Err(e) = self
            .inner
            .meta
            .mark_session_deleted(session_id, ended_at)
            .await
        {
            // The session is gone; only its row says otherwise. It is written once the database
            // answers again (and a restart in between closes it anyway).
            tracing::warn!(session = %session_id, error = %e, "session ended; its state will be written once the database answers");
            tokio::spawn(
                self.clone()
                    .write_session_end(session_id.to_owned(), ended_at),
            );
        }
        Counters::bump(&self.inner.counters.sessions_deleted);
        self.announce_load().await;
        tracing::info!(session = %session_id, "session deleted");
        // Its slot is free again (unless a CDP relay still holds it): the pool may refill.
        self.fill_warm_pool();
        saved
    }

    /// Retries marking an ended session deleted until the database takes it.
    async fn write_session_end(self, session_id: String, ended_at: OffsetDateTime) {
        let mut wait = Duration::from_secs(1);
        loop {
            tokio::time::sleep(wait).await;
            match self
                .inner
                .meta
                .mark_session_deleted(&session_id, ended_at)
                .await
            {
                Ok(()) => {
                    tracing::info!(session = %session_id, "ended session's state written");
                    return;
                }
                Err(e) => {
                    tracing::debug!(session = %session_id, error = %e, "database still not answering")
                }
            }
            wait = (wait * 2).min(Duration::from_secs(30));
        }
    }

    /// The CDP endpoint of the running session `session_id`, for the WebSocket relay. It takes
    /// no project: the relay's caller holds a token for this very session, not an API key.
    ///
    /// Errors: `NotFound` when no session with that id runs on this node.
    pub fn cdp_endpoint(&self, session_id: &str) -> Result<CdpEndpoint, EngineError> {
        let live = self.live_session(session_id)?;
        Ok(CdpEndpoint {
            addr: live.devtools,
            path: live.browser_ws_path.clone(),
            guard: self.hold_open(live),
        })
    }

    /// Counts a connection to `live` (CDP or live view) as activity until the guard drops.
    pub(crate) fn hold_open(&self, live: Arc<LiveSession>) -> ConnectionGuard {
        live.activity
            .open_connections
            .fetch_add(1, Ordering::SeqCst);
        live.activity.touch();
        ConnectionGuard { session: live }
    }

    /// One of `project`'s sessions running on this node, by id or name, from memory alone.
    pub(crate) fn running_here(&self, project: &str, id_or_name: &str) -> Option<Session> {
        let sessions = lock(&self.inner.sessions);
        let mine = |live: &&Arc<LiveSession>| live.session.project == project;
        sessions
            .get(id_or_name)
            .filter(mine)
            .or_else(|| {
                sessions
                    .values()
                    .filter(mine)
                    .find(|live| live.session.spec.name.as_deref() == Some(id_or_name))
            })
            .map(|live| live.session.clone())
    }

    pub(crate) fn live_session(&self, id: &str) -> Result<Arc<LiveSession>, EngineError> {
        lock(&self.inner.sessions)
            .get(id)
            .cloned()
            .ok_or_else(|| EngineError::not_found("session", id))
    }

    pub(crate) fn live_session_ids(&self) -> Vec<String> {
        lock(&self.inner.sessions).keys().cloned().collect()
    }

    /// Marks a session as used now, resetting its inactivity timer.
    pub(crate) fn touch_session(&self, id: &str) {
        if let Some(live) = lock(&self.inner.sessions).get(id) {
            live.activity.touch();
        }
    }
}
