//! Tapedeck's capture layer: Xvfb displays, headful Chromium with a loopback CDP port (and its
//! user data as an archive), and the screen recorder (X damage grabber → ffmpeg) that writes
//! fragmented-MP4 segments.
//!
//! Every child runs in a sandbox (bubblewrap, as the unprivileged session user; see [`sandbox`])
//! and leads its own session and process group. Every child dies with the server
//! (`PR_SET_PDEATHSIG`), so a crashed server leaves no orphan browsers or encoders.

pub mod activity;
pub mod box_files;
pub mod cdp;
pub mod chromium;
pub mod clipboard;
pub mod colour;
mod damaged_screen;
pub mod display;
pub mod element;
pub mod error;
pub mod exec;
pub mod fmp4;
pub mod grabber;
pub mod input;
pub mod live_feed;
pub mod live_input;
pub mod matroska;
pub mod process;
pub mod recorder;
pub mod remux;
pub mod sandbox;
pub mod screenshot;
pub mod segmenter;
pub mod shared_memory;
pub mod sidx;
pub mod spool;
pub mod tabs;
pub mod user_data;

pub use chromium::{Browser, BrowserOptions};
pub use display::Display;
pub use error::CaptureError;
pub use recorder::{RecorderOptions, ScreenRecorder};
pub use sandbox::{Confinement, Mount, Sandbox, SessionUser};
pub use spool::SegmentList;
