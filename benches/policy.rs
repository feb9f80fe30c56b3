//! Policy evaluation: the time [`Rules::evaluate`] takes for one statement against a
//! realistic 20-rule set, from a read decided by the first rule to a statement that
//! walks every rule and falls through to the fail-closed hold.
//!
//! Run: `cargo bench --bench policy` (add `-- --warm-up-time 1 --measurement-time 3`
//! for a quick look).

use airlock::classify::Class;
use airlock::policy::{Request, Rules};
use chrono::{TimeZone, Utc};
use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion};

/// Twenty rules of the kinds a team writes: per-agent and per-group allowances,
/// table globs, database globs, time windows in several zones, holds with
/// approvers and quorums, denials. The catch-all reads rule is deliberately NOT
/// first, so a read walks a few rules before it is allowed.
const RULES: &str = r#"
[[rule]]
name = "quarantined agent"
agent = ["agent-quarantine"]
action = "deny"
message = "this agent is quarantined"

[[rule]]
name = "no customer exports"
class = ["export"]
tables = ["*.customers", "*.customer_*"]
action = "deny"
message = "exporting customers is not allowed; ask the data team"

[[rule]]
name = "no audit tampering"
class = ["write", "ddl"]
tables = ["*.audit_log", "audit.*"]
action = "deny"

[[rule]]
name = "reads pass"
class = ["read", "transaction", "session"]
action = "allow"

[[rule]]
name = "scratch writes in office hours"
class = ["write"]
tables = ["scratch.*"]
when = { hours = "09:00-17:00", weekdays = ["mon", "tue", "wed", "thu", "fri"], timezone = "Europe/Berlin" }
action = "allow"

[[rule]]
name = "no order writes at night"
class = ["write"]
tables = ["public.orders", "public.order_*"]
when = { hours = "22:00-07:00", timezone = "Europe/Berlin" }
action = "deny"
message = "writes to orders are refused between 22:00 and 07:00 Berlin time"

[[rule]]
name = "etl loads staging"
group = ["etl"]
class = ["write"]
tables = ["staging.*"]
action = "allow"

[[rule]]
name = "reporting agent writes its cache"
agent = ["agent-report"]
database = ["analytics", "analytics_*"]
class = ["write"]
tables = ["cache.report_*"]
action = "allow"

[[rule]]
name = "no prod ddl at night"
database = ["prod_*"]
class = ["ddl"]
when = { hours = "19:00-08:00", timezone = "America/New_York" }
action = "deny"
message = "schema changes on production are allowed only 08:00-19:00 New York time"

[[rule]]
name = "no prod ddl at weekends"
database = ["prod_*"]
class = ["ddl"]
when = { weekdays = ["sat", "sun"], timezone = "America/New_York" }
action = "deny"

[[rule]]
name = "prod ddl needs a dba"
database = ["prod_*"]
class = ["ddl"]
action = "hold"
approvers = ["dba"]
timeout = "30m"

[[rule]]
name = "dev ddl passes"
database = ["dev_*", "test"]
class = ["ddl"]
action = "allow"

[[rule]]
name = "payments writes need two"
class = ["write"]
tables = ["payments.*", "public.invoices"]
action = "hold"
approvers = ["finance"]
quorum = 2
timeout = "1h"

[[rule]]
name = "privileges need two security approvers"
class = ["privilege"]
action = "hold"
approvers = ["security"]
quorum = 2
timeout = "2h"

[[rule]]
name = "admin at weekends refused"
class = ["admin"]
when = { weekdays = ["sat", "sun"], timezone = "UTC" }
action = "deny"

[[rule]]
name = "admin needs a dba"
class = ["admin"]
action = "hold"
approvers = ["dba"]
timeout = "15m"

[[rule]]
name = "exports need the data team"
class = ["export"]
action = "hold"
approvers = ["data"]
timeout = "1h"

[[rule]]
name = "support agents write tickets"
group = ["support"]
class = ["write"]
tables = ["public.tickets", "public.ticket_comments"]
action = "allow"

[[rule]]
name = "unknown statements go to a dba"
class = ["unknown"]
action = "hold"
approvers = ["dba"]
timeout = "15m"

[[rule]]
name = "lab writes in the lab window"
database = ["lab"]
class = ["write"]
when = { hours = "06:00-23:00", timezone = "Asia/Tokyo" }
action = "allow"
"#;

struct Case {
    name: &'static str,
    agent: &'static str,
    groups: Vec<String>,
    database: &'static str,
    class: Class,
    tables: Vec<String>,
}

fn cases() -> Vec<Case> {
    let s = |v: &[&str]| v.iter().map(|t| t.to_string()).collect::<Vec<_>>();
    vec![
        // The hot path: pgbench -S and every agent read. Decided by rule 4.
        Case {
            name: "read_one_table",
            agent: "agent-7",
            groups: s(&["agents"]),
            database: "orders",
            class: Class::Read,
            tables: s(&["pgbench_accounts"]),
        },
        // A join over several tables: the rules before "reads pass" that name tables
        // are for other classes, so (as the rules are written) no table is read.
        Case {
            name: "read_five_tables",
            agent: "agent-7",
            groups: s(&["agents", "support"]),
            database: "orders",
            class: Class::Read,
            tables: s(&[
                "orders",
                "public.order_lines",
                "\"Sales\".\"Customers\"",
                "inventory.items",
                "shipping.parcels",
            ]),
        },
        // A write allowed by a group rule halfway down (rule 18).
        Case {
            name: "write_allowed_by_group",
            agent: "agent-9",
            groups: s(&["agents", "support"]),
            database: "orders",
            class: Class::Write,
            tables: s(&["tickets"]),
        },
        // Walks all twenty rules, time windows included, then the fail-closed hold.
        Case {
            name: "write_no_rule_matches",
            agent: "agent-7",
            groups: s(&["agents"]),
            database: "orders",
            class: Class::Write,
            tables: s(&["public.line_items"]),
        },
    ]
}

fn bench(c: &mut Criterion) {
    let rules = Rules::from_files(vec![("a.toml".into(), RULES.into())]).expect("valid rules");
    assert_eq!(rules.len(), 20);
    // A Wednesday at 12:00 UTC: office hours in Berlin, morning in New York.
    let at = Utc.with_ymd_and_hms(2025, 3, 12, 12, 0, 0).unwrap();
    let mut group = c.benchmark_group("policy_evaluate_20_rules");
    for case in cases() {
        let req = Request {
            agent: case.agent,
            groups: &case.groups,
            database: case.database,
            class: case.class,
            tables: &case.tables,
            default_schema: "public",
            at,
        };
        group.bench_with_input(BenchmarkId::from_parameter(case.name), &req, |b, req| {
            b.iter(|| rules.evaluate(black_box(req)))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
