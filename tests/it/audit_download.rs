//! Auditor downloads over real HTTP: statements run through airlock, the
//! audit export is fetched with curl (bearer token) from airlock's web
//! listener, and `airlock audit verify-export` checks the file it wrote; the
//! approval history download matches `airlock audit approvals`.

use std::process::Command;

use sha2::{Digest, Sha256};

use crate::harness::*;

const TOKEN: &str = "auditor-token-1";

fn curl(url: &str, token: &str, output: &std::path::Path) -> u16 {
    let out = output_ok(
        Command::new("curl")
            .args(["-sS", "-o"])
            .arg(output)
            .args(["-w", "%{http_code}", "-H"])
            .arg(format!("Authorization: Bearer {token}"))
            .arg(url),
    );
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

#[tokio::test]
async fn an_auditor_downloads_over_http_and_the_file_verifies_offline() {
    let keys = tempfile::tempdir().unwrap();
    let key = keys.path().join("audit.key");
    output_ok(
        Command::new(binary())
            .args(["audit", "keygen", "--output"])
            .arg(&key),
    );
    let approvers = format!(
        "[audit]\nsigning_key = \"{}\"\n[approvers.ada]\nroles = [\"auditor\"]\ntoken_hash = \"{}\"\n\
         [approvers.dba-1]\ngroups = [\"dba\"]\ntoken_hash = \"{}\"\n",
        key.display(),
        hex::encode(Sha256::digest(TOKEN)),
        hex::encode(Sha256::digest("approver-token")),
    );
    let a = Airlock::start_with(Options {
        rules: HOLD_WRITES,
        extra_server: &approvers,
        ..Options::default()
    })
    .await;
    let c = a.connect().await;
    for i in 0..25 {
        c.simple_query(&format!("SELECT {i} AS n")).await.unwrap();
    }
    // One held statement, denied with a comment: the approval history.
    let held = tokio::spawn({
        let conninfo = a.conninfo();
        async move {
            let c = connect(&conninfo).await;
            c.simple_query("DELETE FROM airlock_no_such_table").await
        }
    });
    let id = a.next_pending().await;
    a.deny(id, "not without a ticket").await;
    assert!(held.await.unwrap().is_err());
    a.audit().await; // flushed
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let web = listener.local_addr().unwrap();
    tokio::spawn(airlock::web::serve(a.state.clone(), listener));
    let dir = tempfile::tempdir().unwrap();
    for format in ["csv", "jsonl", "ocsf"] {
        let file = dir.path().join(format!("audit.{format}"));
        let url = format!("http://{web}/api/audit/export?format={format}&agent={AGENT}");
        let status = tokio::task::spawn_blocking({
            let file = file.clone();
            move || curl(&url, TOKEN, &file)
        })
        .await
        .unwrap();
        assert_eq!(
            status,
            200,
            "{}",
            std::fs::read_to_string(&file).unwrap_or_default()
        );
        let check = output_ok(
            Command::new(binary())
                .args(["audit", "verify-export"])
                .arg(&file),
        );
        let said = String::from_utf8_lossy(&check.stdout);
        assert!(
            said.starts_with("ok:") && said.contains("26 records") && !said.contains("UNSIGNED"),
            "{format}: {said}"
        );
        let mut text = std::fs::read_to_string(&file).unwrap();
        text = text.replacen("SELECT 7 AS n", "SELECT 8 AS n", 1);
        std::fs::write(&file, text).unwrap();
        let tampered = Command::new(binary())
            .args(["audit", "verify-export"])
            .arg(&file)
            .output()
            .unwrap();
        assert!(
            !tampered.status.success(),
            "{format}: a changed file must fail"
        );
    }
    let file = dir.path().join("refused.jsonl");
    let url = format!("http://{web}/api/audit/export");
    let status = tokio::task::spawn_blocking({
        let file = file.clone();
        move || curl(&url, "approver-token", &file)
    })
    .await
    .unwrap();
    assert_eq!(status, 403, "an approver without the auditor role");

    let file = dir.path().join("approvals.jsonl");
    let url = format!("http://{web}/api/audit/approvals?format=jsonl&decision=denied");
    let status = tokio::task::spawn_blocking({
        let file = file.clone();
        move || curl(&url, TOKEN, &file)
    })
    .await
    .unwrap();
    assert_eq!(status, 200);
    let downloaded = std::fs::read_to_string(&file).unwrap();
    assert!(
        downloaded.contains("not without a ticket")
            && downloaded.contains("\"decided_by\":\"dba-1\""),
        "{downloaded}"
    );
    let cli = output_ok(
        Command::new(binary())
            .arg("--config")
            .arg(a.config_path())
            .args([
                "audit",
                "approvals",
                "--format",
                "jsonl",
                "--decision",
                "denied",
            ]),
    );
    assert_eq!(
        String::from_utf8_lossy(&cli.stdout),
        downloaded,
        "the CLI writes the same history"
    );
}
