//! `tapedeck serve`: wires the store, the engine and the APIs, and runs until a signal.

use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use axum::serve::ListenerExt;
use tapedeck_api::common::cluster::ClusterAuth;
use tapedeck_api::common::forward::Forwarder;
use tapedeck_api::ApiState;
use tapedeck_engine::{Engine, EngineConfig, Sandbox};
use tapedeck_store::{
    redact_password, secrets, BlobStore, FleetMetadata, NodeOwner, NodeRegistration, Presigner,
    Signer, SqlMetadata,
};
use tapedeck_upstream::UpstreamClient;
use tokio::signal::unix::{signal, SignalKind};

use crate::config::{ServeConfig, StoreLocation};

/// Length of generated API keys and signing secrets.
const SECRET_LEN: usize = 40;
/// Where session processes write when the server is root and `--sandbox-dir` is not given:
/// outside the data dir, which the session user must not reach.
const ROOT_SANDBOX_DIR: &str = "/var/lib/tapedeck-sessions";

/// The metadata database the configuration names, migrated to the current schema.
pub async fn open_metadata(config: &StoreLocation) -> anyhow::Result<SqlMetadata> {
    match &config.database_url {
        Some(url) => {
            let meta = SqlMetadata::open(url)
                .await
                .with_context(|| format!("opening metadata at {}", redact_password(url)))?;
            tracing::info!(database = %redact_password(url), "metadata in the configured database");
            Ok(meta)
        }
        None => {
            let path = config.data_dir.join("tapedeck.db");
            SqlMetadata::open_sqlite(&path)
                .await
                .with_context(|| format!("opening metadata at {}", path.display()))
        }
    }
}

/// The blob store the configuration names.
async fn open_blobs(config: &ServeConfig) -> anyhow::Result<BlobStore> {
    match &config.blob_url {
        Some(url) => {
            let blobs = BlobStore::s3(url, config.blob_public_url.as_deref())
                .await
                .with_context(|| format!("opening blob store {url}"))?;
            tracing::info!(blob_url = %url, public_url = config.blob_public_url.as_deref(), "blobs in the configured bucket");
            Ok(blobs)
        }
        None => {
            let root = config.store.data_dir.join("blobs");
            BlobStore::local(&root)
                .with_context(|| format!("opening blob store {}", root.display()))
        }
    }
}

/// Runs the server until SIGINT or SIGTERM, then ends every session cleanly.
pub async fn run(config: ServeConfig) -> anyhow::Result<()> {
    let data_dir = &config.store.data_dir;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(data_dir)
        .with_context(|| format!("creating data dir {}", data_dir.display()))?;
    // The backends first: a wrong URL or missing credentials fail the start before any secret
    // is written into a data dir that will not be used.
    let meta = open_metadata(&config.store)
        .await?
        .with_owner(NodeOwner::starting(&config.node_id()));
    if meta.is_shared() && config.cluster_secret.is_none() {
        anyhow::bail!(
            "the database is PostgreSQL, which several nodes can share: set --cluster-secret \
             (TAPEDECK_CLUSTER_SECRET), the same on every node, so that nodes can forward \
             requests to each other and verify each other's signed URLs"
        );
    }
    let blobs = open_blobs(&config).await?;
    let api_key = match &config.api_key {
        Some(key) if !key.is_empty() => key.clone(),
        _ => {
            let path = data_dir.join("api-key");
            let (key, created) = secrets::load_or_create(&path, SECRET_LEN)?;
            if created {
                println!("Generated API key (stored in {}): {key}", path.display());
            } else {
                tracing::info!(file = %path.display(), "using the stored API key");
            }
            key
        }
    };
    // A fleet signs URLs and tokens with a key every node derives from the cluster secret; a
    // single node with its own secret.
    let (signer, cluster) = match &config.cluster_secret {
        Some(secret) => {
            let cluster = Signer::new(secret.as_bytes());
            (
                cluster.derive("tapedeck presigned URLs and CDP tokens v1"),
                Some(ClusterAuth::new(&cluster)),
            )
        }
        None => {
            let (secret, _) =
                secrets::load_or_create(&data_dir.join("signing-secret"), SECRET_LEN)?;
            (Signer::new(secret), None)
        }
    };
    let public_url = config.public_url();

    let ca = tapedeck_proxy::ca::load_or_create(data_dir).context("loading the proxy CA")?;
    let extra_roots = match &config.upstream_ca_file {
        Some(path) => {
            Some(std::fs::read(path).with_context(|| format!("reading {}", path.display()))?)
        }
        None => None,
    };
    let upstream = UpstreamClient::new(extra_roots.as_deref())?;
    let mut browser_extra_args = if config.browsers_through_proxy {
        tapedeck_engine::browser_through_proxy_args(
            &config.proxy_listen.to_string(),
            &ca.spki_sha256,
        )
    } else {
        Vec::new()
    };
    browser_extra_args.extend(config.browser_args.iter().cloned());
    let sandbox = Sandbox::for_this_server(PathBuf::from("bwrap"), &config.session_user)?;
    let sandbox_dir = match (&config.sandbox_dir, sandbox.user()) {
        (Some(dir), _) => dir.clone(),
        (None, Some(_)) => PathBuf::from(ROOT_SANDBOX_DIR),
        (None, None) => data_dir.clone(),
    };
    let engine_config = EngineConfig {
        sandbox,
        sandbox_dir,
        chromium: config.chromium.clone(),
        ffmpeg: config.ffmpeg.clone(),
        max_sessions: config.max_sessions,
        first_display: config.first_display,
        max_recording_secs: config.max_recording_secs,
        max_recording_bytes: config.max_recording_mib * 1024 * 1024,
        min_free_disk_bytes: config.min_free_disk_mib * 1024 * 1024,
        video_crf: config.video_crf,
        warm_pool: config.warm_pool.min(config.max_sessions),
        warm_viewport: config.warm_viewport,
        browser_extra_args,
        canary_base: Some(public_url.clone()),
        ..EngineConfig::new(data_dir.clone())
    };
    check_sandbox(&engine_config).await?;
    let engine = Engine::new(
        engine_config,
        Arc::new(meta),
        blobs,
        Presigner::new(signer.clone(), &public_url),
        upstream.clone(),
    );
    engine
        .adopt_admin_key(&api_key)
        .await
        .context("storing the first admin key")?;
    let fleet = NodeRegistration {
        internal_url: config
            .internal_url
            .clone()
            .unwrap_or_else(|| public_url.clone()),
        capacity: u32::try_from(config.max_sessions).unwrap_or(u32::MAX),
    };
    let mut found_lost = engine
        .join_fleet(fleet)
        .await
        .context("joining the fleet")?;
    engine
        .recover()
        .await
        .context("recovering in-flight recordings")?;
    if config.warm_pool > 0 {
        tracing::info!(
            sessions = config.warm_pool.min(config.max_sessions),
            width = config.warm_viewport.width,
            height = config.warm_viewport.height,
            "starting the warm pool"
        );
        engine.fill_warm_pool();
    }
    tokio::spawn(engine.clone().reap_sessions());
    tokio::spawn(engine.clone().run_traffic_writer());
    tokio::spawn(engine.clone().run_event_writer());
    tokio::spawn(engine.clone().sync_traffic_with_fleet());
    if let Some(days) = config.retention_days {
        tracing::info!(
            days,
            "deleting recordings and test records older than the retention period"
        );
        let keep = std::time::Duration::from_secs(days * 24 * 3600);
        tokio::spawn(engine.clone().enforce_retention(keep));
    }
    let proxy_ca_der: Arc<[u8]> = ca.cert_der.clone().into();
    keep_private(data_dir).context("restricting the data dir to the server's user")?;
    // Bound before the proxy starts: the proxy refuses the API's address as a target.
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("binding {}", config.listen))?;
    let (stop_proxy, proxy_stopped) = tokio::sync::oneshot::channel::<()>();
    let proxy_listener = tapedeck_proxy::bind(config.proxy_listen)
        .with_context(|| format!("binding the recording proxy on {}", config.proxy_listen))?;
    let proxy = tokio::spawn(tapedeck_proxy::serve(
        proxy_listener,
        ca,
        upstream,
        engine.traffic_sink(),
        tapedeck_proxy::ProxyOptions {
            body_cap: config.body_cap_kib * 1024,
            own_listeners: vec![listener.local_addr()?],
        },
        async move {
            let _ = proxy_stopped.await;
        },
    ));

    let state = ApiState {
        engine: engine.clone(),
        signer,
        forwarder: Forwarder::new(engine.clone(), cluster),
        public_url: public_url.clone().into(),
        proxy_ca_der,
    };
    tracing::info!(
        listen = %config.listen,
        %public_url,
        data_dir = %data_dir.display(),
        proxy_listen = %config.proxy_listen,
        "tapedeck ready: native API at /v1, Kernel at /kernel, GBOX at /gbox, FAST at /fast"
    );
    // What a client needs, ready to paste into a shell: on stdout, beside a new key, and out of
    // the way of the log lines on stderr.
    println!(
        "tapedeck ready:\n  KERNEL_BASE_URL={public_url}/kernel\n  GBOX_CLIENT_BASE_URL={public_url}/gbox\n  \
         FAST API: {public_url}/fast/v1   native API: {public_url}/v1 (OpenAPI at /v1/openapi.json)\n  \
         recording proxy: http://{}",
        config.proxy_listen
    );
    let (signalled, mut deadline_starts) = tokio::sync::watch::channel(false);
    let (draining, drain_secs) = (engine.clone(), config.drain_secs);
    let graceful = async {
        // Without TCP_NODELAY, a response written in pieces (a CDP message relayed, a
        // forwarded answer) waits on the client's delayed ACK: about 40 ms each.
        let listener = listener.tap_io(|tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!(error = %e, "TCP_NODELAY not set");
            }
        });
        axum::serve(listener, tapedeck_api::router(state))
            .with_graceful_shutdown(async move {
                shutdown_signal().await;
                if drain_secs > 0 {
                    let left = draining
                        .drain(std::time::Duration::from_secs(drain_secs))
                        .await;
                    tracing::info!(sessions_left = left, "drain over");
                }
                let _ = signalled.send(true);
            })
            .await?;
        let _ = stop_proxy.send(());
        match proxy.await {
            Ok(Err(e)) => tracing::error!(error = %e, "recording proxy failed"),
            Err(e) => tracing::error!(error = %e, "recording proxy task failed"),
            Ok(Ok(())) => {}
        }
        engine.shutdown().await;
        anyhow::Ok(())
    };
    let shutdown_deadline = std::time::Duration::from_secs(config.shutdown_secs);
    tokio::select! {
        finished = graceful => {
            finished?;
            tracing::info!("stopped");
        }
        _ = async {
            let _ = deadline_starts.wait_for(|signalled| *signalled).await;
            tokio::time::sleep(shutdown_deadline).await;
        } => {
            // A stalled encoder, a database or bucket that does not answer: the sessions'
            // processes die with the server, and the next start recovers their recordings.
            tracing::warn!(
                shutdown_secs = config.shutdown_secs,
                "shutdown deadline passed; exiting without finishing, the next start recovers the rest"
            );
            // Browsers and displays die with the server (their parent-death signal); encoders
            // would not, since they are meant to finish a segment on their own.
            engine.kill_encoders();
            // Not a return: dropping the runtime would wait for blocking tasks that may be stuck.
            std::process::exit(0);
        }
        _ = found_lost.wait_for(|lost| *lost) => {
            // Another node took this one's sessions and recordings over while it was frozen:
            // nothing it still runs is its own. Its processes die with it; a restart joins
            // the fleet afresh.
            tracing::error!("exiting: the fleet found this node lost and took over its work");
            engine.kill_encoders();
            std::process::exit(1);
        }
    }
    Ok(())
}

/// Files in the data dir only the server's user may read: the secrets and the SQLite database
/// (which holds recorded `Authorization` and `Cookie` values).
const PRIVATE_FILES: [&str; 6] = [
    "api-key",
    "signing-secret",
    "ca.key",
    "tapedeck.db",
    "tapedeck.db-wal",
    "tapedeck.db-shm",
];

/// Makes the data dir 0700 and its secrets 0600, including those an older version or another
/// tool left readable: new files are created private, but the dir may predate that.
fn keep_private(data_dir: &std::path::Path) -> std::io::Result<()> {
    std::fs::set_permissions(data_dir, std::fs::Permissions::from_mode(0o700))?;
    for name in PRIVATE_FILES {
        match std::fs::set_permissions(data_dir.join(name), std::fs::Permissions::from_mode(0o600))
        {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    Ok(())
}

/// Prepares the sandbox dir and runs one box there, so a server whose sessions could not start
/// refuses to start, saying why.
async fn check_sandbox(config: &EngineConfig) -> anyhow::Result<()> {
    let dir = &config.sandbox_dir;
    config
        .prepare_sandbox_dir()
        .with_context(|| format!("preparing sandbox dir {}", dir.display()))?;
    let scratch = config.session_dir(&format!("check-{}", std::process::id()));
    config
        .sandbox
        .check(&scratch)
        .await
        .with_context(|| format!("checking the session sandbox in {}", dir.display()))?;
    match config.sandbox.user() {
        Some(user) => tracing::info!(
            user = %user.name,
            uid = user.uid,
            sandbox_dir = %dir.display(),
            "sessions run as the session user in bubblewrap"
        ),
        None => tracing::info!(
            sandbox_dir = %dir.display(),
            "not root: sessions run as this server's user in bubblewrap"
        ),
    }
    Ok(())
}

async fn shutdown_signal() {
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        // Without signal handlers the server still runs; it just cannot shut down gracefully.
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {},
        _ = int.recv() => {},
    }
    tracing::info!("shutdown requested: finalizing recordings and ending sessions");
}
