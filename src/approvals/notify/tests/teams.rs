//! Microsoft Teams Adaptive Cards as a Teams incoming webhook receives them.

use super::receiver::Receiver;
use super::{config, decided, pending};
use crate::approvals::notify::{HoldEvent, Notifier};
use crate::store::HoldState;

#[tokio::test]
async fn a_hold_and_its_decision_are_adaptive_cards_linking_to_the_request() {
    let teams = Receiver::ok().await;
    let notifier = Notifier::start(&config(&format!(
        "[[notify]]\nkind = \"teams\"\nurl = \"{}\"\n",
        teams.url("/webhookb2/abc")
    )));
    notifier.notify(HoldEvent::Created(pending(41, "DROP TABLE orders")));
    notifier.notify(HoldEvent::Decided(decided(
        41,
        HoldState::Denied,
        Some("bob"),
        Some("not on a Friday"),
    )));
    notifier.flush().await;
    let sent: Vec<_> = teams.requests().iter().map(|r| r.json()).collect();
    assert_eq!(sent.len(), 2);

    let message = &sent[0];
    assert_eq!(message["type"], "message");
    let attachment = &message["attachments"][0];
    assert_eq!(
        attachment["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    let card = &attachment["content"];
    assert_eq!(card["type"], "AdaptiveCard");
    assert_eq!(card["version"], "1.4");
    assert_eq!(card["body"][0]["text"], "Held for approval: #41");
    let facts = card["body"][1]["facts"].as_array().unwrap();
    let fact = |title: &str| {
        facts
            .iter()
            .find(|f| f["title"] == title)
            .map(|f| f["value"].as_str().unwrap().to_string())
    };
    assert_eq!(fact("Agent").as_deref(), Some("agent-7 (owner: alice)"));
    assert_eq!(fact("Database").as_deref(), Some("orders"));
    assert_eq!(fact("Class").as_deref(), Some("write"));
    assert_eq!(fact("Rule").as_deref(), Some("writes-need-approval"));
    assert_eq!(fact("Tables").as_deref(), Some("public.orders"));
    assert_eq!(card["body"][2]["type"], "RichTextBlock");
    let statement = &card["body"][2]["inlines"][0];
    assert_eq!(statement["type"], "TextRun");
    assert_eq!(statement["text"], "DROP TABLE orders");
    assert_eq!(statement["fontType"], "Monospace");
    let action = &card["actions"][0];
    assert_eq!(action["type"], "Action.OpenUrl");
    assert_eq!(action["url"], "https://airlock.example/approvals/41");

    let card = &sent[1]["attachments"][0]["content"];
    assert_eq!(card["body"][0]["text"], "Hold #41 denied by bob");
    assert_eq!(card["body"][0]["color"], "Attention");
    assert_eq!(card["body"][2]["text"], "Comment: not on a Friday");
}
