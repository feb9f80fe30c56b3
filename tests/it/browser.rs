//! What an approver sees, in headless Chromium driven through chromedriver:
//! sign in, watch a new request appear in the live queue, open it, approve it
//! with a comment — and the statement waiting on it is released.
//!
//! Skips (with a message) when chromium or chromedriver is not installed; CI
//! installs both. Screenshots land in `test-artifacts/`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use airlock::approvals::{Approvals, Outcome};
use airlock::audit::AuditLog;
use airlock::classify::Class;
use airlock::config::Config;
use airlock::state::State;
use airlock::store::NewHold;
use fantoccini::{ClientBuilder, Locator};

const PASSWORD: &str = "correct horse battery staple";

fn on_path(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |n| dir.join(n)))
        .find(|p| p.is_file())
}

/// Chromium and chromedriver, from `CHROMIUM` / `CHROMEDRIVER` or the PATH.
fn browser() -> Option<(PathBuf, PathBuf)> {
    let chromium = std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .or_else(|| on_path(&["chromium", "chromium-browser", "google-chrome"]))?;
    let driver = std::env::var_os("CHROMEDRIVER")
        .map(PathBuf::from)
        .or_else(|| on_path(&["chromedriver"]))?;
    Some((chromium, driver))
}

/// An airlock web surface on 127.0.0.1:0 with one approver, alice (dba).
async fn start_airlock(dir: &Path) -> (Arc<State>, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let text = format!(
        r#"
        [server]
        public_url = "{base}"
        [store]
        url = "sqlite:{store}"
        [approvers.alice]
        password_hash = "{hash}"
        groups = ["dba"]
        roles = ["approver", "auditor"]
        "#,
        store = dir.join("airlock.sqlite").display(),
        hash = airlock::web::auth::hash_password(PASSWORD),
    );
    let config = Config::parse(&dir.join("airlock.toml"), &text).unwrap();
    let store = airlock::store::open(&config.store_url).unwrap();
    let (audit, _writer) = AuditLog::start(store.clone());
    let state = Arc::new(State {
        config: Arc::new(config),
        rules: Default::default(),
        approvals: Approvals::new(store),
        audit,
        cancel: Default::default(),
        notifier: airlock::approvals::notify::Notifier::disabled(),
        slack: airlock::approvals::notify::SlackInteractions::new(&[]),
        parsed: Default::default(),
        mysql_parsed: Default::default(),
        mysql_threads: Default::default(),
        pg_pool: Default::default(),
    });
    tokio::spawn(airlock::web::serve(state.clone(), listener));
    (state, base)
}

/// chromedriver on a free port; killed when the handle drops.
async fn start_driver(driver: &Path) -> (tokio::process::Child, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = tokio::process::Command::new(driver)
        .arg(format!("--port={port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("starting chromedriver");
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return (child, format!("http://{addr}"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromedriver did not start listening on {addr}");
}

fn held_delete() -> NewHold {
    let now = chrono::Utc::now();
    NewHold {
        created: now,
        expires: now + chrono::Duration::minutes(5),
        session_id: "e2e-1".into(),
        agent: "cleanup-bot".into(),
        database: "orders".into(),
        statement: "/* reason: purge test orders per TICKET-12 */\nDELETE FROM orders\n WHERE created < now() - interval '2 years'\n   AND customer_id = $1".into(),
        params: vec![Some("4711".into())],
        binding: "5f".repeat(32),
        class: Class::Write,
        rule: "rules/10-writes.toml:writes-need-approval".into(),
        tables: vec!["public.orders".into()],
        client_addr: "10.0.4.17:51234".into(),
        application_name: "cleanup-bot/1.4".into(),
        upstream_user: "orders_writer".into(),
        approver_groups: vec!["dba".into()],
        quorum: 1,
        owner: Some("dave".into()),
        reason: Some("purge test orders per TICKET-12".into()),
        preview: Some("Delete on orders  (cost=0.00..431.00 rows=1834 width=6)\n  ->  Seq Scan on orders  (cost=0.00..431.00 rows=1834 width=6)\n        Filter: ((created < (now() - '2 years'::interval)) AND (customer_id = 4711))".into()),
        dialect: airlock::classify::Dialect::Postgres,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approver_signs_in_sees_the_live_queue_and_approves() {
    let Some((chromium, driver)) = browser() else {
        eprintln!("SKIPPED: chromium and chromedriver are not installed (apt-get install chromium chromium-driver)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (state, base) = start_airlock(dir.path()).await;
    let (_driver, webdriver) = start_driver(&driver).await;
    let profile = dir.path().join("chromium-profile");
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": chromium,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--window-size=1100,860",
                format!("--user-data-dir={}", profile.display()),
            ],
        }),
    );
    let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&webdriver)
        .await
        .expect("a Chromium session");
    let artifacts = Path::new(env!("CARGO_MANIFEST_DIR")).join("test-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let wait = Duration::from_secs(15);

    // Sign in: the queue sends us to the sign-in page and back.
    client.goto(&format!("{base}/approvals")).await.unwrap();
    client
        .wait()
        .at_most(wait)
        .for_element(Locator::Id("name"))
        .await
        .unwrap();
    client
        .find(Locator::Id("name"))
        .await
        .unwrap()
        .send_keys("alice")
        .await
        .unwrap();
    client
        .find(Locator::Id("password"))
        .await
        .unwrap()
        .send_keys(PASSWORD)
        .await
        .unwrap();
    client
        .find(Locator::Css("button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    if client
        .wait()
        .at_most(wait)
        .for_element(Locator::Css("#live.on"))
        .await
        .is_err()
    {
        panic!(
            "no live queue after signing in:\n{}",
            client.source().await.unwrap()
        );
    }

    // A statement is held while the page is open: the queue shows it, live.
    let id = state.approvals.hold(held_delete()).await.unwrap();
    let approvals = state.approvals.clone();
    let waiting = tokio::spawn(async move {
        approvals
            .wait(id, tokio::time::Instant::now() + Duration::from_secs(60))
            .await
    });
    let link = format!("#queue a[href='/approvals/{id}']");
    client
        .wait()
        .at_most(wait)
        .for_element(Locator::Css(&link))
        .await
        .unwrap();
    std::fs::write(
        artifacts.join("queue.png"),
        client.screenshot().await.unwrap(),
    )
    .unwrap();

    // Open it, read it, approve it with a comment.
    client
        .find(Locator::Css(&link))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let statement = client
        .wait()
        .at_most(wait)
        .for_element(Locator::Id("statement"))
        .await
        .unwrap();
    assert!(statement
        .text()
        .await
        .unwrap()
        .contains("DELETE FROM orders"));
    std::fs::write(
        artifacts.join("request.png"),
        client.screenshot().await.unwrap(),
    )
    .unwrap();
    client
        .find(Locator::Id("comment"))
        .await
        .unwrap()
        .send_keys("ok, matches TICKET-12")
        .await
        .unwrap();
    client
        .find(Locator::Id("approve"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    client
        .wait()
        .at_most(wait)
        .for_element(Locator::Css(".status.approved"))
        .await
        .unwrap();

    let outcome = tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .expect("the waiting statement is released")
        .unwrap();
    assert_eq!(
        outcome,
        Outcome::Approved {
            by: "alice".into(),
            comment: Some("ok, matches TICKET-12".into()),
        }
    );
    std::fs::write(
        artifacts.join("approved.png"),
        client.screenshot().await.unwrap(),
    )
    .unwrap();

    // As an auditor too, alice finds the decision in the approval history.
    client
        .find(Locator::Css("nav a[href='/audit']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let history = client
        .wait()
        .at_most(wait)
        .for_element(Locator::Id("approval-history"))
        .await
        .unwrap();
    let text = history.text().await.unwrap();
    assert!(
        text.contains("ok, matches TICKET-12") && text.contains("alice"),
        "{text}"
    );
    std::fs::write(
        artifacts.join("audit.png"),
        client.screenshot().await.unwrap(),
    )
    .unwrap();
    client.close().await.unwrap();
}
