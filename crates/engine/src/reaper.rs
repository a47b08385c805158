//! The reaper: ends sessions idle past their timeout or lifetime, and sessions whose browser
//! died.

use std::time::Duration;

use time::OffsetDateTime;

use crate::{lock, Engine};

/// How often the reaper looks for idle sessions and dead browsers.
const REAP_EVERY: Duration = Duration::from_secs(1);

impl Engine {
    /// Runs forever: ends sessions idle past their timeout, and sessions whose browser died.
    pub async fn reap_sessions(self) {
        let mut tick = tokio::time::interval(REAP_EVERY);
        loop {
            tick.tick().await;
            let sessions: Vec<_> = lock(&self.inner.sessions).values().cloned().collect();
            for live in sessions {
                let id = &live.session.id;
                let recording = !self.live_recording_ids(id).is_empty();
                let timeout = Duration::from_secs(u64::from(live.session.spec.timeout_seconds));
                let idle =
                    !recording && live.activity.idle_for().is_some_and(|idle| idle > timeout);
                let past_lifetime = live
                    .session
                    .expires_at()
                    .is_some_and(|at| at <= OffsetDateTime::now_utc());
                let expired = idle || past_lifetime;
                let crashed = match live.browser.lock().await.as_mut() {
                    Some(browser) => !browser.is_running(),
                    None => false,
                };
                if expired || crashed {
                    tracing::info!(session = %id, expired, crashed, "ending session");
                    // Each on its own task: one slow teardown holds up neither the others nor
                    // the next round (the session leaves the live set as its teardown starts).
                    let (engine, id) = (self.clone(), id.clone());
                    tokio::spawn(async move {
                        if let Err(e) = engine.end_session(&id).await {
                            tracing::warn!(session = %id, error = %e, "session ended with an error");
                        }
                    });
                }
            }
        }
    }
}
