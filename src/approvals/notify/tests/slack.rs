//! Slack messages as a Slack incoming webhook receives them.

use serde_json::Value;

use super::receiver::Receiver;
use super::{config, decided, pending};
use crate::approvals::notify::{HoldEvent, Notifier};
use crate::store::HoldState;

async fn slack_receives(events: Vec<HoldEvent>) -> Vec<Value> {
    let slack = Receiver::ok().await;
    let notifier = Notifier::start(&config(&format!(
        "[[notify]]\nkind = \"slack\"\nurl = \"{}\"\n",
        slack.url("/services/T0/B0/token")
    )));
    for event in events {
        notifier.notify(event);
    }
    notifier.flush().await;
    let requests = slack.requests();
    for r in &requests {
        assert_eq!(r.method, "POST");
        assert_eq!(r.path, "/services/T0/B0/token");
        assert_eq!(r.header("content-type"), Some("application/json"));
    }
    requests.iter().map(|r| r.json()).collect()
}

fn block<'a>(message: &'a Value, kind: &str) -> Vec<&'a Value> {
    message["blocks"]
        .as_array()
        .expect("blocks")
        .iter()
        .filter(|b| b["type"] == kind)
        .collect()
}

#[tokio::test]
async fn a_hold_shows_its_facts_statement_link_and_buttons() {
    let sent = slack_receives(vec![HoldEvent::Created(pending(
        41,
        "DELETE FROM orders WHERE created < now() - interval '2 years'",
    ))])
    .await;
    let message = &sent[0];
    assert_eq!(
        message["text"],
        "Hold #41: write on orders by agent-7 awaits approval"
    );
    let all = message.to_string();
    for fact in [
        "agent-7 (owner: alice)",
        "*Database*\\norders",
        "*Class*\\nwrite",
        "*Rule*\\nwrites-need-approval",
        "*Tables*\\npublic.orders",
    ] {
        assert!(all.contains(fact), "{fact} missing from {all}");
    }
    let statement = block(message, "section")
        .iter()
        .filter_map(|b| b["text"]["text"].as_str())
        .find(|t| t.starts_with("```"))
        .expect("a code block")
        .to_string();
    assert_eq!(
        statement,
        "```DELETE FROM orders WHERE created &lt; now() - interval '2 years'```"
    );

    let actions = block(message, "actions");
    let buttons = actions[0]["elements"].as_array().unwrap();
    let approve = &buttons[0];
    assert_eq!(approve["action_id"], "approve");
    assert_eq!(approve["value"], "41");
    assert_eq!(approve["style"], "primary");
    let deny = &buttons[1];
    assert_eq!(deny["action_id"], "deny");
    assert_eq!(deny["value"], "41");
    assert_eq!(deny["style"], "danger");
    assert_eq!(buttons[2]["url"], "https://airlock.example/approvals/41");
    assert_eq!(actions[0]["block_id"], "airlock_hold_41");
}

#[tokio::test]
async fn a_long_statement_is_cut_and_cannot_break_out_of_its_code_block() {
    let long = format!("INSERT INTO t VALUES ('```') /* {} */", "x".repeat(5000));
    let sent = slack_receives(vec![HoldEvent::Created(pending(7, &long))]).await;
    let code = block(&sent[0], "section")
        .iter()
        .filter_map(|b| b["text"]["text"].as_str())
        .find(|t| t.starts_with("```"))
        .unwrap()
        .to_string();
    assert!(code.chars().count() < 3000, "section text limit");
    assert!(code.contains("more characters on the approvals page"));
    assert_eq!(code.matches("```").count(), 2, "{code}");
}

#[tokio::test]
async fn a_decision_follows_up_with_who_and_the_comment() {
    let sent = slack_receives(vec![
        HoldEvent::Decided(decided(
            41,
            HoldState::Approved,
            Some("bob"),
            Some("ok per TICKET-12"),
        )),
        HoldEvent::Decided(decided(42, HoldState::Denied, Some("carol"), None)),
        HoldEvent::Decided(decided(43, HoldState::Expired, None, None)),
    ])
    .await;
    assert_eq!(sent[0]["text"], "Hold #41 approved by bob");
    let text = sent[0]["blocks"][0]["text"]["text"].as_str().unwrap();
    assert!(text.contains("> ok per TICKET-12"), "{text}");
    assert!(text.contains("<https://airlock.example/approvals/41|Open request>"));
    assert!(
        block(&sent[0], "actions").is_empty(),
        "no buttons once decided"
    );
    assert_eq!(sent[1]["text"], "Hold #42 denied by carol");
    assert_eq!(sent[2]["text"], "Hold #43 expired with no decision");
}
