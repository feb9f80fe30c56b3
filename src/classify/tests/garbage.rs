//! Garbage: random bytes, token soup and mangled SQL must never panic, and the
//! verdict must stay consistent (class = strictest statement, no duplicate tables).

use super::pg;
use crate::classify::{Class, Classified};

/// A tiny deterministic generator (xorshift64*), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const FRAGMENTS: &[&str] = &[
    "SELECT",
    "FROM",
    "WHERE",
    "INSERT",
    "INTO",
    "VALUES",
    "UPDATE",
    "SET",
    "DELETE",
    "WITH",
    "AS",
    "(",
    ")",
    ",",
    ";",
    "'",
    "\"",
    "$$",
    "$a$",
    "--",
    "/*",
    "*/",
    "E'",
    "\\",
    "1",
    "-1",
    "1.5e3",
    "x",
    "t",
    "public.t",
    "nextval('s')",
    "pg_sleep(1)",
    "*",
    "+",
    "::",
    "=",
    "<>",
    "AND",
    "OR",
    "NOT",
    "NULL",
    "BEGIN",
    "COMMIT",
    "ROLLBACK",
    "ATOMIC",
    "END",
    "CASE",
    "WHEN",
    "THEN",
    "TABLE",
    "FETCH",
    "MOVE",
    "EXPLAIN",
    "ANALYZE",
    "PREPARE",
    "EXECUTE",
    "COPY",
    "TO",
    "STDOUT",
    "GRANT",
    "ROLE",
    "OWNER",
    "FOR",
    "UPDATE",
    "KEY",
    "SHARE",
    "NO",
    "UNION",
    "LATERAL",
    "DROP",
    "CREATE",
    "ALTER",
    "$1",
    "[",
    "]",
    "{",
    "}",
    "@",
    "#",
    "?",
    "|",
    "&",
    "~",
    "é",
    "\u{a0}",
    "\n",
    " ",
    "\t",
    "U&'",
    "B'01'",
    "X'ff'",
    "N'x'",
    "''",
    "\"\"",
    ".",
    ":",
    "=>",
    "->>",
];

fn fragments(rng: &mut Rng) -> String {
    let mut sql = String::new();
    for _ in 0..rng.below(40) {
        sql.push_str(rng.pick(FRAGMENTS));
        if rng.below(3) > 0 {
            sql.push(' ');
        }
    }
    sql
}

fn random_chars(rng: &mut Rng) -> String {
    (0..rng.below(60))
        .map(|_| match rng.below(4) {
            0 => char::from_u32(rng.below(0x2FFF) as u32).unwrap_or('?'),
            _ => (b' ' + rng.below(95) as u8) as char,
        })
        .collect()
}

fn mangled(rng: &mut Rng) -> String {
    const BASES: &[&str] = &[
        "SELECT a, b FROM t WHERE c = 'x' ORDER BY 1",
        "WITH x AS (DELETE FROM t RETURNING *) SELECT * FROM x",
        "INSERT INTO t (a) VALUES (nextval('s')) ON CONFLICT DO NOTHING",
        "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; END",
        "COPY (SELECT 1) TO STDOUT",
        "SET search_path TO public",
        "EXPLAIN (ANALYZE) SELECT $1",
    ];
    let mut sql: Vec<char> = rng.pick(BASES).chars().collect();
    for _ in 0..=rng.below(4) {
        let at = rng.below(sql.len() + 1);
        match rng.below(3) {
            0 if at < sql.len() => {
                sql.remove(at);
            }
            1 => sql.insert(
                at,
                rng.pick(&["'", "\"", "$", ";", "(", ")", "-", "/", "*"])
                    .chars()
                    .next()
                    .unwrap_or(';'),
            ),
            _ => sql.truncate(at),
        }
    }
    sql.into_iter().collect()
}

fn check_consistent(sql: &str, got: &Classified) {
    let strictest = got
        .statements
        .iter()
        .map(|s| s.class)
        .max()
        .unwrap_or(Class::Read);
    assert_eq!(got.class, strictest, "class of {sql:?}");
    let mut seen = got.tables.clone();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), got.tables.len(), "duplicate tables for {sql:?}");
    for statement in &got.statements {
        assert!(!statement.kind.is_empty(), "empty kind for {sql:?}");
        assert!(!statement.reason.is_empty(), "empty reason for {sql:?}");
    }
}

#[test]
fn never_panics_on_generated_input() {
    let mut rng = Rng(0x5EED_CAFE_F00D_1234);
    for round in 0..4_000 {
        let sql = match round % 3 {
            0 => fragments(&mut rng),
            1 => random_chars(&mut rng),
            _ => mangled(&mut rng),
        };
        let got = pg(&sql);
        check_consistent(&sql, &got);
        assert_eq!(got, pg(&sql), "deterministic for {sql:?}");
    }
}

#[test]
fn never_panics_on_awkward_inputs() {
    let inputs = [
        "\0",
        "SELECT '\0'",
        "'",
        "\"",
        "$",
        "$$",
        "$a$",
        "/*",
        "*/",
        "--",
        "E'\\",
        "U&'\\",
        "\u{feff}SELECT 1",
        "SELECT 1\r\n;\r\nSELECT 2",
        "((((((((((((((((((((((((((((((((((((((((((((((((((((((((((",
        ")))))))",
        ";",
        "BEGIN ATOMIC",
        "CREATE FUNCTION f() BEGIN ATOMIC CASE CASE CASE END",
        "FETCH",
        "MOVE -",
        "TABLE",
        "TABLE ;",
        "SET",
        "SET CONSTRAINTS",
        "RESET",
        "EXPLAIN",
        "EXPLAIN ANALYSE",
        "PREPARE",
        "EXECUTE",
        "DEALLOCATE",
        "COPY",
        "ALTER",
        "CREATE",
        "DROP OWNED",
        "REFRESH MATERIALIZED VIEW",
        "SELECT * FROM t FOR",
        "SELECT * FROM t FOR NO KEY",
    ];
    for sql in inputs {
        check_consistent(sql, &pg(sql));
    }
}

#[test]
fn unparseable_is_never_read() {
    let mut rng = Rng(42);
    for _ in 0..2_000 {
        let sql = random_chars(&mut rng);
        let got = pg(&sql);
        for statement in &got.statements {
            if statement.reason.starts_with("parse error") {
                assert_eq!(statement.class, Class::Unknown, "{sql:?}");
            }
        }
    }
}
