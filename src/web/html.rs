//! HTML building blocks: escaping (every dynamic value goes through [`esc`]),
//! the page layout, and how times and states read.

use chrono::{DateTime, Utc};

use super::auth::Caller;
use crate::store::HoldState;

/// Escapes text for HTML element content and quoted attribute values.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Like [`esc`], and characters that hide or reorder text (controls other than
/// newline and tab, bidirectional overrides, zero-width characters) shown as
/// a visible `U+XXXX` mark.
pub fn esc_visible(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if is_hidden(c) {
            out.push_str(&format!("<mark class=\"hidden\">U+{:04X}</mark>", c as u32));
        } else {
            out.push_str(&esc(c.encode_utf8(&mut [0; 4])));
        }
    }
    out
}

fn is_hidden(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t')
        || matches!(c as u32, 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x2069 | 0xFEFF | 0x00AD)
}

/// A complete page. `caller` adds the navigation and the sign-out form.
pub fn page(title: &str, caller: Option<&Caller>, body: &str) -> String {
    let nav = match caller {
        Some(c) => format!(
            r#"<nav><a href="/approvals">Queue</a><a href="/approvals/history">History</a><a href="/grants">Grants</a>{audit}
<form method="post" action="/signout" class="signout"><input type="hidden" name="csrf" value="{csrf}"><span class="who">{name}</span><button type="submit" class="link">Sign out</button></form></nav>"#,
            csrf = esc(c.csrf().unwrap_or("")),
            name = esc(&c.approver.name),
            audit = if c.approver.audits {
                r#"<a href="/audit">Audit</a>"#
            } else {
                ""
            },
        ),
        None => String::new(),
    };
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · airlock</title>
<link rel="stylesheet" href="/static/app.css">
<script src="/static/app.js" defer></script>
</head><body>
<header><a class="brand" href="/approvals">airlock</a>{nav}</header>
<main>
{body}
</main>
</body></html>"#,
        title = esc(title),
    )
}

/// `2025-01-31 09:30:00 UTC`.
pub fn time(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// `3h 5m`, `4m 12s`, `9s`.
pub fn span(d: chrono::Duration) -> String {
    let s = d.num_seconds().max(0);
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m {}s", s / 60, s % 60),
        _ => format!("{}h {}m", s / 3600, (s % 3600) / 60),
    }
}

/// A state as a coloured badge.
pub fn badge(state: HoldState) -> String {
    format!(r#"<span class="badge {s}">{s}</span>"#, s = state.as_str())
}

/// The first `max` characters of a one-line rendering of `text`.
pub fn excerpt(text: &str, max: usize) -> String {
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() > max {
        let cut: String = one_line.chars().take(max).collect();
        format!("{}…", esc_visible(&cut))
    } else {
        esc_visible(&one_line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        assert_eq!(
            esc(r#"<script>alert("x")</script>&'"#),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;"
        );
        assert_eq!(
            esc_visible("a\u{200b}b\u{0}"),
            "a<mark class=\"hidden\">U+200B</mark>b<mark class=\"hidden\">U+0000</mark>"
        );
    }

    #[test]
    fn spans_read_well() {
        assert_eq!(span(chrono::Duration::seconds(9)), "9s");
        assert_eq!(span(chrono::Duration::seconds(252)), "4m 12s");
        assert_eq!(span(chrono::Duration::seconds(11_100)), "3h 5m");
    }
}
