//! `[[notify]]` in airlock.toml: accepted shapes and the mistakes refused.

use std::path::Path;

use super::config;
use crate::config::{Config, NotifyKind};

fn refused(notify: &str) -> String {
    let text = format!("[server]\npublic_url = \"https://airlock.example\"\n{notify}");
    Config::parse(Path::new("airlock.toml"), &text)
        .expect_err("config should be refused")
        .to_string()
}

#[test]
fn each_kind_is_read_and_named() {
    let config = config(
        r#"
[[notify]]
kind = "slack"
url = "https://hooks.slack.com/services/T0/B0/abc"
signing_secret = "shh"
slack_users = { U0123 = "alice", U0456 = "bob" }

[[notify]]
kind = "teams"
url = "https://acme.webhook.office.com/webhookb2/x"

[[notify]]
kind = "webhook"
name = "siem"
url = "https://example.internal/airlock"
secret = "k"

[[notify]]
kind = "slack"
url = "https://hooks.slack.com/services/T0/B1/def"
"#,
    );
    let names: Vec<_> = config.notify.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["slack", "teams", "siem", "slack-2"]);
    match &config.notify[0].kind {
        NotifyKind::Slack(slack) => {
            assert_eq!(slack.signing_secret.as_ref().unwrap().expose(), "shh");
            assert_eq!(slack.users["U0123"], "alice");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(config.notify[1].kind, NotifyKind::Teams));
    assert!(
        matches!(&config.notify[2].kind, NotifyKind::Webhook { secret } if secret.expose() == "k")
    );
    assert!(matches!(&config.notify[3].kind, NotifyKind::Slack(s) if s.signing_secret.is_none()));
    let debug = format!("{:?}", config.notify);
    assert!(!debug.contains("shh") && !debug.contains("abc"), "{debug}");
}

#[test]
fn mistakes_are_refused_with_the_key_named() {
    assert!(
        refused("[[notify]]\nkind = \"email\"\nurl = \"https://x\"\n").contains("notify[0].kind")
    );
    assert!(refused("[[notify]]\nkind = \"slack\"\n").contains("give url or url_env"));
    assert!(
        refused("[[notify]]\nkind = \"slack\"\nurl = \"https://x\"\nurl_env = \"X\"\n")
            .contains("not both")
    );
    assert!(
        refused("[[notify]]\nkind = \"webhook\"\nurl = \"https://x\"\n").contains("needs secret")
    );
    assert!(refused(
        "[[notify]]\nkind = \"teams\"\nurl = \"https://x\"\nslack_users = { U1 = \"a\" }\n"
    )
    .contains("for kind = \"slack\""));
    assert!(refused(
        "[[notify]]\nkind = \"slack\"\nurl = \"https://x\"\nslack_users = { U1 = \"a\" }\n"
    )
    .contains("slack_users needs signing_secret"));
    assert!(
        refused("[[notify]]\nkind = \"slack\"\nurl = \"https://x\"\ncolour = \"red\"\n")
            .contains("unknown field")
    );
    let bad_scheme = refused("[[notify]]\nkind = \"teams\"\nurl = \"ftp://token@x\"\n");
    assert!(
        bad_scheme.contains("https://") && !bad_scheme.contains("token"),
        "{bad_scheme}"
    );
    assert!(refused(
        "[[notify]]\nkind = \"teams\"\nurl = \"https://x\"\n[[notify]]\nkind = \"teams\"\nname = \"teams\"\nurl = \"https://y\"\n"
    )
    .contains("already named"));
    assert!(refused(
        "[[notify]]\nkind = \"slack\"\nurl_env = \"AIRLOCK_TEST_SURELY_UNSET_4711\"\n"
    )
    .contains("AIRLOCK_TEST_SURELY_UNSET_4711 is not set"));
}
