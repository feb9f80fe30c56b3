//! Fallback: PostgreSQL statements sqlparser 0.63 cannot parse, recognised by
//! their leading keywords.
//!
//! Used only after parsing failed. PostgreSQL's grammar fixes a statement's type
//! by its first keywords, so `CHECKPOINT ...` is a CHECKPOINT whatever follows.
//! Every class here is one that holds (write or stricter): a fallback can never
//! let a statement through. What follows the keywords may still call functions
//! (`ALTER TABLE ... ADD COLUMN c int DEFAULT pg_terminate_backend(1)` runs the
//! default for every row), so the tokens are scanned for calls of listed
//! functions and for `OWNER TO`, and the strictest finding wins.

use sqlparser::tokenizer::{Token, TokenWithSpan};

use super::escalation;
use super::functions::rule_for;
use super::split::is_significant;
use super::{Class, StatementClass};

/// Leading keywords → class. First match wins: specific entries come first.
pub(super) struct Entry {
    words: &'static [&'static str],
    class: Class,
    why: &'static str,
    /// A table-like object's name follows the keywords.
    names_table: bool,
}

pub(super) const fn entry(
    words: &'static [&'static str],
    class: Class,
    why: &'static str,
) -> Entry {
    Entry {
        words,
        class,
        why,
        names_table: false,
    }
}

pub(super) const fn on_table(
    words: &'static [&'static str],
    class: Class,
    why: &'static str,
) -> Entry {
    Entry {
        words,
        class,
        why,
        names_table: true,
    }
}

const SCHEMA: &str = "changes the schema";
const ACCESS: &str = "changes who may do what";
const SERVER: &str = "server administration";
const FOREIGN: &str = "reaches other servers";
const MAINTENANCE: &str = "maintenance that locks or rewrites relations";

#[rustfmt::skip]
const ENTRIES: &[Entry] = &[
    entry(&["ALTER", "SYSTEM"], Class::Admin, "changes the server configuration file"),
    entry(&["ALTER", "DEFAULT", "PRIVILEGES"], Class::Privilege, ACCESS),
    entry(&["ALTER", "DATABASE"], Class::Privilege, "can change database-wide defaults such as default_transaction_read_only"),
    entry(&["ALTER", "GROUP"], Class::Privilege, ACCESS),
    entry(&["ALTER", "ROLE"], Class::Privilege, ACCESS),
    entry(&["ALTER", "USER"], Class::Privilege, ACCESS),
    entry(&["ALTER", "LARGE", "OBJECT"], Class::Privilege, ACCESS),
    entry(&["ALTER", "EXTENSION"], Class::Admin, SERVER),
    entry(&["ALTER", "EVENT", "TRIGGER"], Class::Admin, SERVER),
    entry(&["ALTER", "TABLESPACE"], Class::Admin, SERVER),
    entry(&["ALTER", "LANGUAGE"], Class::Admin, SERVER),
    entry(&["ALTER", "PUBLICATION"], Class::Admin, SERVER),
    entry(&["ALTER", "SUBSCRIPTION"], Class::Admin, SERVER),
    entry(&["ALTER", "SERVER"], Class::Admin, FOREIGN),
    entry(&["ALTER", "FOREIGN", "DATA", "WRAPPER"], Class::Admin, FOREIGN),
    entry(&["ALTER", "USER", "MAPPING"], Class::Privilege, "stores credentials for another server"),
    on_table(&["ALTER", "MATERIALIZED", "VIEW"], Class::Ddl, SCHEMA),
    on_table(&["ALTER", "FOREIGN", "TABLE"], Class::Ddl, SCHEMA),
    on_table(&["ALTER", "TABLE"], Class::Ddl, SCHEMA),
    entry(&["ALTER"], Class::Ddl, SCHEMA),
    entry(&["CREATE", "ROLE"], Class::Privilege, ACCESS),
    entry(&["CREATE", "USER", "MAPPING"], Class::Privilege, "stores credentials for another server"),
    entry(&["CREATE", "USER"], Class::Privilege, ACCESS),
    entry(&["CREATE", "GROUP"], Class::Privilege, ACCESS),
    entry(&["CREATE", "EXTENSION"], Class::Admin, SERVER),
    entry(&["CREATE", "EVENT", "TRIGGER"], Class::Admin, SERVER),
    entry(&["CREATE", "TABLESPACE"], Class::Admin, SERVER),
    entry(&["CREATE", "LANGUAGE"], Class::Admin, SERVER),
    entry(&["CREATE", "ACCESS", "METHOD"], Class::Admin, SERVER),
    entry(&["CREATE", "PUBLICATION"], Class::Admin, SERVER),
    entry(&["CREATE", "SUBSCRIPTION"], Class::Admin, SERVER),
    entry(&["CREATE", "SERVER"], Class::Admin, FOREIGN),
    entry(&["CREATE", "FOREIGN", "DATA", "WRAPPER"], Class::Admin, FOREIGN),
    on_table(&["CREATE", "FOREIGN", "TABLE"], Class::Ddl, SCHEMA),
    entry(&["CREATE", "CAST"], Class::Ddl, SCHEMA),
    entry(&["CREATE", "CONVERSION"], Class::Ddl, SCHEMA),
    entry(&["CREATE", "DOMAIN"], Class::Ddl, SCHEMA),
    entry(&["CREATE", "FUNCTION"], Class::Ddl, SCHEMA),
    entry(&["CREATE", "PROCEDURE"], Class::Ddl, SCHEMA),
    entry(&["CREATE", "AGGREGATE"], Class::Ddl, SCHEMA),
    entry(&["CREATE", "RULE"], Class::Ddl, SCHEMA),
    entry(&["CREATE", "STATISTICS"], Class::Ddl, SCHEMA),
    entry(&["CREATE", "TRANSFORM"], Class::Ddl, SCHEMA),
    entry(&["CREATE", "TRIGGER"], Class::Ddl, SCHEMA),
    entry(&["CREATE", "COLLATION"], Class::Ddl, SCHEMA),
    entry(&["CREATE", "TEXT", "SEARCH"], Class::Ddl, SCHEMA),
    entry(&["CREATE", "OPERATOR"], Class::Ddl, SCHEMA),
    entry(&["CREATE", "TYPE"], Class::Ddl, SCHEMA),
    entry(&["CREATE", "SEQUENCE"], Class::Ddl, SCHEMA),
    entry(&["CREATE", "SCHEMA"], Class::Ddl, SCHEMA),
    entry(&["CREATE", "INDEX"], Class::Ddl, SCHEMA),
    entry(&["CREATE", "DATABASE"], Class::Ddl, SCHEMA),
    entry(&["DROP", "OWNED"], Class::Privilege, "drops everything a role owns and revokes its grants"),
    entry(&["DROP", "ROLE"], Class::Privilege, ACCESS),
    entry(&["DROP", "USER", "MAPPING"], Class::Privilege, ACCESS),
    entry(&["DROP", "USER"], Class::Privilege, ACCESS),
    entry(&["DROP", "GROUP"], Class::Privilege, ACCESS),
    entry(&["DROP", "EXTENSION"], Class::Admin, SERVER),
    entry(&["DROP", "EVENT", "TRIGGER"], Class::Admin, SERVER),
    entry(&["DROP", "TABLESPACE"], Class::Admin, SERVER),
    entry(&["DROP", "LANGUAGE"], Class::Admin, SERVER),
    entry(&["DROP", "ACCESS", "METHOD"], Class::Admin, SERVER),
    entry(&["DROP", "PUBLICATION"], Class::Admin, SERVER),
    entry(&["DROP", "SUBSCRIPTION"], Class::Admin, SERVER),
    entry(&["DROP", "SERVER"], Class::Admin, FOREIGN),
    entry(&["DROP", "FOREIGN", "DATA", "WRAPPER"], Class::Admin, FOREIGN),
    on_table(&["DROP", "FOREIGN", "TABLE"], Class::Ddl, SCHEMA),
    on_table(&["DROP", "TABLE"], Class::Ddl, SCHEMA),
    on_table(&["DROP", "MATERIALIZED", "VIEW"], Class::Ddl, SCHEMA),
    on_table(&["DROP", "VIEW"], Class::Ddl, SCHEMA),
    entry(&["DROP", "DATABASE"], Class::Ddl, SCHEMA),
    entry(&["DROP", "INDEX"], Class::Ddl, SCHEMA),
    entry(&["DROP", "CAST"], Class::Ddl, SCHEMA),
    entry(&["DROP", "CONVERSION"], Class::Ddl, SCHEMA),
    entry(&["DROP", "AGGREGATE"], Class::Ddl, SCHEMA),
    entry(&["DROP", "ROUTINE"], Class::Ddl, SCHEMA),
    entry(&["DROP", "RULE"], Class::Ddl, SCHEMA),
    entry(&["DROP", "STATISTICS"], Class::Ddl, SCHEMA),
    entry(&["DROP", "TRANSFORM"], Class::Ddl, SCHEMA),
    entry(&["DROP", "COLLATION"], Class::Ddl, SCHEMA),
    entry(&["DROP", "TEXT", "SEARCH"], Class::Ddl, SCHEMA),
    entry(&["DROP", "OPERATOR"], Class::Ddl, SCHEMA),
    entry(&["DROP", "TYPE"], Class::Ddl, SCHEMA),
    entry(&["DROP", "DOMAIN"], Class::Ddl, SCHEMA),
    entry(&["DROP", "SEQUENCE"], Class::Ddl, SCHEMA),
    entry(&["DROP", "SCHEMA"], Class::Ddl, SCHEMA),
    entry(&["DROP", "TRIGGER"], Class::Ddl, SCHEMA),
    entry(&["DROP", "POLICY"], Class::Ddl, SCHEMA),
    entry(&["DROP", "FUNCTION"], Class::Ddl, SCHEMA),
    entry(&["DROP", "PROCEDURE"], Class::Ddl, SCHEMA),
    on_table(&["REFRESH", "MATERIALIZED", "VIEW", "CONCURRENTLY"], Class::Ddl, "recomputes a materialized view"),
    on_table(&["REFRESH", "MATERIALIZED", "VIEW"], Class::Ddl, "recomputes a materialized view"),
    entry(&["COMMENT", "ON"], Class::Ddl, SCHEMA),
    entry(&["SECURITY", "LABEL"], Class::Ddl, "changes a security label"),
    entry(&["GRANT"], Class::Privilege, ACCESS),
    entry(&["REVOKE"], Class::Privilege, ACCESS),
    entry(&["REASSIGN", "OWNED"], Class::Privilege, "transfers ownership"),
    entry(&["CHECKPOINT"], Class::Admin, SERVER),
    entry(&["VACUUM"], Class::Admin, MAINTENANCE),
    entry(&["ANALYZE"], Class::Admin, MAINTENANCE),
    entry(&["ANALYSE"], Class::Admin, MAINTENANCE),
    entry(&["CLUSTER"], Class::Admin, MAINTENANCE),
    entry(&["REINDEX"], Class::Admin, MAINTENANCE),
    entry(&["DO"], Class::Admin, "runs an anonymous code block"),
    entry(&["CALL"], Class::Admin, "runs a procedure"),
    entry(&["LOAD"], Class::Admin, "loads a shared library into the server"),
    entry(&["IMPORT", "FOREIGN", "SCHEMA"], Class::Admin, FOREIGN),
    entry(&["PREPARE", "TRANSACTION"], Class::Admin, "two-phase commit"),
    entry(&["COMMIT", "PREPARED"], Class::Admin, "two-phase commit"),
    entry(&["ROLLBACK", "PREPARED"], Class::Admin, "two-phase commit"),
    on_table(&["LOCK", "TABLE", "ONLY"], Class::Write, "blocks other sessions"),
    on_table(&["LOCK", "TABLE"], Class::Write, "blocks other sessions"),
    on_table(&["LOCK"], Class::Write, "blocks other sessions"),
    on_table(&["TRUNCATE", "TABLE", "ONLY"], Class::Write, "removes all rows"),
    on_table(&["TRUNCATE", "TABLE"], Class::Write, "removes all rows"),
    on_table(&["TRUNCATE", "ONLY"], Class::Write, "removes all rows"),
    on_table(&["TRUNCATE"], Class::Write, "removes all rows"),
    entry(&["NOTIFY"], Class::Write, "sends a notification to other sessions"),
];

/// Words `CREATE` may carry before the object type.
const CREATE_MODIFIERS: &[&str] = &[
    "OR",
    "REPLACE",
    "TEMP",
    "TEMPORARY",
    "UNLOGGED",
    "UNIQUE",
    "TRUSTED",
    "PROCEDURAL",
    "CONSTRAINT",
    "RECURSIVE",
    "DEFAULT",
    "GLOBAL",
    "LOCAL",
];

/// Whether a statement starting with `first` may be recognised by fallback.
pub(super) fn may_apply(first: &str) -> bool {
    may_apply_with(ENTRIES, first)
}

/// The class of an unparseable PostgreSQL statement, if its keywords are recognised.
pub(super) fn classify(tokens: &[TokenWithSpan]) -> Option<StatementClass> {
    classify_with(ENTRIES, tokens)
}

/// Whether some entry of `entries` starts with `first`.
pub(super) fn may_apply_with(entries: &[Entry], first: &str) -> bool {
    entries.iter().any(|e| e.words[0] == first)
}

/// The class `entries` give an unparseable statement, if its keywords match.
pub(super) fn classify_with(entries: &[Entry], tokens: &[TokenWithSpan]) -> Option<StatementClass> {
    let words = leading(tokens);
    let entry = entries.iter().find(|e| {
        e.words.len() <= words.len() && e.words.iter().zip(&words).all(|(a, b)| a == b)
    })?;
    let kind = entry.words.join(" ");
    let mut verdict = StatementClass::new(
        entry.class,
        &kind,
        format!("{kind}: {} (recognised by keyword)", entry.why),
    );
    if entry.names_table {
        verdict.tables = table_after(tokens, entry.words.len()).into_iter().collect();
    }
    let words = significant(tokens).map(|t| match t {
        Token::Word(word) => word.value.as_str(),
        _ => "",
    });
    if let Some(why) = escalation::in_words(words) {
        verdict = verdict.at_least(Class::Privilege, format!("{kind}: {why}"));
    }
    Some(scan_calls(tokens, verdict))
}

/// A query that writes its result to a file on the server
/// (`SELECT … INTO OUTFILE` / `INTO DUMPFILE`, which sqlparser cannot parse):
/// `export`, still raised by any listed function it calls.
pub(super) fn into_file(tokens: &[TokenWithSpan]) -> Option<StatementClass> {
    let first = leading(tokens).into_iter().next()?;
    if first != "SELECT" && first != "WITH" {
        return None;
    }
    let words: Vec<String> = significant(tokens)
        .map(|t| match t {
            Token::Word(w) if w.quote_style.is_none() => w.value.to_ascii_uppercase(),
            _ => String::new(),
        })
        .collect();
    let target = words.windows(2).find_map(|pair| {
        (pair[0] == "INTO" && (pair[1] == "OUTFILE" || pair[1] == "DUMPFILE"))
            .then(|| pair[1].clone())
    })?;
    let kind = format!("SELECT INTO {target}");
    let mut verdict = StatementClass::new(
        Class::Export,
        &kind,
        format!("{kind}: writes query results to a file on the database server"),
    );
    verdict.tables = tables_after_from(tokens);
    if let Some(why) = escalation::in_words(words.iter().map(String::as_str)) {
        verdict = verdict.at_least(Class::Privilege, format!("{kind}: {why}"));
    }
    Some(scan_calls(tokens, verdict))
}

/// Names after FROM / JOIN, read from the tokens. When none can be read, a
/// name no rule can read stands in, so table-scoped hold and deny rules still
/// apply and no table-scoped allow rule does.
fn tables_after_from(tokens: &[TokenWithSpan]) -> Vec<String> {
    let toks: Vec<&Token> = significant(tokens).collect();
    let mut tables = Vec::new();
    for (i, t) in toks.iter().enumerate() {
        let Token::Word(w) = t else { continue };
        if w.quote_style.is_some()
            || !(w.value.eq_ignore_ascii_case("FROM") || w.value.eq_ignore_ascii_case("JOIN"))
        {
            continue;
        }
        let mut name = String::new();
        let mut j = i + 1;
        while let Some(Token::Word(part)) = toks.get(j) {
            name.push_str(&part.value);
            if toks.get(j + 1) == Some(&&Token::Period) {
                name.push('.');
                j += 2;
            } else {
                break;
            }
        }
        if !name.is_empty() && !name.ends_with('.') && !tables.contains(&name) {
            tables.push(name);
        }
    }
    if tables.is_empty() {
        tables.push("?.?.?.?".to_string());
    }
    tables
}

/// Upper-cased leading bare words, `CREATE`'s modifiers dropped.
fn leading(tokens: &[TokenWithSpan]) -> Vec<String> {
    let mut words = Vec::with_capacity(5);
    for token in tokens.iter().filter(|t| is_significant(&t.token)) {
        let Token::Word(word) = &token.token else {
            break;
        };
        if word.quote_style.is_some() || words.len() == 5 {
            break;
        }
        let upper = word.value.to_ascii_uppercase();
        if words.first().is_some_and(|w| w == "CREATE")
            && CREATE_MODIFIERS.contains(&upper.as_str())
        {
            continue;
        }
        words.push(upper);
    }
    words
}

fn significant(tokens: &[TokenWithSpan]) -> impl Iterator<Item = &Token> {
    tokens
        .iter()
        .map(|t| &t.token)
        .filter(|t| is_significant(t))
}

fn bare_word(token: &Token) -> Option<&str> {
    match token {
        Token::Word(word) if word.quote_style.is_none() => Some(&word.value),
        _ => None,
    }
}

/// Raises the verdict for every `name(` whose name is a listed function.
fn scan_calls(tokens: &[TokenWithSpan], mut verdict: StatementClass) -> StatementClass {
    let mut previous: Option<&Token> = None;
    for token in significant(tokens) {
        if let (Token::LParen, Some(Token::Word(word))) = (token, previous) {
            if let Some(rule) = rule_for(&word.value) {
                let called = word.value.to_ascii_lowercase();
                verdict = verdict.at_least(rule.class, format!("calls {called}(): {}", rule.why));
            }
        }
        previous = Some(token);
    }
    verdict
}

/// The (possibly qualified) name after the first `skip` words, past `IF EXISTS`.
fn table_after(tokens: &[TokenWithSpan], skip: usize) -> Option<String> {
    let mut rest = significant(tokens).skip(skip).peekable();
    while rest.peek().and_then(|t| bare_word(t)).is_some_and(|w| {
        ["IF", "EXISTS", "NOT", "ONLY", "CONCURRENTLY"]
            .iter()
            .any(|k| w.eq_ignore_ascii_case(k))
    }) {
        rest.next();
    }
    let mut name = String::new();
    loop {
        let Some(Token::Word(word)) = rest.next() else {
            return None;
        };
        name.push_str(&super::names::ident(
            &word.to_ident(sqlparser::tokenizer::Span::empty()),
        ));
        if rest.peek() != Some(&&Token::Period) {
            return Some(name);
        }
        rest.next();
        name.push('.');
    }
}
