//! MySQL statements judged from tokens: MariaDB executable comments (refused),
//! `PREPARE name FROM 'text'` (the class of the text), and the rewrite of
//! `LOCK IN SHARE MODE` to the equivalent `FOR SHARE`.

use sqlparser::tokenizer::{Token, TokenWithSpan, Whitespace};

use super::split::is_significant;
use super::{mysql, Effect, StatementClass};

/// MariaDB runs the text of `/*M! ... */` comments; airlock cannot see it as code.
pub(super) fn mariadb_comment(tokens: &[TokenWithSpan]) -> Option<StatementClass> {
    let hidden = tokens.iter().any(|t| {
        matches!(&t.token, Token::Whitespace(Whitespace::MultiLineComment(c)) if c.starts_with("M!"))
    });
    hidden.then(|| StatementClass::unknown("UNKNOWN", "MariaDB executable comment /*M! ... */"))
}

fn bare(token: &Token, keyword: &str) -> bool {
    matches!(token, Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(keyword))
}

/// `PREPARE name FROM 'text'` classes as its text; `FROM @var` is `Unknown`.
pub(super) fn prepare_from(tokens: &[TokenWithSpan]) -> Option<StatementClass> {
    let significant: Vec<&Token> = tokens
        .iter()
        .map(|t| &t.token)
        .filter(|t| is_significant(t))
        .collect();
    let [prepare, Token::Word(name), from, source] = significant.as_slice() else {
        return None;
    };
    if !bare(prepare, "PREPARE") || !bare(from, "FROM") {
        return None;
    }
    let name = name.value.to_ascii_lowercase();
    let verdict = match source {
        Token::SingleQuotedString(text) | Token::DoubleQuotedString(text)
            if !text.contains('\\') =>
        {
            prepared_text(&name, text)
        }
        _ => StatementClass::unknown(
            "PREPARE",
            format!("PREPARE {name} FROM text airlock cannot read"),
        ),
    };
    Some(verdict.with_effect(Effect::Prepare(name)))
}

fn prepared_text(name: &str, text: &str) -> StatementClass {
    let inner = mysql::classify_statements(text);
    match inner.as_slice() {
        [only] => StatementClass {
            kind: "PREPARE".to_owned(),
            reason: format!("PREPARE {name} FROM {}", only.describe()),
            ..only.clone()
        },
        _ => StatementClass::unknown(
            "PREPARE",
            format!("PREPARE {name} FROM text that is not exactly one statement"),
        ),
    }
}

/// `... LOCK IN SHARE MODE` → `... FOR SHARE` (both take shared row locks).
pub(super) fn lock_in_share_mode(tokens: &mut [TokenWithSpan]) {
    if !tokens.iter().any(|t| bare(&t.token, "SHARE")) {
        return;
    }
    let significant: Vec<usize> = (0..tokens.len())
        .filter(|&at| is_significant(&tokens[at].token))
        .collect();
    for window in significant.windows(4) {
        let [lock, in_, share, mode] = [window[0], window[1], window[2], window[3]];
        let matches = bare(&tokens[lock].token, "LOCK")
            && bare(&tokens[in_].token, "IN")
            && bare(&tokens[share].token, "SHARE")
            && bare(&tokens[mode].token, "MODE");
        if matches {
            tokens[lock].token = Token::make_keyword("FOR");
            tokens[in_].token = Token::Whitespace(Whitespace::Space);
            tokens[mode].token = Token::Whitespace(Whitespace::Space);
        }
    }
}
