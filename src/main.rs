//! The airlock command line: `serve`, `check`, `passwd`, `approvals`, `audit`.

use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};

use airlock::config::{Config, LogFormat, DEFAULT_CONFIG};

#[derive(Parser)]
#[command(
    name = "airlock",
    version,
    about = "Holds AI agents' writes until a human approves them"
)]
struct Cli {
    /// Configuration file.
    #[arg(long, global = true, env = "AIRLOCK_CONFIG", default_value = DEFAULT_CONFIG)]
    config: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the proxy.
    Serve,
    /// Print a SCRAM-SHA-256 verifier for an agent's password (read from stdin).
    Passwd {
        /// The password (default: read one line from standard input).
        #[arg(long)]
        password: Option<String>,
    },
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("airlock: {e:#}");
            std::process::ExitCode::from(1)
        }
    }
}

fn run(cli: Cli) -> Result<std::process::ExitCode> {
    match cli.command {
        Command::Serve => {
            let config = Config::load(&cli.config)?;
            init_logging(&config);
            serve(config)?;
        }
        Command::Passwd { password } => {
            let password = match password {
                Some(p) => p,
                None => {
                    let mut line = String::new();
                    std::io::stdin().read_to_string(&mut line)?;
                    line.trim_end_matches(['\n', '\r']).to_string()
                }
            };
            if password.is_empty() {
                bail!("empty password");
            }
            println!("{}", airlock::pg::scram::ScramVerifier::generate(&password));
        }
    }
    Ok(std::process::ExitCode::SUCCESS)
}

fn init_logging(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("AIRLOCK_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&config.log_level));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match config.log_format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Human => builder.init(),
    }
}

fn serve(config: Config) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let config = Arc::new(config);
        let rules = airlock::policy::Rules::load_dir(&config.rules_dir)
            .with_context(|| format!("loading rules from {}", config.rules_dir.display()))?;
        let store = airlock::store::open(&config.store_url)
            .with_context(|| format!("opening store {}", config.store_url))?;
        let (audit, writer) = airlock::audit::AuditLog::start(store.clone());
        let approvals = airlock::approvals::Approvals::new(store);
        let state = Arc::new(airlock::state::State {
            config: config.clone(),
            rules,
            approvals,
            audit,
            cancel: Default::default(),
        });
        let listener = tokio::net::TcpListener::bind(config.server.listen)
            .await
            .with_context(|| format!("listening on {}", config.server.listen))?;
        tracing::info!(listen = %config.server.listen, databases = config.databases.len(), agents = config.agents.len(), "airlock is serving");
        tokio::select! {
            r = airlock::pg::serve(state.clone(), listener) => r?,
            _ = shutdown_signal() => tracing::info!("shutting down"),
        }
        drop(state);
        writer.shutdown();
        anyhow::Ok(())
    })
}

async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("installing a SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
