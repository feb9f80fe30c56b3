//! Slack incoming-webhook messages (Block Kit): the hold with Approve / Deny buttons, then its outcome.

use serde_json::{json, Value};

use super::facts::{truncate, Context, Facts};
use super::HoldEvent;
use crate::store::HoldState;

/// Characters of the statement shown; a section's text may hold 3000.
const STATEMENT_CHARS: usize = 2500;
/// Characters of one field (Slack allows 2000).
const FIELD_CHARS: usize = 500;

/// `action_id` of the Approve button.
pub const APPROVE: &str = "approve";
/// `action_id` of the Deny button.
pub const DENY: &str = "deny";
/// `action_id` of the link button (Slack reports its clicks too; they decide nothing).
pub const OPEN: &str = "open";

/// The JSON body posted to a Slack incoming webhook.
pub(super) fn message(event: &HoldEvent, context: &Context) -> Value {
    let facts = Facts::new(event.hold(), context);
    match event {
        HoldEvent::Created(_) => created(&facts),
        HoldEvent::Decided(_) => decided(&facts),
    }
}

fn created(facts: &Facts<'_>) -> Value {
    let hold = facts.hold;
    let r = &hold.request;
    let id = hold.id.to_string();
    let field = |label: &str, value: &str| json!({"type": "mrkdwn", "text": format!("*{label}*\n{}", escape(&truncate(value, FIELD_CHARS)))});
    let mut fields = vec![
        field("Agent", &facts.asked_by()),
        field("Database", &r.database),
        field("Class", r.class.as_str()),
        field("Rule", &r.rule),
        field("Tables", &facts.tables()),
        field(
            "Expires",
            &r.expires.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
        ),
    ];
    if !r.application_name.is_empty() {
        fields.push(field("Application", &r.application_name));
    }
    json!({
        "text": escape(&facts.created_summary()),
        "blocks": [
            {
                "type": "header",
                "text": {"type": "plain_text", "text": format!("Held for approval: #{id}")}
            },
            {"type": "section", "fields": fields},
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": code_block(&r.statement)}
            },
            {
                "type": "actions",
                "block_id": format!("airlock_hold_{id}"),
                "elements": [
                    button(APPROVE, "Approve", &id, "primary", facts),
                    button(DENY, "Deny", &id, "danger", facts),
                    {
                        "type": "button",
                        "action_id": OPEN,
                        "text": {"type": "plain_text", "text": "Open request"},
                        "url": facts.link,
                    }
                ]
            }
        ]
    })
}

fn button(action_id: &str, label: &str, id: &str, style: &str, facts: &Facts<'_>) -> Value {
    json!({
        "type": "button",
        "action_id": action_id,
        "text": {"type": "plain_text", "text": label},
        "style": style,
        "value": id,
        "confirm": {
            "title": {"type": "plain_text", "text": format!("{label} hold #{id}?")},
            "text": {"type": "mrkdwn", "text": escape(&facts.created_summary())},
            "confirm": {"type": "plain_text", "text": label},
            "deny": {"type": "plain_text", "text": "Cancel"}
        }
    })
}

fn decided(facts: &Facts<'_>) -> Value {
    let r = &facts.hold.request;
    let emoji = match facts.hold.state {
        HoldState::Approved => ":white_check_mark:",
        HoldState::Denied => ":no_entry:",
        HoldState::Expired => ":hourglass:",
        HoldState::Abandoned => ":wave:",
        HoldState::Pending => ":grey_question:",
    };
    let mut text = format!(
        "{emoji} *{}*\n{} on {} by {} · <{}|Open request>",
        escape(&facts.decided_summary()),
        r.class,
        escape(&r.database),
        escape(&facts.asked_by()),
        facts.link
    );
    if let Some(comment) = facts.comment() {
        text.push_str(&format!(
            "\n> {}",
            escape(&truncate(comment, FIELD_CHARS)).replace('\n', "\n> ")
        ));
    }
    json!({
        "text": escape(&facts.decided_summary()),
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]
    })
}

/// The statement as a code block, cut to fit and unable to close the block early.
fn code_block(statement: &str) -> String {
    let body = escape(&truncate(statement, STATEMENT_CHARS)).replace("```", "`\u{200b}``");
    format!("```{body}```")
}

/// Slack's three control characters in `mrkdwn` text.
pub(super) fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
