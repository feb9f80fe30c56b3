//! Rewrites: PostgreSQL spellings sqlparser 0.63 rejects, turned into equivalent
//! ones it accepts before parsing. Each keeps the statement's class:
//!
//! - `TABLE name ...` → `SELECT * FROM name ...` (PostgreSQL defines it so);
//! - `FOR NO KEY UPDATE` → `FOR UPDATE`, `FOR KEY SHARE` → `FOR SHARE` (still row locks);
//! - `EXPLAIN ANALYSE` → `EXPLAIN ANALYZE` (British spelling);
//! - `FROM ONLY t` → `FROM t` (after FROM, JOIN, a comma, UPDATE, USING, TABLE):
//!   sqlparser would read `only` as a table named "only" aliased `t`. ONLY
//!   excludes inheritance children; the table read is still `t`.

use sqlparser::tokenizer::{Token, TokenWithSpan, Whitespace};

use super::split::is_significant;

/// Applies every rewrite in place.
pub(super) fn apply(tokens: &mut Vec<TokenWithSpan>) {
    let needed = tokens.iter().any(|t| {
        ["FOR", "TABLE", "ANALYSE", "ONLY"]
            .iter()
            .any(|keyword| is_bare(&t.token, keyword))
    });
    if !needed {
        return;
    }
    let significant: Vec<usize> = (0..tokens.len())
        .filter(|&at| is_significant(&tokens[at].token))
        .collect();
    let word = |tokens: &[TokenWithSpan], nth: usize, keyword: &str| {
        significant
            .get(nth)
            .is_some_and(|&at| is_bare(&tokens[at].token, keyword))
    };
    for nth in 0..significant.len() {
        if word(tokens, nth, "FOR") && word(tokens, nth + 1, "NO") && word(tokens, nth + 2, "KEY") {
            blank(tokens, significant[nth + 1]);
            blank(tokens, significant[nth + 2]);
        } else if word(tokens, nth, "FOR")
            && word(tokens, nth + 1, "KEY")
            && word(tokens, nth + 2, "SHARE")
        {
            blank(tokens, significant[nth + 1]);
        }
    }
    for nth in 1..significant.len() {
        let before = &tokens[significant[nth - 1]].token;
        let relation_follows = *before == Token::Comma
            || ["FROM", "JOIN", "UPDATE", "USING", "TABLE"]
                .iter()
                .any(|keyword| is_bare(before, keyword));
        if relation_follows && word(tokens, nth, "ONLY") {
            blank(tokens, significant[nth]);
        }
    }
    if word(tokens, 0, "EXPLAIN") && word(tokens, 1, "ANALYSE") {
        tokens[significant[1]].token = Token::make_keyword("ANALYZE");
    }
    table_command(tokens);
}

/// `TABLE name ...` → `SELECT * FROM name ...` (PostgreSQL and MySQL 8 alike).
pub(super) fn table_command(tokens: &mut Vec<TokenWithSpan>) {
    let Some(at) = tokens.iter().position(|t| is_significant(&t.token)) else {
        return;
    };
    if !is_bare(&tokens[at].token, "TABLE") {
        return;
    }
    tokens[at].token = Token::make_keyword("SELECT");
    let span = tokens[at].span;
    let extra = [Token::Mul, Token::make_keyword("FROM")];
    for (offset, token) in extra.into_iter().enumerate() {
        let spaced = [Token::Whitespace(Whitespace::Space), token];
        for (inner, token) in spaced.into_iter().enumerate() {
            tokens.insert(at + 1 + offset * 2 + inner, TokenWithSpan { token, span });
        }
    }
}

fn is_bare(token: &Token, keyword: &str) -> bool {
    matches!(token, Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(keyword))
}

fn blank(tokens: &mut [TokenWithSpan], at: usize) {
    tokens[at].token = Token::Whitespace(Whitespace::Space);
}
