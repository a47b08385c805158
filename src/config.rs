//! The server's configuration: one typed struct, from flags and environment.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use tapedeck_core::Viewport;

/// Where the server keeps its state; `serve` and `keys` take the same flags, so `keys` works
/// on the database a server uses.
#[derive(Debug, Clone, Args)]
pub struct StoreLocation {
    /// Directory for metadata, blobs, spooled segments and secrets.
    #[arg(long, env = "TAPEDECK_DATA_DIR", default_value = "./tapedeck-data")]
    pub data_dir: PathBuf,
    /// Metadata database: `postgres://USER:PASSWORD@HOST/DB` for PostgreSQL (several nodes can
    /// share one), or `sqlite:PATH`. Default: SQLite file `tapedeck.db` in the data dir.
    #[arg(long, env = "TAPEDECK_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
}

/// `tapedeck keys` options: where the keys are, and what to do with them.
#[derive(Debug, Clone, Args)]
pub struct KeysConfig {
    /// Where the keys are kept.
    #[command(flatten)]
    pub store: StoreLocation,
    /// What to do.
    #[command(subcommand)]
    pub action: KeysAction,
}

/// What `tapedeck keys` does.
#[derive(Debug, Clone, Subcommand)]
pub enum KeysAction {
    /// Creates a key and prints its secret alone on the last line.
    Create {
        /// A name for people, e.g. `ci-pipeline`.
        #[arg(long)]
        name: String,
        /// Its project; `default` when absent.
        #[arg(long)]
        project: Option<String>,
        /// Lets the key manage keys through `/v1/keys`.
        #[arg(long)]
        admin: bool,
    },
    /// Lists every key (id, project, name, admin, created, revoked), without secrets.
    List,
    /// Revokes a key by id; running servers refuse it within a second.
    Revoke {
        /// The key's id, from `keys list` or `keys create`.
        id: String,
    },
}

/// `tapedeck serve` options. Every option has a default that works on a fresh machine.
#[derive(Debug, Clone, Args)]
pub struct ServeConfig {
    /// Address of the HTTP API.
    #[arg(long, env = "TAPEDECK_LISTEN", default_value = "127.0.0.1:7600")]
    pub listen: SocketAddr,
    /// Address of the recording proxy (HTTP and CONNECT; FAST dialect).
    #[arg(long, env = "TAPEDECK_PROXY_LISTEN", default_value = "127.0.0.1:7601")]
    pub proxy_listen: SocketAddr,
    /// Where metadata and secrets are kept.
    #[command(flatten)]
    pub store: StoreLocation,
    /// The unprivileged user session processes (Xvfb, Chromium, ffmpeg, xdotool) run as when
    /// the server runs as root; `scripts/install-deps` creates it. A server that is not root
    /// runs them as its own user, in the same sandbox.
    #[arg(
        long,
        env = "TAPEDECK_SESSION_USER",
        default_value = "tapedeck-session"
    )]
    pub session_user: String,
    /// Directory for what session processes write (each session's home and profile, each
    /// recording's segments while it records); the session user must be able to reach it.
    /// Default: /var/lib/tapedeck-sessions when the server is root, the data dir otherwise.
    #[arg(long, env = "TAPEDECK_SANDBOX_DIR")]
    pub sandbox_dir: Option<PathBuf>,
    /// Blob store: `s3://BUCKET[/FOLDER]` for an S3-compatible bucket, with endpoint, region and
    /// credentials from the standard `AWS_*` variables (`AWS_ENDPOINT_URL`, `AWS_REGION`,
    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_ALLOW_HTTP=true` for plain HTTP).
    /// Default: the `blobs` directory in the data dir.
    #[arg(long, env = "TAPEDECK_BLOB_URL")]
    pub blob_url: Option<String>,
    /// The bucket's endpoint as clients reach it (`https://files.example.com`), when that is
    /// not `AWS_ENDPOINT_URL`: presigned URLs are signed for this host. Default: the endpoint
    /// the server uses.
    #[arg(long, env = "TAPEDECK_BLOB_PUBLIC_URL", requires = "blob_url")]
    pub blob_public_url: Option<String>,
    /// Base URL that presigned and CDP URLs are built on; `http://<listen>` by default.
    #[arg(long, env = "TAPEDECK_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// API key clients must present; generated and stored in the data dir when absent.
    #[arg(long, env = "TAPEDECK_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// This node's id in the fleet: unique among the nodes sharing a database, and the same
    /// across its restarts. Default: the host name.
    #[arg(long, env = "TAPEDECK_NODE_ID")]
    pub node_id: Option<String>,
    /// How the other nodes of the fleet reach this one's API (they probe its `/healthz`
    /// before taking over a silent node). Default: the public URL.
    #[arg(long, env = "TAPEDECK_INTERNAL_URL")]
    pub internal_url: Option<String>,
    /// The secret every node of a fleet shares (at least 16 characters): nodes forward
    /// requests to each other under it, and presigned URLs and CDP tokens signed by one node
    /// verify on all. Required with a PostgreSQL database, which other nodes can share.
    #[arg(long, env = "TAPEDECK_CLUSTER_SECRET", hide_env_values = true,
          value_parser = parse_cluster_secret)]
    pub cluster_secret: Option<String>,
    /// On SIGTERM, how long to keep serving while no new session is taken, for the running
    /// ones to end (a Kubernetes `preStop` drain); then recordings are finalized and the rest
    /// of the sessions ended. 0 ends them at once.
    #[arg(long, env = "TAPEDECK_DRAIN_SECS", default_value_t = 0,
          value_parser = clap::value_parser!(u64).range(0..=86_400))]
    pub drain_secs: u64,
    /// Most browser sessions running at once.
    #[arg(long, env = "TAPEDECK_MAX_SESSIONS", default_value_t = 4)]
    pub max_sessions: usize,
    /// First X display number used for sessions.
    #[arg(long, env = "TAPEDECK_FIRST_DISPLAY", default_value_t = 100)]
    pub first_display: u32,
    /// Days after which recordings that ended and test records are deleted, with their
    /// videos and baselines (checked hourly); without it nothing is deleted by age.
    #[arg(long, env = "TAPEDECK_RETENTION_DAYS",
          value_parser = clap::value_parser!(u64).range(1..=36500))]
    pub retention_days: Option<u64>,
    /// Seconds a shutdown (SIGTERM, SIGINT) may take to finalize recordings and end sessions;
    /// past it the server exits anyway, its sessions' processes die with it, and the next
    /// start recovers what was left unfinished.
    #[arg(long, env = "TAPEDECK_SHUTDOWN_SECS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub shutdown_secs: u64,
    /// Chromium binary.
    #[arg(long, env = "TAPEDECK_CHROMIUM", default_value = "/usr/bin/chromium")]
    pub chromium: PathBuf,
    /// ffmpeg binary.
    #[arg(long, env = "TAPEDECK_FFMPEG", default_value = "ffmpeg")]
    pub ffmpeg: PathBuf,
    /// Longest recording in seconds, whatever a client asks.
    #[arg(long, env = "TAPEDECK_MAX_RECORDING_SECS", default_value_t = 4 * 3600)]
    pub max_recording_secs: u64,
    /// Largest recording in MiB; a recording that reaches it stops by itself.
    #[arg(long, env = "TAPEDECK_MAX_RECORDING_MIB", default_value_t = 500)]
    pub max_recording_mib: u64,
    /// Free space (MiB) on the spool's and local blob store's disks below which no recording
    /// starts and recordings in flight stop with reason `disk_full`.
    #[arg(long, env = "TAPEDECK_MIN_FREE_DISK_MIB", default_value_t = 512,
          value_parser = clap::value_parser!(u64).range(0..=1_048_576))]
    pub min_free_disk_mib: u64,
    /// x264 constant rate factor of recordings: 0 (lossless) to 51; lower is sharper and larger.
    #[arg(long, env = "TAPEDECK_VIDEO_CRF", default_value_t = 28,
          value_parser = clap::value_parser!(u8).range(0..=51))]
    pub video_crf: u8,
    /// Idle browser sessions kept started ahead of demand, so a create that fits one (the
    /// warm viewport, no start page, kiosk mode or environment) answers in milliseconds.
    /// They count against --max-sessions; a create that does not fit evicts one when full.
    #[arg(long, env = "TAPEDECK_WARM_POOL", default_value_t = 0)]
    pub warm_pool: usize,
    /// Viewport of pooled sessions, WIDTHxHEIGHT.
    #[arg(long, env = "TAPEDECK_WARM_VIEWPORT", default_value = "1280x720", value_parser = parse_viewport)]
    pub warm_viewport: Viewport,
    /// PEM file of extra root certificates the proxy and replay trust upstream.
    #[arg(long, env = "TAPEDECK_UPSTREAM_CA_FILE")]
    pub upstream_ca_file: Option<PathBuf>,
    /// Bytes of each request and response body a baseline keeps, in KiB; the rest is
    /// passed through and the baseline is marked truncated.
    #[arg(long, env = "TAPEDECK_BODY_CAP_KIB", default_value_t = 1024)]
    pub body_cap_kib: usize,
    /// Point every browser session through the recording proxy, trusting its CA.
    #[arg(long, env = "TAPEDECK_BROWSERS_THROUGH_PROXY")]
    pub browsers_through_proxy: bool,
    /// An extra Chromium flag for every browser session (repeatable), after Tapedeck's own:
    /// e.g. the memory savers that change what a page sees, which are not defaults
    /// (BENCHMARKS.md, "Sessions per machine").
    #[arg(
        long = "browser-arg",
        env = "TAPEDECK_BROWSER_ARGS",
        value_delimiter = ' ',
        allow_hyphen_values = true
    )]
    pub browser_args: Vec<String>,
}

/// Shortest cluster secret taken: it keys every node-to-node call and every signed URL.
const MIN_CLUSTER_SECRET_LEN: usize = 16;

/// A cluster secret, refused when too short to be one.
fn parse_cluster_secret(text: &str) -> Result<String, String> {
    if text.len() < MIN_CLUSTER_SECRET_LEN {
        return Err(format!(
            "a cluster secret needs at least {MIN_CLUSTER_SECRET_LEN} characters (try `openssl rand -hex 32`)"
        ));
    }
    Ok(text.to_owned())
}

/// `1280x720` → a viewport.
fn parse_viewport(text: &str) -> Result<Viewport, String> {
    let (width, height) = text
        .split_once('x')
        .ok_or_else(|| format!("expected WIDTHxHEIGHT, got {text:?}"))?;
    let number = |part: &str| {
        part.trim()
            .parse::<u32>()
            .map_err(|e| format!("{part:?} in {text:?}: {e}"))
    };
    Ok(Viewport {
        width: number(width)?,
        height: number(height)?,
    })
}

impl ServeConfig {
    /// This node's id: `--node-id`, else the host name, else `tapedeck`.
    pub fn node_id(&self) -> String {
        self.node_id
            .clone()
            .or_else(|| {
                let name = std::fs::read_to_string("/proc/sys/kernel/hostname").ok()?;
                Some(name.trim().to_owned()).filter(|n| !n.is_empty())
            })
            .unwrap_or_else(|| "tapedeck".to_owned())
    }

    /// The public base URL without a trailing slash.
    pub fn public_url(&self) -> String {
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.listen))
            .trim_end_matches('/')
            .to_owned()
    }
}
