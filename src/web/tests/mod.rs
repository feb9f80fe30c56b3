//! Router tests: the whole web surface through `router(state).oneshot(req)`,
//! on a real SQLite file, with real argon2 hashes and real waiting statements.

mod api;
mod audit;
mod decisions;
mod escaping;
mod grants;
mod signin;
mod slack;

use std::path::Path;
use std::sync::Arc;

use argon2::password_hash::{PasswordHasher, SaltString};
use axum::body::Body;
use axum::http::{header, HeaderMap, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use sha2::{Digest, Sha256};
use tower::ServiceExt;

use crate::approvals::Approvals;
use crate::audit::AuditLog;
use crate::config::Config;
use crate::state::State;
use crate::store::{testing, NewHold, SqliteStore, Store};

pub const ORIGIN: &str = "http://airlock.test";

/// A cheap argon2id hash (the PHC string carries its parameters).
fn cheap_hash(password: &str) -> String {
    let params = argon2::Params::new(64, 1, 1, None).unwrap();
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
    argon
        .hash_password(password.as_bytes(), &salt)
        .unwrap()
        .to_string()
}

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A running web surface: approvers alice and bob (dba), carol (ops), olivia
/// (dba, owner of agent-7); agent `mallory` has an approver namesake whose
/// password differs from the agent's.
pub struct Harness {
    _dir: tempfile::TempDir,
    pub state: Arc<State>,
    pub router: Router,
}

impl Harness {
    pub fn new() -> Harness {
        Harness::with_web("")
    }

    pub fn with_web(web: &str) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let mut text = format!(
            "[server]\npublic_url = \"{ORIGIN}\"\n[store]\nurl = \"sqlite:{}\"\n",
            dir.path().join("airlock.sqlite").display()
        );
        for (name, groups) in [
            ("alice", "\"dba\""),
            ("bob", "\"dba\""),
            ("carol", "\"ops\""),
            ("olivia", "\"dba\""),
            ("mallory", "\"dba\""),
        ] {
            text.push_str(&format!(
                "[approvers.{name}]\npassword_hash = \"{}\"\ngroups = [{groups}]\ntoken_hash = \"{}\"\n",
                cheap_hash(&format!("{name}-password")),
                token_hash(&format!("tok-{name}")),
            ));
        }
        text.push_str(&format!(
            "[agents.mallory]\nscram = \"{}\"\nowner = \"olivia\"\n",
            crate::pg::scram::ScramVerifier::generate("agent-password")
        ));
        text.push_str(web);
        let config = Config::parse(Path::new("airlock.toml"), &text).unwrap();
        let store: Arc<dyn Store> =
            Arc::new(SqliteStore::open(&dir.path().join("airlock.sqlite")).unwrap());
        let (audit, _writer) = AuditLog::start(store.clone());
        let slack = crate::approvals::notify::SlackInteractions::new(&config.notify);
        let state = Arc::new(State {
            config: Arc::new(config),
            rules: Default::default(),
            approvals: Approvals::with_poll_interval(store, std::time::Duration::from_millis(50)),
            audit,
            cancel: Default::default(),
            notifier: crate::approvals::notify::Notifier::disabled(),
            slack,
            parsed: Default::default(),
            mysql_parsed: Default::default(),
            mysql_threads: Default::default(),
            pg_pool: Default::default(),
        });
        let router = super::router(state.clone());
        Harness {
            _dir: dir,
            state,
            router,
        }
    }

    pub async fn send(&self, req: Request<Body>) -> Reply {
        let response = self.router.clone().oneshot(req).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        Reply {
            status,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        }
    }

    pub async fn get(&self, path: &str, cookie: Option<&str>) -> Reply {
        let mut req = Request::get(path);
        if let Some(c) = cookie {
            req = req.header(header::COOKIE, c);
        }
        self.send(req.body(Body::empty()).unwrap()).await
    }

    /// A form POST as a browser on our own page sends it.
    pub async fn post_form(&self, path: &str, cookie: Option<&str>, form: &str) -> Reply {
        let mut req = Request::post(path)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ORIGIN, ORIGIN)
            .header("sec-fetch-site", "same-origin");
        if let Some(c) = cookie {
            req = req.header(header::COOKIE, c);
        }
        self.send(req.body(Body::from(form.to_owned())).unwrap())
            .await
    }

    /// An API call with an approver's bearer token.
    pub async fn api(&self, method: &str, path: &str, token: Option<&str>, json: &str) -> Reply {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header(header::CONTENT_TYPE, "application/json");
        if let Some(t) = token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        self.send(req.body(Body::from(json.to_owned())).unwrap())
            .await
    }

    /// Signs in through the form; returns the cookie and the page's CSRF token.
    pub async fn sign_in(&self, name: &str) -> Browser {
        let reply = self
            .post_form(
                "/signin",
                None,
                &format!("name={name}&password={name}-password&next=%2Fapprovals"),
            )
            .await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
        let set = reply.headers[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .to_owned();
        let cookie = set.split(';').next().unwrap().to_owned();
        let page = self.get("/approvals", Some(&cookie)).await;
        assert_eq!(page.status, StatusCode::OK);
        let csrf = page.csrf().expect("the page carries a CSRF token");
        Browser { cookie, csrf }
    }

    pub async fn hold(&self, hold: NewHold) -> i64 {
        self.state.approvals.hold(hold).await.unwrap()
    }
}

/// A write on orders by agent `mallory` (owned by olivia), decided by any approver.
pub fn write_hold(statement: &str) -> NewHold {
    let mut hold = testing::new_hold("mallory", statement);
    hold.approver_groups = vec!["dba".into()];
    hold
}

pub struct Browser {
    pub cookie: String,
    pub csrf: String,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Reply {
    /// The first hidden CSRF field's value.
    pub fn csrf(&self) -> Option<String> {
        let at = self.body.find(r#"name="csrf" value=""#)? + r#"name="csrf" value=""#.len();
        let rest = &self.body[at..];
        Some(rest[..rest.find('"')?].to_owned())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}
