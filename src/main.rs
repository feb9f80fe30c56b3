//! The airlock command line: `serve`, `check`, `passwd`, `approvals`, `audit`, `iam-token`.

mod approvals_cmd;
mod audit_cmd;

use std::io::Read;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};

use airlock::config::{Config, LogFormat, Scheduler, DEFAULT_CONFIG};
use airlock::listener::{SessionThreads, Sessions};

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
    /// Classify SQL and show what the rules decide, exactly as the proxy would.
    Check(CheckArgs),
    /// The audit log.
    #[command(subcommand)]
    Audit(audit_cmd::AuditCommand),
    /// Print a SCRAM-SHA-256 verifier for an agent's password (read from stdin),
    /// or with --mysql the `mysql_native` hash for MySQL agents.
    Passwd {
        /// The password (default: read one line from standard input).
        #[arg(long)]
        password: Option<String>,
        /// Print `[agents.NAME] mysql_native` (hex SHA1(SHA1(password))) instead.
        #[arg(long)]
        mysql: bool,
    },
    /// Print an argon2 hash of an approver's password (read from stdin) for
    /// `[approvers.NAME] password_hash`.
    ApproverHash {
        /// The password (default: read one line from standard input).
        #[arg(long)]
        password: Option<String>,
    },
    /// Print a new random API token for an approver, and the hash of it for
    /// `[approvers.NAME] token_hash`.
    Token,
    /// Decide held statements as an approver: list, show, approve, deny.
    Approvals(approvals_cmd::ApprovalsArgs),
    /// Print an RDS IAM authentication token (like `aws rds generate-db-auth-token`),
    /// signed with the environment's AWS credentials (or the shared credentials file).
    IamToken {
        /// The database endpoint's host name.
        #[arg(long)]
        host: String,
        #[arg(long, default_value_t = 5432)]
        port: u16,
        /// The database user (granted rds_iam).
        #[arg(long)]
        user: String,
        /// The database's AWS region.
        #[arg(long, env = "AWS_REGION")]
        region: String,
    },
}

#[derive(clap::Args)]
struct CheckArgs {
    /// SQL dialect.
    #[arg(long, value_enum, default_value = "postgres")]
    dialect: DialectArg,
    /// Rules directory (default: the config's, or ./rules without a config).
    #[arg(long)]
    rules: Option<PathBuf>,
    /// Agent name the rules see (its groups come from the config when it is there).
    #[arg(long, default_value = "agent")]
    agent: String,
    /// Database name the rules see.
    #[arg(long, default_value = "test")]
    database: String,
    #[arg(long, value_enum, default_value = "text")]
    format: airlock::check::CheckFormat,
    /// A SQL string to check (repeatable). Without -e, all of stdin is one string.
    #[arg(short = 'e', long = "execute")]
    sql: Vec<String>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum DialectArg {
    Postgres,
    Mysql,
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
        Command::Check(args) => return check(&cli.config, args),
        Command::Audit(command) => return audit_cmd::run(&cli.config, command),
        Command::Passwd { password, mysql } => {
            let password = read_password(password)?;
            if mysql {
                println!("{}", airlock::mysql::auth::native_hash(&password));
            } else {
                println!("{}", airlock::pg::scram::ScramVerifier::generate(&password));
            }
        }
        Command::ApproverHash { password } => {
            let password = read_password(password)?;
            println!("{}", airlock::web::auth::hash_password(&password));
        }
        Command::Token => {
            let (token, hash) = airlock::web::auth::new_token();
            println!("token:      {token}");
            println!("token_hash: {hash}");
            eprintln!("Give the token to the approver (AIRLOCK_TOKEN); put token_hash in their [approvers.NAME] entry.");
        }
        Command::Approvals(args) => {
            let config = Config::load(&cli.config)?;
            approvals_cmd::run(&config, args)?;
        }
        Command::IamToken {
            host,
            port,
            user,
            region,
        } => {
            use airlock::credentials::{rds_token, AwsEnv, BaseCredentials};
            let http = reqwest::Client::new();
            let chain = BaseCredentials::Chain(AwsEnv::from_process());
            let creds = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?
                .block_on(chain.load(&http, std::time::Duration::from_secs(5)))?;
            let req = rds_token::TokenRequest {
                host: &host,
                port,
                user: &user,
                region: &region,
            };
            println!(
                "{}",
                rds_token::auth_token(&req, &creds, chrono::Utc::now())
            );
        }
    }
    Ok(std::process::ExitCode::SUCCESS)
}

/// A password given on the command line, or the first line of stdin.
fn read_password(given: Option<String>) -> Result<String> {
    let password = match given {
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
    Ok(password)
}

/// `airlock check`: exit 0 when every input was classified, 2 on bad rules.
fn check(config_path: &std::path::Path, args: CheckArgs) -> Result<std::process::ExitCode> {
    let config = match Config::load(config_path) {
        Ok(c) => Some(c),
        Err(_) if args.rules.is_some() || !config_path.exists() => None,
        Err(e) => return Err(e.into()),
    };
    let rules_dir = args
        .rules
        .clone()
        .or_else(|| config.as_ref().map(|c| c.rules_dir.clone()))
        .unwrap_or_else(|| PathBuf::from("rules"));
    let rules = match airlock::policy::Rules::load_dir(&rules_dir) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("airlock: {e}");
            return Ok(std::process::ExitCode::from(2));
        }
    };
    let groups = config
        .as_ref()
        .and_then(|c| c.agents.get(&args.agent))
        .map(|a| a.groups.clone())
        .unwrap_or_default();
    let inputs = if args.sql.is_empty() {
        let mut all = String::new();
        std::io::stdin().read_to_string(&mut all)?;
        vec![all]
    } else {
        args.sql
    };
    let opts = airlock::check::CheckOptions {
        dialect: match args.dialect {
            DialectArg::Postgres => airlock::classify::Dialect::Postgres,
            DialectArg::Mysql => airlock::classify::Dialect::Mysql,
        },
        rules,
        agent: args.agent,
        groups,
        database: args.database,
        format: args.format,
        at: chrono::Utc::now(),
    };
    if let Some(note) = config
        .as_ref()
        .and_then(|c| c.databases.get(&opts.database))
        .and_then(|db| db.writer_note())
    {
        eprintln!("airlock: note: {note}");
    }
    let stdout = std::io::stdout();
    airlock::check::run(&opts, &inputs, &mut stdout.lock())?;
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

fn serve(mut config: Config) -> Result<()> {
    let threads = std::env::var("AIRLOCK_WORKER_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .or(config.server.worker_threads);
    let scheduler = match std::env::var("AIRLOCK_SCHEDULER") {
        Ok(text) => text
            .parse()
            .map_err(|e| anyhow::anyhow!("AIRLOCK_SCHEDULER: {e}"))?,
        Err(_) => config.server.scheduler,
    };
    if let Ok(text) = std::env::var("AIRLOCK_POOL_SIZE") {
        config.server.pool_size = text
            .parse()
            .map_err(|_| anyhow::anyhow!("AIRLOCK_POOL_SIZE: expected a number, got {text:?}"))?;
    }
    // What the environment chose is what the sessions see in the config.
    (config.server.worker_threads, config.server.scheduler) = (threads, scheduler);
    match scheduler {
        Scheduler::Shared => {
            let mut builder = tokio::runtime::Builder::new_multi_thread();
            if let Some(n) = threads {
                builder.worker_threads(n);
            }
            let runtime = builder.enable_all().build()?;
            runtime.block_on(serve_until_stopped(config, Sessions::default()))
        }
        Scheduler::PerCore => {
            // The accept loops, the web page and the notifiers run on this
            // thread; sessions on their own.
            let n = threads
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
            let session_threads = SessionThreads::start(n)?;
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let served = runtime.block_on(serve_until_stopped(config, session_threads.sessions()));
            session_threads.shutdown();
            served
        }
    }
}

/// Serves until a shutdown signal, then flushes the audit log.
async fn serve_until_stopped(config: Config, sessions: Sessions) -> Result<()> {
    let (state, writer) = airlock::state::State::start(config)?;
    let config = state.config.clone();
    let listener = tokio::net::TcpListener::bind(config.server.listen)
        .await
        .with_context(|| format!("listening on {}", config.server.listen))?;
    let web_listener = tokio::net::TcpListener::bind(config.web.listen)
        .await
        .with_context(|| format!("listening on {} (web)", config.web.listen))?;
    if config.approvers.is_empty() {
        tracing::warn!("no [approvers] configured: nobody can approve held statements");
    }
    if let Some(m) = &config.mysql {
        tracing::info!(listen = %m.listen, "MySQL listener");
    }
    for note in config.databases.values().filter_map(|db| db.writer_note()) {
        tracing::warn!("{note}");
    }
    tracing::info!(listen = %config.server.listen, web = %config.web.listen, databases = config.databases.len(), agents = config.agents.len(), approvers = config.approvers.len(), "airlock is serving");
    let mysql = match &config.mysql {
        Some(m) => Some(
            tokio::net::TcpListener::bind(m.listen)
                .await
                .with_context(|| format!("listening on {} (mysql)", m.listen))?,
        ),
        None => None,
    };
    let mysql_state = state.clone();
    let mysql_sessions = sessions.clone();
    let serve_mysql = async move {
        match mysql {
            Some(l) => airlock::mysql::serve(mysql_state, l, mysql_sessions).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        r = airlock::pg::serve(state.clone(), listener, sessions) => r?,
        r = serve_mysql => r.context("mysql listener")?,
        r = airlock::web::serve(state.clone(), web_listener) => r.context("web listener")?,
        _ = shutdown_signal() => tracing::info!("shutting down"),
    }
    drop(state);
    match writer.shutdown_within(std::time::Duration::from_secs(30)) {
        Ok(n) => tracing::info!(records = n, "audit log flushed"),
        Err(e) => tracing::error!(error = %e, "audit log not fully flushed"),
    }
    anyhow::Ok(())
}

async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("installing a SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
