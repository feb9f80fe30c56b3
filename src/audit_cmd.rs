//! `airlock audit …`: export (with a signed sidecar), verify the chain, verify
//! an export offline, make a signing key, prune by retention.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::Subcommand;

use airlock::audit::signing::{parse_public_key, AuditSigner};
use airlock::audit::{sidecar, ExportFormat};
use airlock::config::Config;

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Write audit records oldest first, to stdout or --output FILE (then with
    /// a signed sidecar FILE.sig.json).
    Export {
        #[arg(long, value_enum, default_value = "jsonl")]
        format: FormatArg,
        #[command(flatten)]
        period: Period,
        /// allowed, denied-by-rule, approved, denied, expired, abandoned.
        #[arg(long)]
        decision: Option<String>,
        #[arg(long)]
        class: Option<String>,
        /// Write to this file, and its sidecar to FILE.sig.json.
        #[arg(long, short)]
        output: Option<PathBuf>,
        /// Where the sidecar goes (needed for a sidecar when writing to stdout).
        #[arg(long)]
        sidecar: Option<PathBuf>,
    },
    /// The approval history (decided holds: who decided, when, comment,
    /// votes, rows), oldest first, to stdout or --output FILE.
    Approvals {
        /// csv or jsonl.
        #[arg(long, default_value = "csv")]
        format: String,
        #[command(flatten)]
        period: Period,
        /// approved, denied, expired, abandoned.
        #[arg(long)]
        decision: Option<String>,
        /// Whoever decided or voted.
        #[arg(long)]
        approver: Option<String>,
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Walk the hash chain and report the first altered, deleted or inserted
    /// record. Exit code 0 when intact, 1 when not.
    Verify {
        /// Check only records from this RFC 3339 time on.
        #[arg(long)]
        since: Option<String>,
        /// The trusted public key (hex, or a file holding it). Default: the
        /// public half of the configured signing key.
        #[arg(long)]
        public_key: Option<String>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Check an export against its sidecar, offline (no config or store needed).
    VerifyExport {
        file: PathBuf,
        /// The sidecar (default FILE.sig.json).
        #[arg(long)]
        sidecar: Option<PathBuf>,
        /// The trusted public key (hex, or a file holding it).
        #[arg(long)]
        public_key: Option<String>,
    },
    /// Write a new Ed25519 signing key to FILE (mode 0600) and its public key
    /// to FILE.pub, and print the public key.
    Keygen {
        #[arg(long, short, default_value = "airlock-audit.key")]
        output: PathBuf,
    },
    /// Delete records older than [audit] retention (or --older-than), leaving a
    /// checkpoint the rest of the chain verifies from.
    Prune {
        /// A duration like 365d; default: the configured retention.
        #[arg(long)]
        older_than: Option<String>,
    },
}

/// The filters both exports share. For the approval history, the times
/// bound when the hold was requested.
#[derive(clap::Args)]
pub struct Period {
    /// RFC 3339 time, inclusive.
    #[arg(long)]
    since: Option<String>,
    /// RFC 3339 time, exclusive.
    #[arg(long)]
    until: Option<String>,
    #[arg(long)]
    agent: Option<String>,
    #[arg(long)]
    database: Option<String>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum FormatArg {
    Jsonl,
    Csv,
    Ocsf,
}

pub fn run(config_path: &Path, command: AuditCommand) -> Result<ExitCode> {
    match command {
        AuditCommand::Export {
            format,
            period:
                Period {
                    since,
                    until,
                    agent,
                    database,
                },
            decision,
            class,
            output,
            sidecar,
        } => {
            let config = Config::load(config_path)?;
            let store = airlock::store::open(&config.store_url)?;
            let filter = airlock::audit::export::FilterText {
                since,
                until,
                agent,
                database,
                decision,
                class,
            }
            .parse()
            .map_err(anyhow::Error::msg)?;
            let format = match format {
                FormatArg::Jsonl => ExportFormat::Jsonl,
                FormatArg::Csv => ExportFormat::Csv,
                FormatArg::Ocsf => ExportFormat::Ocsf,
            };
            let signer = config.audit.signer.as_ref();
            let (side, side_path) = match &output {
                Some(path) => {
                    let mut file = std::fs::File::create(path)
                        .with_context(|| format!("creating {}", path.display()))?;
                    let side =
                        sidecar::export_signed(store.as_ref(), &filter, format, &mut file, signer)?;
                    file.sync_all()?;
                    let side_path = sidecar.unwrap_or_else(|| sidecar::sidecar_path(path));
                    (side, Some(side_path))
                }
                None => {
                    let stdout = std::io::stdout();
                    let mut out = stdout.lock();
                    let side =
                        sidecar::export_signed(store.as_ref(), &filter, format, &mut out, signer)?;
                    out.flush()?;
                    (side, sidecar)
                }
            };
            if let Some(side_path) = side_path {
                sidecar::write_sidecar(&side_path, &side)
                    .with_context(|| format!("writing {}", side_path.display()))?;
                eprintln!(
                    "{} records; sidecar {} ({})",
                    side.records,
                    side_path.display(),
                    if side.signature.is_some() {
                        "signed"
                    } else {
                        "UNSIGNED: no [audit] signing_key configured"
                    }
                );
            }
        }
        AuditCommand::Approvals {
            format,
            period:
                Period {
                    since,
                    until,
                    agent,
                    database,
                },
            decision,
            approver,
            output,
        } => {
            let text = airlock::approvals::history::HistoryText {
                since,
                until,
                agent,
                database,
                decision,
                approver,
            };
            approvals_history(config_path, &format, &text, output.as_deref())?;
        }
        AuditCommand::Verify {
            since,
            public_key,
            json,
        } => {
            let config = Config::load(config_path)?;
            let store = airlock::store::open(&config.store_url)?;
            let trusted = match public_key {
                Some(k) => Some(parse_public_key(&k)?),
                None => config.audit.signer.as_ref().map(AuditSigner::public_key),
            };
            let report =
                airlock::audit::verify::verify(store.as_ref(), time(since)?, trusted.as_ref())?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{report}");
            }
            if !report.intact() {
                return Ok(ExitCode::from(1));
            }
        }
        AuditCommand::VerifyExport {
            file,
            sidecar: side,
            public_key,
        } => {
            let trusted = public_key.map(|k| parse_public_key(&k)).transpose()?;
            match sidecar::verify_export(&file, side.as_deref(), trusted.as_ref()) {
                Ok(check) => {
                    let s = &check.sidecar;
                    println!(
                        "ok: {} intact: {} records (ids {}..{}), exported {}, chain head {} {}",
                        file.display(),
                        s.records,
                        s.min_id.map_or("-".into(), |v| v.to_string()),
                        s.max_id.map_or("-".into(), |v| v.to_string()),
                        s.exported_at.to_rfc3339(),
                        s.chain_head_id.map_or("-".into(), |v| v.to_string()),
                        s.chain_head_hash.as_deref().unwrap_or("-"),
                    );
                    match (&s.signature, check.trusted_key) {
                        (None, _) => println!(
                            "UNSIGNED: the sidecar proves the file matches it, not who made it"
                        ),
                        (Some(_), true) => println!("signature verified with the trusted key"),
                        (Some(_), false) => println!(
                            "signature verified only with the key inside the sidecar ({}): pass \
                             --public-key to check who signed",
                            s.public_key.as_deref().unwrap_or("-")
                        ),
                    }
                }
                Err(problem) => {
                    println!("FAILED: {}: {problem}", file.display());
                    return Ok(ExitCode::from(1));
                }
            }
        }
        AuditCommand::Keygen { output } => {
            let signer = AuditSigner::generate();
            signer.write(&output)?;
            println!("{}", signer.public_key_hex());
            eprintln!(
                "Wrote {} (secret, 0600) and {}. Put `signing_key = \"{}\"` under [audit]; \
                 give auditors the public key.",
                output.display(),
                airlock::audit::signing::public_path(&output).display(),
                output.display()
            );
        }
        AuditCommand::Prune { older_than } => {
            let config = Config::load(config_path)?;
            let retention = match older_than {
                Some(t) => chrono::Duration::from_std(
                    airlock::config::parse_duration(&t).map_err(anyhow::Error::msg)?,
                )?,
                None => match config.audit.retention {
                    Some(r) => r,
                    None => bail!("no [audit] retention configured; pass --older-than"),
                },
            };
            let store = airlock::store::open(&config.store_url)?;
            let (n, cp) = airlock::audit::seal::prune(
                store.as_ref(),
                config.audit.signer.as_ref(),
                retention,
                chrono::Utc::now(),
            )?;
            match cp {
                Some(cp) => println!(
                    "pruned {n} records up to id {}; checkpoint {} ({})",
                    cp.audit_id,
                    cp.id,
                    if cp.signature.is_some() {
                        "signed"
                    } else {
                        "unsigned"
                    }
                ),
                None => println!("nothing to prune"),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn time(t: Option<String>) -> Result<Option<chrono::DateTime<chrono::Utc>>> {
    airlock::audit::export::parse_time(&t).map_err(anyhow::Error::msg)
}

fn approvals_history(
    config_path: &Path,
    format: &str,
    text: &airlock::approvals::history::HistoryText,
    output: Option<&Path>,
) -> Result<()> {
    let format: airlock::approvals::history::HistoryFormat =
        format.parse().map_err(anyhow::Error::msg)?;
    let filter = text.parse().map_err(anyhow::Error::msg)?;
    let config = Config::load(config_path)?;
    let store = airlock::store::open(&config.store_url)?;
    let mut out: Box<dyn Write> = match output {
        Some(path) => Box::new(
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
        ),
        None => Box::new(std::io::stdout().lock()),
    };
    let n = airlock::approvals::history::write(store.as_ref(), &filter, format, &mut out)?;
    out.flush()?;
    eprintln!("{n} decided holds");
    Ok(())
}
