//! Tests of notifications against real local HTTP servers standing in for Slack, Teams and webhooks.

mod config;
mod delivery;
mod logs;
mod receiver;
mod slack;
mod slack_callbacks;
mod teams;
mod webhook;

use std::path::Path;

use crate::config::Config;
use crate::store::testing::{at, new_hold};
use crate::store::{Hold, HoldState};

const SCRAM: &str = "SCRAM-SHA-256$4096:7dNl/gyR1CIkhwK15DsDSA==$u5g54B3SXwZPYTQB5ZSz+NHA77e2Y5tPB2d0/pMHn/M=:HfJb7e8cE33K9lmUUT1zbtIbqLWEPxOb+vPMaRWE9gc=";

/// A config with agent `agent-7` owned by alice, approvals at `https://airlock.example`, and `notify` appended.
fn config(notify: &str) -> Config {
    let text = format!(
        "[server]\npublic_url = \"https://airlock.example/\"\n\n\
         [agents.agent-7]\nscram = \"{SCRAM}\"\nowner = \"alice\"\n\n{notify}"
    );
    Config::parse(Path::new("airlock.toml"), &text).expect("test config is valid")
}

/// Pending hold `id` by agent-7.
fn pending(id: i64, statement: &str) -> Hold {
    Hold {
        id,
        state: HoldState::Pending,
        request: new_hold("agent-7", statement),
        decided_at: None,
        decided_by: None,
        comment: None,
    }
}

/// Hold `id` decided into `state` by `by`.
fn decided(id: i64, state: HoldState, by: Option<&str>, comment: Option<&str>) -> Hold {
    Hold {
        state,
        decided_at: Some(at(60)),
        decided_by: by.map(str::to_owned),
        comment: comment.map(str::to_owned),
        ..pending(id, "DELETE FROM orders WHERE id = 42")
    }
}

/// HMAC-SHA256 of `data` keyed with `key`, in hex, computed by the `openssl` command (an independent implementation).
fn openssl_hmac(key: &str, data: &[u8]) -> String {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new("openssl")
        .args(["dgst", "-sha256", "-hmac", key])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("openssl is installed");
    child.stdin.take().unwrap().write_all(data).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    // `SHA2-256(stdin)= <hex>` (or `HMAC-SHA256(stdin)= …` on older versions).
    text.trim().rsplit(' ').next().unwrap().to_string()
}
