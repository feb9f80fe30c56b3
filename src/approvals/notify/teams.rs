//! Microsoft Teams incoming-webhook messages: an Adaptive Card (v1.4) with the hold's facts and a link.

use serde_json::{json, Value};

use super::facts::{truncate, Context, Facts};
use super::HoldEvent;
use crate::store::HoldState;

/// Characters of the statement shown on the card.
const STATEMENT_CHARS: usize = 4000;

/// The JSON body posted to a Teams incoming webhook.
pub(super) fn message(event: &HoldEvent, context: &Context) -> Value {
    let facts = Facts::new(event.hold(), context);
    let body = match event {
        HoldEvent::Created(_) => created(&facts),
        HoldEvent::Decided(_) => decided(&facts),
    };
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "msteams": {"width": "Full"},
                "body": body,
                "actions": [{
                    "type": "Action.OpenUrl",
                    "title": match event {
                        HoldEvent::Created(_) => "Review and decide",
                        HoldEvent::Decided(_) => "Open request",
                    },
                    "url": facts.link,
                }]
            }
        }]
    })
}

fn created(facts: &Facts<'_>) -> Value {
    let hold = facts.hold;
    let r = &hold.request;
    let mut facts_list = vec![
        fact("Agent", &facts.asked_by()),
        fact("Database", &r.database),
        fact("Class", r.class.as_str()),
        fact("Rule", &r.rule),
        fact("Tables", &facts.tables()),
        fact(
            "Expires",
            &r.expires.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
        ),
    ];
    if !r.application_name.is_empty() {
        facts_list.push(fact("Application", &r.application_name));
    }
    json!([
        {
            "type": "TextBlock",
            "size": "Medium",
            "weight": "Bolder",
            "text": format!("Held for approval: #{}", hold.id),
            "wrap": true
        },
        {"type": "FactSet", "facts": facts_list},
        {
            // A TextRun is not read as Markdown: `created_at_utc` stays as written.
            "type": "RichTextBlock",
            "inlines": [{
                "type": "TextRun",
                "text": truncate(&r.statement, STATEMENT_CHARS),
                "fontType": "Monospace"
            }]
        }
    ])
}

fn decided(facts: &Facts<'_>) -> Value {
    let r = &facts.hold.request;
    let color = match facts.hold.state {
        HoldState::Approved => "Good",
        HoldState::Denied => "Attention",
        _ => "Warning",
    };
    let mut body = vec![
        json!({
            "type": "TextBlock",
            "size": "Medium",
            "weight": "Bolder",
            "color": color,
            "text": facts.decided_summary(),
            "wrap": true
        }),
        json!({
            "type": "TextBlock",
            "text": format!("{} on {} by {}", r.class, r.database, facts.asked_by()),
            "isSubtle": true,
            "wrap": true
        }),
    ];
    if let Some(comment) = facts.comment() {
        body.push(
            json!({"type": "TextBlock", "text": format!("Comment: {comment}"), "wrap": true}),
        );
    }
    Value::Array(body)
}

fn fact(title: &str, value: &str) -> Value {
    json!({"title": title, "value": value})
}
