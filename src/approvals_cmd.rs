//! `airlock approvals list|show|approve|deny`: an approver at the command line,
//! on the shared store, through the same decision function as the web page. A
//! waiting proxy picks a decision up by polling the store.

use std::sync::Arc;

use anyhow::{bail, Context, Result};
use clap::Subcommand;

use airlock::approvals::decide::effective_state;
use airlock::approvals::{Approvals, Choice, Decided};
use airlock::config::{Approver, Config};
use airlock::store::HoldState;

#[derive(clap::Args)]
pub struct ApprovalsArgs {
    /// The approver you are (their API token must be in AIRLOCK_TOKEN).
    #[arg(long = "as", value_name = "NAME")]
    pub approver: String,
    /// The approver's API token (from `airlock token`).
    #[arg(long, env = "AIRLOCK_TOKEN", hide_env_values = true)]
    pub token: String,
    #[command(subcommand)]
    pub command: ApprovalsCommand,
}

#[derive(Subcommand)]
pub enum ApprovalsCommand {
    /// List holds, newest first.
    List {
        /// pending, approved, denied, expired or abandoned.
        #[arg(long)]
        state: Option<String>,
    },
    /// Show one hold in full.
    Show { id: i64 },
    /// Approve a pending hold.
    Approve {
        id: i64,
        #[arg(long)]
        comment: Option<String>,
        /// Also let this statement's shape through for this many minutes.
        #[arg(long)]
        grant_minutes: Option<u32>,
    },
    /// Deny a pending hold.
    Deny {
        id: i64,
        #[arg(long)]
        comment: Option<String>,
    },
}

/// Checks who is asking, then runs the command.
pub fn run(config: &Config, args: ApprovalsArgs) -> Result<()> {
    let approver = authenticate(config, &args.approver, &args.token)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let store = airlock::store::open(&config.store_url)
            .with_context(|| format!("opening store {}", config.store_url))?;
        let approvals = Approvals::new(store);
        command(&approvals, &approver, args.command).await
    })
}

fn authenticate(config: &Config, name: &str, token: &str) -> Result<Approver> {
    let approver = config.approvers.get(name);
    match approver {
        Some(a) if airlock::web::auth::token_matches(a, token) => Ok(a.clone()),
        _ => bail!("not an approver: unknown name {name:?} or wrong token (AIRLOCK_TOKEN)"),
    }
}

async fn command(approvals: &Arc<Approvals>, me: &Approver, cmd: ApprovalsCommand) -> Result<()> {
    match cmd {
        ApprovalsCommand::List { state } => {
            let state = match state {
                None => None,
                Some(s) => {
                    Some(HoldState::parse(&s).with_context(|| format!("unknown state {s:?}"))?)
                }
            };
            for hold in approvals.list(None).await? {
                let now_state = effective_state(&hold);
                if state.is_some_and(|s| s != now_state) {
                    continue;
                }
                let r = &hold.request;
                let sql: String = r.statement.split_whitespace().collect::<Vec<_>>().join(" ");
                let sql: String = sql.chars().take(80).collect();
                println!(
                    "#{:<6} {:<9} {:<16} {:<12} {:<9} {}",
                    hold.id, now_state, r.agent, r.database, r.class, sql
                );
            }
        }
        ApprovalsCommand::Show { id } => {
            let hold = approvals
                .get(id)
                .await?
                .with_context(|| format!("no hold #{id}"))?;
            let votes = approvals.votes(id).await?;
            let mut view = serde_json::to_value(&hold)?;
            view["state"] = serde_json::to_value(effective_state(&hold))?;
            view["votes"] = serde_json::to_value(votes)?;
            println!("{}", serde_json::to_string_pretty(&view)?);
        }
        ApprovalsCommand::Approve {
            id,
            comment,
            grant_minutes,
        } => {
            let choice = match grant_minutes {
                Some(m) => Choice::approve_with_grant(comment.as_deref(), m),
                None => Choice::approve(comment.as_deref()),
            };
            report(id, approvals.decide(id, me, choice).await?);
        }
        ApprovalsCommand::Deny { id, comment } => {
            report(
                id,
                approvals
                    .decide(id, me, Choice::deny(comment.as_deref()))
                    .await?,
            );
        }
    }
    Ok(())
}

fn report(id: i64, decided: Decided) {
    match decided {
        Decided::Counted { approvals, quorum } => {
            println!("#{id}: approval counted ({approvals} of {quorum}); still pending")
        }
        Decided::Finished {
            state,
            grant: Some(g),
        } => println!("#{id}: {state} (grant #{g})"),
        Decided::Finished { state, grant: None } => println!("#{id}: {state}"),
    }
}
