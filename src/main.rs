//! `tapedeck`: the recording server binary.

mod config;
mod init;
mod keys;
mod serve;

use std::io::IsTerminal as _;

use clap::{Parser, Subcommand, ValueEnum};

/// Tapedeck: a self-hosted recording server for automated browser sessions.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// Log lines as text (coloured only on a terminal) or as one JSON object per line.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, env = "TAPEDECK_LOG_FORMAT")]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

/// How log lines are written (to stderr).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log shippers.
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server: native API at /v1, Kernel at /kernel, GBOX at /gbox, FAST at /fast, and
    /// the recording proxy.
    Serve(Box<config::ServeConfig>),
    /// Create, list and revoke API keys in the server's database (same --data-dir and
    /// --database-url as serve).
    Keys(config::KeysConfig),
}

/// Runs the command; a failure is one paragraph on stderr (its causes joined, no backtrace,
/// whatever `RUST_BACKTRACE` says) and exit status 1.
fn main() -> std::process::ExitCode {
    let outcome = if init::is_pid_1() {
        init::run()
    } else {
        run().map(|()| std::process::ExitCode::SUCCESS)
    };
    match outcome {
        Ok(code) => code,
        Err(e) => {
            eprintln!("tapedeck: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let logs = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,tower_http=info,sqlx=warn".into()),
        )
        // Logs go to stderr, so a command's own output (a new key) is all that stdout holds.
        .with_writer(std::io::stderr);
    match cli.log_format {
        // Colour escapes only where a person reads them, never into a file or a pipe.
        LogFormat::Text => logs.with_ansi(std::io::stderr().is_terminal()).init(),
        LogFormat::Json => logs.json().init(),
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match cli.command {
        Command::Serve(config) => runtime.block_on(serve::run(*config)),
        Command::Keys(config) => runtime.block_on(keys::run(config)),
    }
}
