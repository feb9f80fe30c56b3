//! Escalations: clauses that make an ALTER a matter of privilege rather than
//! schema: `OWNER TO`, switching row-level security off, and `SET` of a setting
//! that guards a wall (`ALTER SYSTEM SET default_transaction_read_only = off`,
//! `ALTER FUNCTION f() SET role = ...`).
//!
//! Works on words, so parsed statements (their SQL text) and unparseable ones
//! (their tokens) are judged alike.

use super::settings::setting_verdict;
use super::Class;

/// The privilege an ALTER's words imply, with the reason, if any.
pub(super) fn in_words<'w>(words: impl IntoIterator<Item = &'w str>) -> Option<String> {
    let words: Vec<&str> = words.into_iter().collect();
    let is = |at: usize, keyword: &str| {
        words
            .get(at)
            .is_some_and(|w| w.eq_ignore_ascii_case(keyword))
    };
    for at in 0..words.len() {
        if is(at, "OWNER") && is(at + 1, "TO") {
            return Some("OWNER TO transfers ownership".to_owned());
        }
        if is(at, "ROW") && is(at + 1, "LEVEL") && is(at + 2, "SECURITY") {
            let weakens = (at >= 1 && is(at - 1, "DISABLE")) || (at >= 2 && is(at - 2, "NO"));
            if weakens {
                return Some("switches row-level security off".to_owned());
            }
        }
        if is(at, "SET") || is(at, "RESET") {
            let Some(setting) = words.get(at + 1) else {
                continue;
            };
            let (class, why) = setting_verdict(setting.trim_matches('"'));
            if class == Class::Privilege && is_guarding_setting(setting) {
                return Some(format!("sets {setting}: {why}"));
            }
        }
    }
    None
}

/// Settings named in the privilege list (not merely off the allow-list: `SET
/// SCHEMA`, `SET DEFAULT` and friends are ordinary ALTER clauses).
fn is_guarding_setting(word: &str) -> bool {
    let word = word.trim_matches('"').to_ascii_lowercase();
    word.contains("read_only")
        || word.contains("role")
        || word.contains("authorization")
        || word.contains("replication")
        || word.contains("security")
        || word.contains("privileges")
        || word.contains("conforming")
        || word.contains("backslash")
        || word.contains("system_table")
}

/// The words of SQL text, split on whitespace and punctuation.
pub(super) fn words_of(sql: &str) -> impl Iterator<Item = &str> {
    sql.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '"' || c == '.'))
        .filter(|w| !w.is_empty())
}
