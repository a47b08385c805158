//! An action's screenshots, as its `options.screenshot` asks (GBOX's
//! `ActionScreenshotOptions`): `before` the action, `after` it once `delay` has passed, and a
//! `trace`, the after screenshot with the action's points framed in red. `true` or settings
//! without `phases` take all three; an empty `phases` takes none.

use std::time::Duration;

use axum::Json;
use tapedeck_core::duration::duration_field;
use tapedeck_core::{id, EngineError, Viewport};
use tapedeck_engine::Region;

use super::actions::deliver;
use super::wire::{
    ActionOptions, ActionResult, ActionScreenshots, ScreenshotJson, ScreenshotOption,
};
use super::GboxError;
use crate::ApiState;

/// Wait after the action before its `after` screenshot, unless asked (GBOX's default).
const DEFAULT_DELAY: Duration = Duration::from_millis(500);
/// Longest `delay` (GBOX's maximum).
const MAX_DELAY: Duration = Duration::from_secs(30);
/// Side of the square framed around each of an action's points in the trace.
const TRACE_MARK: u32 = 24;
/// Most points a trace frames (a drag's path is sampled down to these).
const MAX_TRACE_POINTS: usize = 64;

/// The screenshots one action takes, and the `before` one once taken.
pub(super) struct ActionShots {
    plan: Option<Plan>,
    before: Option<ScreenshotJson>,
}

/// What `options.screenshot` asked for.
struct Plan {
    after: bool,
    trace: bool,
    delay: Duration,
    output_format: Option<String>,
    expires_in: Option<String>,
}

impl ActionShots {
    /// Reads `options` and, before the action runs, takes its `before` screenshot when asked.
    ///
    /// Errors: 400 for an unknown phase, a `delay` over 30 s or an unknown `outputFormat`.
    pub(super) async fn begin(
        state: &ApiState,
        session_id: &str,
        options: &ActionOptions,
    ) -> Result<Self, GboxError> {
        let all = ["before", "after", "trace"].map(String::from).to_vec();
        let (phases, delay, output_format, expires_in) = match &options.screenshot {
            None | Some(ScreenshotOption::Flag(false)) => {
                return Ok(Self {
                    plan: None,
                    before: None,
                })
            }
            Some(ScreenshotOption::Flag(true)) => (all, None, None, None),
            Some(ScreenshotOption::Settings(s)) => (
                s.phases.clone().unwrap_or(all),
                s.delay.clone(),
                s.output_format.clone(),
                s.presigned_expires_in.clone(),
            ),
        };
        if let Some(other) = phases
            .iter()
            .find(|p| !matches!(p.as_str(), "before" | "after" | "trace"))
        {
            return Err(EngineError::InvalidInput(format!(
                "screenshot phases are before, after and trace, got {other:?}"
            ))
            .into());
        }
        let has = |phase: &str| phases.iter().any(|p| p == phase);
        let plan = Plan {
            after: has("after"),
            trace: has("trace"),
            delay: duration_field(
                "options.screenshot.delay",
                delay.as_deref(),
                DEFAULT_DELAY,
                MAX_DELAY,
            )?,
            output_format,
            expires_in,
        };
        let before = match has("before") {
            true => {
                let png = state.engine.screenshot_png(session_id, None).await?;
                Some(plan.deliver(state, session_id, png).await?)
            }
            false => None,
        };
        Ok(Self {
            plan: Some(plan),
            before,
        })
    }

    /// The action's reply `{actionId, message, screenshot?}`: after the plan's delay, the
    /// `after` screenshot and the `trace` with each of `points` (screen pixels) framed.
    ///
    /// Errors: the screenshot could not be taken or stored.
    pub(super) async fn respond(
        self,
        state: &ApiState,
        session_id: &str,
        screen: Viewport,
        points: &[(f64, f64)],
        message: String,
    ) -> Result<Json<ActionResult>, GboxError> {
        let screenshot = match self.plan {
            None => None,
            Some(plan) => {
                let (mut after, mut trace) = (None, None);
                if plan.after || plan.trace {
                    tokio::time::sleep(plan.delay).await;
                    let marks = trace_marks(screen, points);
                    let (plain, marked) =
                        state.engine.screenshot_marked(session_id, &marks).await?;
                    if plan.after {
                        after = Some(plan.deliver(state, session_id, plain).await?);
                    }
                    if plan.trace {
                        trace = Some(plan.deliver(state, session_id, marked).await?);
                    }
                }
                Some(ActionScreenshots {
                    before: self.before,
                    after,
                    trace,
                })
            }
        };
        Ok(Json(ActionResult {
            action_id: id::new_id(),
            message,
            screenshot,
        }))
    }
}

impl Plan {
    /// `png` in the asked output format.
    async fn deliver(
        &self,
        state: &ApiState,
        session_id: &str,
        png: Vec<u8>,
    ) -> Result<ScreenshotJson, GboxError> {
        deliver(
            state,
            session_id,
            png,
            self.output_format.as_deref(),
            self.expires_in.as_deref(),
        )
        .await
    }
}

/// A square around each of `points` (at most [`MAX_TRACE_POINTS`], evenly sampled), inside
/// `screen`.
fn trace_marks(screen: Viewport, points: &[(f64, f64)]) -> Vec<Region> {
    let every = points.len().div_ceil(MAX_TRACE_POINTS).max(1);
    points
        .iter()
        .step_by(every)
        .filter_map(|&(x, y)| {
            let half = f64::from(TRACE_MARK / 2);
            let left = (x - half).clamp(0.0, f64::from(screen.width)) as u32;
            let top = (y - half).clamp(0.0, f64::from(screen.height)) as u32;
            let width = TRACE_MARK.min(screen.width.saturating_sub(left));
            let height = TRACE_MARK.min(screen.height.saturating_sub(top));
            (width > 0 && height > 0).then_some(Region {
                x: left,
                y: top,
                width,
                height,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_marks_stay_on_the_screen_and_sample_long_paths() {
        let screen = Viewport {
            width: 100,
            height: 50,
        };
        let marks = trace_marks(screen, &[(50.0, 25.0), (99.0, 49.0), (-5.0, 0.0)]);
        assert_eq!(
            marks[0],
            Region {
                x: 38,
                y: 13,
                width: 24,
                height: 24
            }
        );
        assert_eq!(
            (marks[1].x + marks[1].width, marks[1].y + marks[1].height),
            (100, 50)
        );
        assert_eq!((marks[2].x, marks[2].y), (0, 0));
        let path: Vec<(f64, f64)> = (0..1000).map(|i| (f64::from(i % 100), 10.0)).collect();
        assert!(trace_marks(screen, &path).len() <= MAX_TRACE_POINTS);
    }
}
