//! The shape cache never changes a decision: over every string literal of this
//! test corpus, and literal variants of each, two texts with one shape get
//! exactly the same classification (class, statements, tables, reason), or
//! are both `unknown` (which the cache does not keep), in PostgreSQL's
//! dialect and in MySQL's.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::classify::shape::{self, DECIMAL, INTEGER, STRING};
use crate::classify::{classify, Class, Dialect};

/// Every file of the classifier's tests, read as text.
const CORPUS_FILES: &[&str] = &[
    include_str!("admin.rs"),
    include_str!("copy.rs"),
    include_str!("cursors.rs"),
    include_str!("ddl.rs"),
    include_str!("evasion.rs"),
    include_str!("garbage.rs"),
    include_str!("hidden_writes.rs"),
    include_str!("multi.rs"),
    include_str!("mysql.rs"),
    include_str!("prepared.rs"),
    include_str!("privilege.rs"),
    include_str!("reads.rs"),
    include_str!("realistic.rs"),
    include_str!("session.rs"),
    include_str!("tables.rs"),
    include_str!("transaction.rs"),
    include_str!("unknown.rs"),
    include_str!("writes.rs"),
];

/// Queries whose literals sit where a classifier could be tempted to read them.
const TRICKY: &[&str] = &[
    "SELECT set_config('default_transaction_read_only', 'off', false)",
    "SELECT set_config('search_path', 'public', true)",
    "SELECT current_setting('default_transaction_read_only')",
    "SELECT nextval('orders_id_seq')",
    "SELECT currval('orders_id_seq')",
    "SELECT pg_read_file('/etc/passwd', 0, 100)",
    "SELECT 'pg_authid'::regclass, 'delete'::text",
    "SELECT * FROM dblink('dbname=x', 'DELETE FROM t') AS t(a int)",
    "SELECT query_to_xml('DELETE FROM t', true, false, '')",
    "SELECT format('%s', 'x'), 'DROP TABLE t' AS ddl",
    "WITH d AS (DELETE FROM t WHERE id = 1 RETURNING *) SELECT * FROM d WHERE x = 'y'",
    "WITH v AS (VALUES (1, 'a')) SELECT * FROM v LIMIT 10 OFFSET 5",
    "SELECT * FROM orders WHERE id = 7 FOR UPDATE",
    "SELECT * INTO new_t FROM t WHERE a = 'b'",
    "SELECT pg_sleep(1.5)",
    "SELECT pg_advisory_lock(42)",
    "SELECT lo_import('/tmp/x')",
    "SELECT * FROM t WHERE a = 'SET ROLE admin' ;",
    "SELECT interval '1 day', date '2024-01-01', 1.5 * 2",
    "SELECT \"it's\", a$b FROM \"T\" WHERE c = $1 AND d = 'x''y'",
];

/// The same for MySQL's functions and syntax.
const TRICKY_MYSQL: &[&str] = &[
    "SELECT SLEEP(10)",
    "SELECT BENCHMARK(1000000, MD5('x'))",
    "SELECT GET_LOCK('job', 10), RELEASE_LOCK('job')",
    "SELECT LOAD_FILE('/etc/passwd')",
    "SELECT * INTO OUTFILE '/tmp/x' FROM t WHERE a = 'b'",
    "SELECT * INTO DUMPFILE '/tmp/x' FROM t",
    "SELECT a INTO @x FROM t WHERE id = 3 LIMIT 1",
    "SELECT @x := 1, @y := 'z'",
    "SELECT @'v', @\"w\", @@session.sql_mode",
    "SELECT * FROM t WHERE id = 1 FOR UPDATE",
    "SELECT * FROM t WHERE id = 1 LOCK IN SHARE MODE",
    "SELECT * FROM t LIMIT 10, 20",
    "SELECT a 'alias', b AS 'other' FROM t",
    "SELECT * FROM 'tbl' WHERE a = 1",
    "SELECT `it's`, `a``b` FROM `shop`.`orders` WHERE c = 'x''y'",
    "SELECT \"str\" FROM t WHERE a = 'b' AND c = \"d\"",
    "SELECT 'a' 'b', _utf8mb4 'c' FROM t",
    "SELECT c FROM sbtest1 WHERE id BETWEEN 10 AND 109 ORDER BY c",
    "SELECT DISTINCT c FROM sbtest3 WHERE id BETWEEN 5 AND 104 ORDER BY c",
    "SELECT SUM(k) FROM sbtest2 WHERE id BETWEEN 7 AND 106",
    "SELECT * FROM t WHERE a = 'SET NAMES gbk' ;",
    "SELECT * FROM mysql.user WHERE user = 'root'",
    "SELECT VERSION(), DATABASE(), USER(), CONNECTION_ID()",
    "SELECT MASTER_POS_WAIT('log', 4), SYSDATE(), UUID()",
    "SELECT NEXT VALUE FOR s",
    "SELECT NEXTVAL(s), SETVAL(s, 10)",
    "WITH RECURSIVE r AS (SELECT 1 AS n UNION ALL SELECT n + 1 FROM r WHERE n < 5) SELECT * FROM r",
    "SELECT * FROM JSON_TABLE('[1]', '$[*]' COLUMNS (a INT PATH '$')) AS j",
];

const INTEGERS: &[&str] = &["0", "1", "7", "42", "007", "999999999"];
const DECIMALS: &[&str] = &["0.0", "3.14", "12345678901234567890.5"];
const STRINGS: &[&str] = &[
    "''",
    "'x'",
    "'off'",
    "'on'",
    "'default_transaction_read_only'",
    "'pg_authid'",
    "'a''b'",
    "'; DROP TABLE t; --'",
    "'$$'",
    "'/*'",
    "'SJIS'",
    "'\"'",
    "'DELETE FROM t'",
    "'`'",
    "'#'",
    "'set names sjis'",
];

#[test]
fn texts_of_one_shape_classify_alike() {
    let shaped = one_shape_one_class(Dialect::Postgres, TRICKY);
    assert!(shaped > 150, "only {shaped} corpus strings had a shape");
}

#[test]
fn texts_of_one_shape_classify_alike_in_mysql() {
    let shaped = one_shape_one_class(Dialect::Mysql, TRICKY_MYSQL);
    assert!(
        shaped > 150,
        "only {shaped} corpus strings had a MySQL shape"
    );
}

/// Checks every corpus string and `tricky` with a shape in `dialect`, and
/// variants of its literals; how many had a shape.
fn one_shape_one_class(dialect: Dialect, tricky: &[&str]) -> usize {
    let corpus = corpus();
    assert!(corpus.len() > 1000, "corpus read: {} strings", corpus.len());
    let mut rng = StdRng::seed_from_u64(7);
    let (mut shaped, mut variants) = (0, 0);
    for sql in corpus
        .iter()
        .map(String::as_str)
        .chain(TRICKY.iter().copied())
        .chain(tricky.iter().copied())
    {
        let mut spans = Vec::new();
        let Some(key) = shape::scan(dialect, sql, |span, kind| spans.push((span, kind))) else {
            continue;
        };
        let expected = classify(dialect, sql);
        if shape::depends_on_a_literal(dialect, sql, &expected.tables) {
            continue; // not kept (see the test below)
        }
        shaped += 1;
        for round in 0..8 {
            let variant = replace(sql, &spans, |kind, i| {
                let pool = match kind {
                    INTEGER => INTEGERS,
                    DECIMAL => DECIMALS,
                    _ => STRINGS,
                };
                match round {
                    0..=3 => pool[(round + i) % pool.len()],
                    _ => pool[rng.gen_range(0..pool.len())],
                }
            });
            assert_eq!(
                shape::shape(dialect, &variant).as_ref(),
                Some(&key),
                "{variant:?}"
            );
            let got = classify(dialect, &variant);
            if expected.class == Class::Unknown {
                // Not cached (a parse error's reason gives a column), but one
                // text of a shape failing means every text of it fails.
                assert_eq!(got.class, Class::Unknown, "{sql:?} vs {variant:?}");
            } else {
                assert_eq!(got, expected, "{sql:?} vs {variant:?}");
            }
            variants += 1;
        }
    }
    assert!(variants > 1000);
    shaped
}

#[test]
fn a_string_read_as_a_name_is_spotted() {
    for dialect in [Dialect::Postgres, Dialect::Mysql] {
        for sql in [
            "SELECT * FROM 'tbl' WHERE a = 1",
            "SELECT * FROM ''",
            "SELECT * FROM s.'Tbl'",
            "SELECT * FROM 'a.b'",
            "SELECT * FROM 'it''s'",
            "SELECT * FROM t1, 'x' 'y'",
            "SELECT * FROM t WHERE x IN (SELECT * FROM 'u')",
            "SELECT * FROM t JOIN 'Ä' ON 1 = 1",
        ] {
            let tables = classify(dialect, sql).tables;
            assert!(
                shape::depends_on_a_literal(dialect, sql, &tables),
                "{dialect:?} {sql:?}: {tables:?}"
            );
        }
        // Told apart only by where the string stands: a value equal to a
        // table's name keeps the shape out too (classified every time).
        let sql = "SELECT * FROM t WHERE a = 't'";
        let tables = classify(dialect, sql).tables;
        assert!(shape::depends_on_a_literal(dialect, sql, &tables));
        for sql in [
            "SELECT * FROM t WHERE a = 'x'",
            "SELECT c FROM sbtest1 WHERE id = 1",
            "SELECT a 'alias' FROM t",
        ] {
            let tables = classify(dialect, sql).tables;
            assert!(
                !shape::depends_on_a_literal(dialect, sql, &tables),
                "{dialect:?} {sql:?}"
            );
        }
    }
}

#[test]
fn markers_cannot_be_forged_and_kinds_stay_apart() {
    assert_eq!(shape::shape(Dialect::Postgres, "SELECT '\u{1}'"), None);
    assert_eq!(shape::shape(Dialect::Postgres, "SELECT \"\u{2}\""), None);
    assert_ne!(
        shape::shape(Dialect::Postgres, "SELECT '1'"),
        shape::shape(Dialect::Postgres, "SELECT 1")
    );
    assert_ne!(
        shape::shape(Dialect::Postgres, "SELECT 1.5"),
        shape::shape(Dialect::Postgres, "SELECT 1")
    );
    assert_ne!(
        shape::shape(Dialect::Postgres, "SELECT 1234567890"),
        shape::shape(Dialect::Postgres, "SELECT 1234567891")
    );
    assert_eq!(
        shape::shape(Dialect::Postgres, "SELECT 'a'").unwrap(),
        [b"SELECT ".as_slice(), &[STRING]].concat()
    );
}

/// `sql` with each literal span replaced by `pick(kind, index)`.
fn replace<'a>(
    sql: &str,
    spans: &[(std::ops::Range<usize>, u8)],
    mut pick: impl FnMut(u8, usize) -> &'a str,
) -> String {
    let mut out = String::with_capacity(sql.len() + 32);
    let mut at = 0;
    for (i, (span, kind)) in spans.iter().enumerate() {
        out.push_str(&sql[at..span.start]);
        out.push_str(pick(*kind, i));
        at = span.end;
    }
    out.push_str(&sql[at..]);
    out
}

/// Every string literal in the corpus files.
fn corpus() -> Vec<String> {
    let mut all = Vec::new();
    for file in CORPUS_FILES {
        let mut chars = file.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '"' => all.push(rust_string(&mut chars)),
                // A char literal such as '"' must not open a string.
                '\'' if chars.peek() == Some(&'"') => {
                    chars.next();
                }
                '/' if chars.peek() == Some(&'/') => {
                    for c in chars.by_ref() {
                        if c == '\n' {
                            break;
                        }
                    }
                }
                _ => {}
            }
        }
    }
    all
}

/// The rest of a Rust string literal, unescaped.
fn rust_string(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> String {
    let mut s = String::new();
    while let Some(c) = chars.next() {
        match c {
            '"' => break,
            '\\' => match chars.next() {
                Some('n') => s.push('\n'),
                Some('t') => s.push('\t'),
                Some('r') => s.push('\r'),
                Some('0') => s.push('\0'),
                Some('u') => {
                    let hex: String = chars.by_ref().skip(1).take_while(|&c| c != '}').collect();
                    s.extend(u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32));
                }
                Some('\n') => {
                    while chars.peek().is_some_and(|c| c.is_whitespace()) {
                        chars.next();
                    }
                }
                Some(other) => s.push(other),
                None => break,
            },
            c => s.push(c),
        }
    }
    s
}
