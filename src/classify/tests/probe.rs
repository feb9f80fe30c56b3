//! Probe: prints verdicts for ad-hoc SQL (development aid).

use crate::classify::{classify, Dialect};

#[test]
#[ignore]
fn probe() {
    let input = std::fs::read_to_string("/tmp/probe.sql").unwrap();
    let dialect = match std::env::var("PROBE_DIALECT").as_deref() {
        Ok("mysql") => Dialect::Mysql,
        _ => Dialect::Postgres,
    };
    for sql in input.split("\n====\n") {
        let c = classify(dialect, sql);
        println!(
            "{:<60} => {} {:?} | {}",
            sql.replace('\n', " "),
            c.class,
            c.tables,
            c.reason
        );
        for s in &c.statements {
            println!(
                "      - {} [{}] {:?} {:?} | {}",
                s.class, s.kind, s.tables, s.effect, s.reason
            );
        }
    }
}
