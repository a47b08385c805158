//! The warm pool: idle sessions started ahead of demand, so that a create whose spec fits one
//! hands it out in milliseconds instead of starting Xvfb and Chromium (about a second).
//!
//! Pooled sessions hold capacity slots like running ones. A create that does not fit the pool
//! and finds no free slot evicts a pooled session first, so the pool never refuses real work.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use tapedeck_core::{id, EngineError, SessionSpec};
use tokio::sync::OwnedSemaphorePermit;

use crate::counters::Counters;
use crate::launch::{LaunchOptions, StartedSession};
use crate::{lock, Engine};

/// The pooled sessions and the ones being started.
#[derive(Default)]
pub(crate) struct WarmPool {
    ready: Mutex<Vec<StartedSession>>,
    starting: AtomicUsize,
    /// Set at shutdown: nothing is started any more.
    closed: AtomicBool,
}

impl Engine {
    /// True when a session for `spec` may be any pooled one: the pool's viewport, no start
    /// page, no kiosk mode, no environment of its own.
    fn fits_warm_pool(&self, spec: &SessionSpec) -> bool {
        let config = &self.inner.config;
        config.warm_pool > 0
            && spec.viewport == config.warm_viewport
            && spec.start_url.is_none()
            && !spec.kiosk
            && spec.envs.is_empty()
    }

    /// A pooled session for `spec`, if it fits one and one is ready; a replacement starts.
    pub(crate) fn take_warm(&self, spec: &SessionSpec) -> Option<StartedSession> {
        if !self.fits_warm_pool(spec) {
            return None;
        }
        let warm = lock(&self.inner.warm.ready).pop();
        if warm.is_some() {
            self.fill_warm_pool();
        }
        warm
    }

    /// How many pooled sessions are ready to be handed out.
    pub(crate) fn pooled_sessions(&self) -> usize {
        lock(&self.inner.warm.ready).len()
    }

    /// Ends one pooled session to free its slot; false when the pool is empty.
    pub(crate) async fn evict_warm(&self) -> bool {
        let Some(warm) = lock(&self.inner.warm.ready).pop() else {
            return false;
        };
        tracing::info!(
            display_number = warm.lease.number(),
            "evicting a pooled session for a create that does not fit the pool"
        );
        Counters::bump(&self.inner.counters.pooled_sessions_evicted);
        self.stop_warm(warm).await;
        true
    }

    async fn stop_warm(&self, warm: StartedSession) {
        warm.stop(&self.inner.config).await;
    }

    /// Starts pooled sessions in the background until the pool holds `--warm-pool` of them or
    /// no capacity slot is free.
    pub fn fill_warm_pool(&self) {
        let pool = &self.inner.warm;
        let target = self.inner.config.warm_pool;
        while !pool.closed.load(Ordering::SeqCst)
            && lock(&pool.ready).len() + pool.starting.load(Ordering::SeqCst) < target
        {
            let Ok(slot) = self.inner.session_slots.clone().try_acquire_owned() else {
                break;
            };
            pool.starting.fetch_add(1, Ordering::SeqCst);
            let engine = self.clone();
            tokio::spawn(async move {
                let started = engine.start_warm(slot).await;
                let pool = &engine.inner.warm;
                match started {
                    Ok(warm) if !pool.closed.load(Ordering::SeqCst) => {
                        tracing::info!(
                            display_number = warm.lease.number(),
                            "pooled session ready"
                        );
                        lock(&pool.ready).push(warm);
                        Counters::bump(&engine.inner.counters.pooled_sessions_started);
                    }
                    Ok(warm) => engine.stop_warm(warm).await,
                    Err(e) => tracing::warn!(error = %e, "could not start a pooled session"),
                }
                pool.starting.fetch_sub(1, Ordering::SeqCst);
            });
        }
    }

    async fn start_warm(&self, slot: OwnedSemaphorePermit) -> Result<StartedSession, EngineError> {
        let viewport = self.inner.config.warm_viewport;
        self.launch(id::new_id(), slot, viewport, LaunchOptions::default())
            .await
    }

    /// Stops every pooled session and starts no more; for server shutdown.
    pub(crate) async fn close_warm_pool(&self) {
        self.inner.warm.closed.store(true, Ordering::SeqCst);
        let pooled: Vec<StartedSession> = lock(&self.inner.warm.ready).drain(..).collect();
        for warm in pooled {
            self.stop_warm(warm).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use tapedeck_core::{SessionSpec, Viewport};

    use crate::test_support::{engine_with, session_spec};
    use crate::EngineConfig;

    #[tokio::test]
    async fn only_plain_creates_with_the_pools_viewport_take_a_pooled_session() {
        let dir = tempfile::tempdir().unwrap();
        let config = EngineConfig {
            warm_pool: 1,
            ..EngineConfig::new(dir.path().to_path_buf())
        };
        let pool_viewport = config.warm_viewport;
        let engine = engine_with(config).await;
        let plain = SessionSpec {
            viewport: pool_viewport,
            ..session_spec()
        };
        assert!(engine.fits_warm_pool(&plain));
        let unfit = [
            SessionSpec {
                viewport: Viewport {
                    width: 800,
                    height: 600,
                },
                ..plain.clone()
            },
            SessionSpec {
                start_url: Some("https://example.com/".into()),
                ..plain.clone()
            },
            SessionSpec {
                kiosk: true,
                ..plain.clone()
            },
            SessionSpec {
                envs: [("TZ".to_owned(), "UTC".to_owned())].into(),
                ..plain.clone()
            },
        ];
        for spec in unfit {
            assert!(!engine.fits_warm_pool(&spec), "{spec:?}");
        }
    }

    #[tokio::test]
    async fn a_server_without_a_pool_hands_out_nothing_and_evicts_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let engine = engine_with(EngineConfig::new(dir.path().to_path_buf())).await;
        let plain = SessionSpec {
            viewport: engine.config().warm_viewport,
            ..session_spec()
        };
        assert!(!engine.fits_warm_pool(&plain));
        assert!(engine.take_warm(&plain).is_none());
        assert!(!engine.evict_warm().await);
    }
}
