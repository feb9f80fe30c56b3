//! Tests of rule evaluation and validation, through the public interface.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::*;

fn rules(files: &[(&str, &str)]) -> Rules {
    let files = files
        .iter()
        .map(|(name, text)| (name.to_string(), text.to_string()));
    Rules::from_files(files.collect()).unwrap_or_else(|e| panic!("{e}"))
}

fn one(text: &str) -> Rules {
    rules(&[("test.toml", text)])
}

fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339)
        .unwrap()
        .with_timezone(&Utc)
}

/// An owned [`Request`] with defaults: agent-7, no groups, database `orders`,
/// default schema `public`, Monday 2024-05-06 12:00 UTC.
#[derive(Clone)]
struct Req {
    agent: String,
    groups: Vec<String>,
    database: String,
    class: Class,
    tables: Vec<String>,
    default_schema: String,
    at: DateTime<Utc>,
}

impl Req {
    fn new(class: Class) -> Req {
        Req {
            agent: "agent-7".into(),
            groups: Vec::new(),
            database: "orders".into(),
            class,
            tables: Vec::new(),
            default_schema: "public".into(),
            at: at("2024-05-06T12:00:00Z"),
        }
    }

    fn tables(mut self, tables: &[&str]) -> Req {
        self.tables = tables.iter().map(|t| t.to_string()).collect();
        self
    }

    fn agent(mut self, agent: &str) -> Req {
        self.agent = agent.into();
        self
    }

    fn groups(mut self, groups: &[&str]) -> Req {
        self.groups = groups.iter().map(|g| g.to_string()).collect();
        self
    }

    fn database(mut self, database: &str) -> Req {
        self.database = database.into();
        self
    }

    fn schema(mut self, schema: &str) -> Req {
        self.default_schema = schema.into();
        self
    }

    fn at(mut self, rfc3339: &str) -> Req {
        self.at = at(rfc3339);
        self
    }

    fn verdict(&self, rules: &Rules) -> Verdict {
        rules.evaluate(&Request {
            agent: &self.agent,
            groups: &self.groups,
            database: &self.database,
            class: self.class,
            tables: &self.tables,
            default_schema: &self.default_schema,
            at: self.at,
        })
    }

    /// The rule that decided, without its file name; `None` when none matched.
    fn rule(&self, rules: &Rules) -> Option<String> {
        let rule = self.verdict(rules).rule;
        (rule != NO_RULE_MATCHED).then(|| rule.split_once(':').unwrap().1.to_string())
    }

    fn matches(&self, rules: &Rules) -> bool {
        self.rule(rules).is_some()
    }
}

fn default_hold() -> Action {
    Action::Hold {
        timeout: DEFAULT_HOLD_TIMEOUT,
        approvers: Vec::new(),
        quorum: 1,
    }
}

// ---- order and fallback ----

#[test]
fn first_match_wins_across_files_in_name_order() {
    let rules = rules(&[
        (
            "20-late.toml",
            "[[rule]]\nname = \"late allow\"\naction = \"allow\"\n",
        ),
        (
            "10-early.toml",
            "[[rule]]\nname = \"early deny\"\nclass = [\"write\"]\naction = \"deny\"\n",
        ),
    ]);
    let write = Req::new(Class::Write).verdict(&rules);
    assert_eq!(write.rule, "10-early.toml:early deny");
    assert!(matches!(write.action, Action::Deny { .. }));
    let read = Req::new(Class::Read).verdict(&rules);
    assert_eq!(
        read,
        Verdict {
            action: Action::Allow,
            rule: "20-late.toml:late allow".into()
        }
    );
}

#[test]
fn first_match_wins_within_a_file() {
    let rules = one(r#"
[[rule]]
name = "first"
class = ["ddl"]
action = "hold"
[[rule]]
name = "second"
class = ["ddl"]
action = "allow"
"#);
    assert_eq!(Req::new(Class::Ddl).rule(&rules).as_deref(), Some("first"));
    assert_eq!(rules.len(), 2);
}

#[test]
fn no_match_holds_with_the_default_timeout() {
    let rules = one("[[rule]]\nname = \"reads\"\nclass = [\"read\"]\naction = \"allow\"\n");
    for class in [Class::Write, Class::Unknown, Class::Privilege] {
        let verdict = Req::new(class).verdict(&rules);
        assert_eq!(
            verdict,
            Verdict {
                action: default_hold(),
                rule: NO_RULE_MATCHED.into()
            }
        );
    }
}

#[test]
fn empty_rules_hold_everything() {
    let empty = Rules::from_files(Vec::new()).unwrap();
    assert!(empty.is_empty());
    assert_eq!(Req::new(Class::Read).verdict(&empty).action, default_hold());
    let comments_only = one("# nothing yet\n");
    assert_eq!(comments_only.len(), 0);
    assert_eq!(
        Req::new(Class::Read).verdict(&comments_only).rule,
        "(no rule matched)"
    );
}

#[test]
fn a_rule_without_criteria_matches_everything() {
    let rules = one("[[rule]]\nname = \"all\"\naction = \"deny\"\n");
    for class in Class::ALL {
        assert!(Req::new(class)
            .tables(&["x.y"])
            .agent("other")
            .matches(&rules));
    }
}

// ---- criteria ----

#[test]
fn class_matches_any_listed() {
    let rules =
        one("[[rule]]\nname = \"r\"\nclass = [\"read\", \"session\"]\naction = \"allow\"\n");
    assert!(Req::new(Class::Read).matches(&rules));
    assert!(Req::new(Class::Session).matches(&rules));
    assert!(!Req::new(Class::Transaction).matches(&rules));
    assert!(!Req::new(Class::Write).matches(&rules));
}

#[test]
fn agent_matches_by_name() {
    let rules = one("[[rule]]\nname = \"r\"\nagent = [\"agent-7\", \"bot\"]\naction = \"allow\"\n");
    assert!(Req::new(Class::Write).matches(&rules));
    assert!(Req::new(Class::Write).agent("bot").matches(&rules));
    assert!(!Req::new(Class::Write).agent("agent-8").matches(&rules));
    assert!(!Req::new(Class::Write).agent("Agent-7").matches(&rules));
}

#[test]
fn group_matches_any_group_of_the_agent() {
    let rules = one("[[rule]]\nname = \"r\"\ngroup = [\"etl\"]\naction = \"allow\"\n");
    assert!(Req::new(Class::Write)
        .groups(&["analytics", "etl"])
        .matches(&rules));
    assert!(!Req::new(Class::Write)
        .groups(&["analytics"])
        .matches(&rules));
    assert!(!Req::new(Class::Write).agent("etl").matches(&rules));
}

#[test]
fn agent_or_group_either_matches() {
    let rules =
        one("[[rule]]\nname = \"r\"\nagent = [\"bot\"]\ngroup = [\"etl\"]\naction = \"allow\"\n");
    assert!(Req::new(Class::Write).agent("bot").matches(&rules));
    assert!(Req::new(Class::Write).groups(&["etl"]).matches(&rules));
    assert!(!Req::new(Class::Write).groups(&["other"]).matches(&rules));
}

#[test]
fn database_is_a_case_sensitive_glob() {
    let rules =
        one("[[rule]]\nname = \"r\"\ndatabase = [\"prod_*\", \"billing\"]\naction = \"deny\"\n");
    assert!(Req::new(Class::Read).database("prod_eu").matches(&rules));
    assert!(Req::new(Class::Read).database("billing").matches(&rules));
    assert!(!Req::new(Class::Read).database("staging_eu").matches(&rules));
    assert!(!Req::new(Class::Read).database("PROD_eu").matches(&rules));
}

#[test]
fn all_criteria_must_match() {
    let rules = one(r#"
[[rule]]
name = "r"
class = ["write"]
agent = ["agent-7"]
database = ["orders"]
tables = ["public.*"]
when = { hours = "09:00-17:00" }
action = "allow"
"#);
    let ok = Req::new(Class::Write).tables(&["orders"]);
    assert!(ok.matches(&rules));
    assert!(!Req {
        class: Class::Ddl,
        ..ok.clone()
    }
    .matches(&rules));
    assert!(!ok.clone().agent("x").matches(&rules));
    assert!(!ok.clone().database("x").matches(&rules));
    assert!(!ok.clone().tables(&["x.orders"]).matches(&rules));
    assert!(!ok.clone().at("2024-05-06T20:00:00Z").matches(&rules));
}

// ---- tables ----

const SCRATCH: &str = r#"
[[rule]]
name = "deny secrets"
tables = ["secret.*", "public.api_keys"]
action = "deny"
message = "no"

[[rule]]
name = "allow scratch"
tables = ["scratch.*", "public.tmp_*"]
action = "allow"
"#;

#[test]
fn allow_needs_every_table_to_match() {
    let rules = one(SCRATCH);
    let write = Req::new(Class::Write);
    assert_eq!(
        write.clone().tables(&["scratch.a"]).rule(&rules).as_deref(),
        Some("allow scratch")
    );
    assert_eq!(
        write
            .clone()
            .tables(&["scratch.a", "tmp_1"])
            .rule(&rules)
            .as_deref(),
        Some("allow scratch")
    );
    assert_eq!(
        write.clone().tables(&["scratch.a", "orders"]).rule(&rules),
        None
    );
    assert_eq!(
        write.clone().tables(&["orders", "scratch.a"]).rule(&rules),
        None
    );
}

#[test]
fn allow_with_tables_does_not_match_a_statement_without_tables() {
    let rules = one(SCRATCH);
    assert_eq!(Req::new(Class::Write).rule(&rules), None);
}

#[test]
fn deny_needs_any_table_to_match() {
    let rules = one(SCRATCH);
    let write = Req::new(Class::Write);
    assert_eq!(
        write
            .clone()
            .tables(&["scratch.a", "secret.x"])
            .rule(&rules)
            .as_deref(),
        Some("deny secrets")
    );
    assert_eq!(
        write
            .clone()
            .tables(&["api_keys", "scratch.a"])
            .rule(&rules)
            .as_deref(),
        Some("deny secrets")
    );
    assert_eq!(write.clone().tables(&["orders"]).rule(&rules), None);
}

#[test]
fn hold_needs_any_table_to_match() {
    let rules = one("[[rule]]\nname = \"h\"\ntables = [\"public.orders\"]\naction = \"hold\"\n");
    assert!(Req::new(Class::Read)
        .tables(&["customers", "orders"])
        .matches(&rules));
    assert!(!Req::new(Class::Read).tables(&["customers"]).matches(&rules));
    assert!(!Req::new(Class::Read).matches(&rules));
}

#[test]
fn deny_ignores_case_allow_does_not() {
    let rules = one(SCRATCH);
    let write = Req::new(Class::Write);
    assert_eq!(
        write
            .clone()
            .tables(&["\"SECRET\".\"Keys\""])
            .rule(&rules)
            .as_deref(),
        Some("deny secrets")
    );
    assert_eq!(write.clone().tables(&["\"Scratch\".a"]).rule(&rules), None);
}

#[test]
fn unreadable_table_names_match_deny_but_never_allow() {
    let rules = one(SCRATCH);
    let write = Req::new(Class::Write);
    assert_eq!(
        write
            .clone()
            .tables(&["scratch.\"open"])
            .rule(&rules)
            .as_deref(),
        Some("deny secrets")
    );
    let allow_only = one("[[rule]]\nname = \"a\"\ntables = [\"*.*\"]\naction = \"allow\"\n");
    assert!(!write.clone().tables(&["a.b.c.d"]).matches(&allow_only));
    assert!(write.clone().tables(&["a.b.c"]).matches(&allow_only));
}

#[test]
fn unqualified_tables_take_the_default_schema() {
    let rules = one("[[rule]]\nname = \"shop\"\ntables = [\"shop.*\"]\naction = \"allow\"\n");
    let write = Req::new(Class::Write).tables(&["orders"]);
    assert!(!write.matches(&rules), "PostgreSQL: public.orders");
    assert!(
        write.clone().schema("shop").matches(&rules),
        "MySQL: database shop"
    );
    assert!(
        !write.clone().schema("").matches(&rules),
        "no database selected"
    );
    assert!(Req::new(Class::Write)
        .tables(&["shop.orders"])
        .matches(&rules));
    assert!(Req::new(Class::Write)
        .tables(&["`shop`.`orders`"])
        .matches(&rules));
}

#[test]
fn quoted_names_match_patterns_written_without_quotes() {
    let rules = one("[[rule]]\nname = \"w\"\ntables = [\"public.Weird\"]\naction = \"allow\"\n");
    assert!(Req::new(Class::Write)
        .tables(&["\"Weird\""])
        .matches(&rules));
    assert!(Req::new(Class::Write)
        .tables(&["public.\"Weird\""])
        .matches(&rules));
    assert!(!Req::new(Class::Write).tables(&["weird"]).matches(&rules));
}

#[test]
fn qualified_table_is_what_rules_see() {
    assert_eq!(qualified_table("orders", "public"), "public.orders");
    assert_eq!(qualified_table("\"Weird\"", "public"), "public.Weird");
    assert_eq!(qualified_table("Sales.Orders", "public"), "sales.orders");
    assert_eq!(qualified_table("orders", "shop"), "shop.orders");
    assert_eq!(qualified_table("\"open", "public"), "\"open");
}

// ---- time windows ----

const SAFE_AT_NOON: &str = r#"
[[rule]]
name = "scratch writes in office hours"
class = ["write"]
tables = ["scratch.*"]
when = { hours = "09:00-17:00", weekdays = ["mon", "tue", "wed", "thu", "fri"], timezone = "Europe/Berlin" }
action = "allow"

[[rule]]
name = "no ddl at night"
class = ["ddl"]
when = { hours = "22:00-06:00", timezone = "Europe/Berlin" }
action = "deny"
message = "no DDL at night"
"#;

#[test]
fn window_allows_inside_and_falls_through_outside() {
    let rules = one(SAFE_AT_NOON);
    let write = Req::new(Class::Write).tables(&["scratch.t"]);
    // Monday 12:00 UTC = 14:00 CEST.
    assert_eq!(
        write
            .clone()
            .at("2024-05-06T12:00:00Z")
            .verdict(&rules)
            .action,
        Action::Allow
    );
    // Monday 15:30 UTC = 17:30 CEST: outside, no rule → hold.
    assert_eq!(
        write
            .clone()
            .at("2024-05-06T15:30:00Z")
            .verdict(&rules)
            .action,
        default_hold()
    );
    // Saturday noon: not a weekday in the list.
    assert_eq!(
        write
            .clone()
            .at("2024-05-11T12:00:00Z")
            .verdict(&rules)
            .action,
        default_hold()
    );
}

#[test]
fn window_wraps_midnight() {
    let rules = one(SAFE_AT_NOON);
    let ddl = Req::new(Class::Ddl);
    let denied = |r: Req| matches!(r.verdict(&rules).action, Action::Deny { .. });
    // 21:30 UTC = 23:30 CEST; 03:00 UTC = 05:00 CEST; 04:30 UTC = 06:30 CEST.
    assert!(denied(ddl.clone().at("2024-05-06T21:30:00Z")));
    assert!(denied(ddl.clone().at("2024-05-07T03:00:00Z")));
    assert!(!denied(ddl.clone().at("2024-05-07T04:30:00Z")));
    assert!(!denied(ddl.clone().at("2024-05-07T12:00:00Z")));
}

#[test]
fn window_follows_daylight_saving() {
    let rules = one(SAFE_AT_NOON);
    let write = Req::new(Class::Write).tables(&["scratch.t"]);
    // 07:30 UTC: 08:30 CET on Friday 2024-03-29 (outside), 09:30 CEST on Tuesday
    // 2024-04-02 after the switch (inside).
    assert!(!write.clone().at("2024-03-29T07:30:00Z").matches(&rules));
    assert!(write.clone().at("2024-04-02T07:30:00Z").matches(&rules));
    // 15:30 UTC: 16:30 CET (inside) in winter, 17:30 CEST (outside) in summer.
    assert!(write.clone().at("2024-03-29T15:30:00Z").matches(&rules));
    assert!(!write.clone().at("2024-04-02T15:30:00Z").matches(&rules));
}

#[test]
fn window_defaults_to_utc() {
    let rules =
        one("[[rule]]\nname = \"w\"\nwhen = { hours = \"09:00-17:00\" }\naction = \"allow\"\n");
    assert!(Req::new(Class::Write)
        .at("2024-05-06T09:00:00Z")
        .matches(&rules));
    assert!(!Req::new(Class::Write)
        .at("2024-05-06T08:59:00Z")
        .matches(&rules));
}

#[test]
fn weekdays_alone_make_a_window() {
    let rules = one(
        "[[rule]]\nname = \"w\"\nwhen = { weekdays = [\"sat\", \"sun\"] }\naction = \"deny\"\n",
    );
    assert!(Req::new(Class::Write)
        .at("2024-05-11T03:00:00Z")
        .matches(&rules));
    assert!(!Req::new(Class::Write)
        .at("2024-05-10T03:00:00Z")
        .matches(&rules));
}

#[test]
fn when_as_a_table_section() {
    let rules =
        one("[[rule]]\nname = \"w\"\naction = \"allow\"\n[rule.when]\nhours = \"09:00-10:00\"\n");
    assert!(Req::new(Class::Write)
        .at("2024-05-06T09:30:00Z")
        .matches(&rules));
    assert!(!Req::new(Class::Write)
        .at("2024-05-06T10:30:00Z")
        .matches(&rules));
}

// ---- actions ----

#[test]
fn hold_takes_timeout_approvers_and_quorum() {
    let rules = one(
        "[[rule]]\nname = \"two\"\naction = \"hold\"\ntimeout = \"1h30m\"\napprovers = [\"dba\", \"security\"]\nquorum = 2\n",
    );
    assert_eq!(
        Req::new(Class::Privilege).verdict(&rules).action,
        Action::Hold {
            timeout: Duration::from_secs(5400),
            approvers: vec!["dba".into(), "security".into()],
            quorum: 2
        }
    );
    let plain = one("[[rule]]\nname = \"h\"\naction = \"hold\"\n");
    assert_eq!(
        Req::new(Class::Write).verdict(&plain).action,
        default_hold()
    );
}

#[test]
fn deny_carries_its_message() {
    let rules = one("[[rule]]\nname = \"no\"\naction = \"deny\"\nmessage = \"not today\"\n");
    assert_eq!(
        Req::new(Class::Write).verdict(&rules).action,
        Action::Deny {
            message: "not today".into()
        }
    );
    let plain = one("[[rule]]\nname = \"no ddl\"\naction = \"deny\"\n");
    assert_eq!(
        Req::new(Class::Write).verdict(&plain).action,
        Action::Deny {
            message: "denied by airlock rule \"no ddl\"".into()
        }
    );
}

// ---- validation ----

/// Loads `text` as `bad.toml` after a valid `a-good.toml`, expecting an error on `line`
/// whose message contains `fragment`.
#[track_caller]
fn rejects(text: &str, line: usize, fragment: &str) {
    let good = (
        "a-good.toml".to_string(),
        "[[rule]]\nname = \"fine\"\naction = \"allow\"\n".to_string(),
    );
    match Rules::from_files(vec![good, ("bad.toml".into(), text.into())]) {
        Err(e @ PolicyError::Invalid { .. }) => {
            let PolicyError::Invalid {
                file,
                line: got,
                message,
            } = &e
            else {
                unreachable!()
            };
            assert_eq!((file.as_str(), *got), ("bad.toml", line), "{e}");
            assert!(message.contains(fragment), "`{message}` lacks `{fragment}`");
            assert!(
                e.to_string().starts_with(&format!("bad.toml:{line}: ")),
                "{e}"
            );
        }
        other => panic!("expected an error on line {line}, got {other:?}"),
    }
}

#[test]
fn rejects_toml_syntax_errors() {
    rejects("[[rule]]\nname = \"a\"\naction = allow\n", 3, "");
    rejects("# c\n\n[[rule]\n", 3, "");
}

#[test]
fn rejects_unknown_keys() {
    rejects(
        "[[rule]]\nname = \"a\"\naction = \"allow\"\ntable = [\"a.b\"]\n",
        4,
        "unknown field `table`",
    );
    rejects("[[rules]]\nname = \"a\"\n", 1, "unknown field `rules`");
    rejects("version = 2\n", 1, "unknown field `version`");
    rejects(
        "[[rule]]\nname = \"a\"\naction = \"allow\"\nwhen = { hours = \"09:00-10:00\", tz = \"UTC\" }\n",
        4,
        "unknown field `tz`",
    );
}

#[test]
fn rejects_missing_required_keys() {
    rejects(
        "[[rule]]\nname = \"a\"\naction = \"allow\"\n\n[[rule]]\naction = \"allow\"\n",
        5,
        "missing field `name`",
    );
    rejects("\n[[rule]]\nname = \"a\"\n", 2, "missing field `action`");
}

#[test]
fn rejects_wrong_value_types() {
    rejects(
        "[[rule]]\nname = \"a\"\nclass = \"read\"\naction = \"allow\"\n",
        3,
        "expected a sequence",
    );
    rejects(
        "[[rule]]\nname = \"a\"\naction = \"hold\"\nquorum = \"two\"\n",
        4,
        "invalid type",
    );
}

#[test]
fn rejects_empty_and_duplicate_names() {
    rejects(
        "[[rule]]\naction = \"allow\"\nname = \"  \"\n",
        3,
        "rule name is empty",
    );
    rejects(
        "[[rule]]\nname = \"a\"\naction = \"allow\"\n\n[[rule]]\nname = \"a\"\naction = \"deny\"\n",
        6,
        "duplicate rule name `a`, first defined at bad.toml:2",
    );
    rejects(
        "\n\n[[rule]]\nname = \"fine\"\naction = \"deny\"\n",
        4,
        "first defined at a-good.toml:2",
    );
}

#[test]
fn rejects_unknown_class() {
    rejects(
        "[[rule]]\nname = \"a\"\nclass = [\n  \"read\",\n  \"writes\",\n]\naction = \"allow\"\n",
        5,
        "unknown class `writes`; expected one of read, transaction",
    );
}

#[test]
fn rejects_bad_action() {
    rejects(
        "[[rule]]\nname = \"a\"\n\naction = \"approve\"\n",
        4,
        "unknown action `approve`",
    );
    rejects(
        "[[rule]]\nname = \"a\"\naction = \"Allow\"\n",
        3,
        "expected allow, hold or deny",
    );
}

#[test]
fn rejects_bad_timeout() {
    rejects(
        "[[rule]]\nname = \"a\"\naction = \"hold\"\ntimeout = \"5 minutes\"\n",
        4,
        "timeout `5 minutes`",
    );
    rejects(
        "[[rule]]\nname = \"a\"\naction = \"hold\"\ntimeout = \"0s\"\n",
        4,
        "longer than zero",
    );
    rejects(
        "[[rule]]\nname = \"a\"\naction = \"hold\"\ntimeout = 300\n",
        4,
        "invalid type",
    );
}

#[test]
fn rejects_hold_keys_on_other_actions() {
    rejects(
        "[[rule]]\nname = \"a\"\naction = \"allow\"\ntimeout = \"5m\"\n",
        4,
        "`timeout` applies only to hold rules",
    );
    rejects(
        "[[rule]]\nname = \"a\"\naction = \"deny\"\n\napprovers = [\"dba\"]\n",
        5,
        "`approvers` applies only to hold",
    );
    rejects(
        "[[rule]]\nname = \"a\"\nquorum = 2\naction = \"allow\"\n",
        3,
        "`quorum` applies only to hold",
    );
}

#[test]
fn rejects_message_on_other_actions() {
    rejects(
        "[[rule]]\nname = \"a\"\naction = \"hold\"\nmessage = \"why\"\n",
        4,
        "`message` applies only to deny rules",
    );
    rejects(
        "[[rule]]\nname = \"a\"\naction = \"allow\"\nmessage = \"why\"\n",
        4,
        "only to deny",
    );
    rejects(
        "[[rule]]\nname = \"a\"\naction = \"deny\"\nmessage = \" \"\n",
        4,
        "`message` is empty",
    );
}

#[test]
fn rejects_bad_quorum() {
    rejects(
        "[[rule]]\nname = \"a\"\naction = \"hold\"\nquorum = 0\n",
        4,
        "quorum 0 must be at least 1",
    );
    rejects(
        "[[rule]]\nname = \"a\"\naction = \"hold\"\nquorum = -1\n",
        4,
        "at least 1",
    );
    rejects(
        "[[rule]]\nname = \"a\"\naction = \"hold\"\nquorum = 5000000000\n",
        4,
        "quorum",
    );
}

#[test]
fn rejects_bad_windows() {
    let rule = |when: &str| format!("[[rule]]\nname = \"a\"\naction = \"allow\"\nwhen = {when}\n");
    rejects(&rule("{ hours = \"9-17\" }"), 4, "hours `9-17`");
    rejects(
        &rule("{ hours = \"10:00-10:00\" }"),
        4,
        "shorter than a day",
    );
    rejects(
        &rule("{ weekdays = [\"mon\", \"monday\"] }"),
        4,
        "unknown weekday `monday`",
    );
    rejects(&rule("{ weekdays = [] }"), 4, "`weekdays` is empty");
    rejects(
        &rule("{ hours = \"09:00-17:00\", timezone = \"Berlin\" }"),
        4,
        "unknown time zone `Berlin`",
    );
    rejects(
        &rule("{ timezone = \"UTC\" }"),
        4,
        "`when` needs `hours`, `weekdays` or both",
    );
    rejects(
        "[[rule]]\nname = \"a\"\naction = \"allow\"\n[rule.when]\nweekdays = [\"mon\"]\nhours = \"7\"\n",
        6,
        "hours `7`",
    );
}

#[test]
fn rejects_empty_lists_and_names() {
    rejects(
        "[[rule]]\nname = \"a\"\naction = \"allow\"\nclass = []\n",
        4,
        "`class` is empty",
    );
    rejects(
        "[[rule]]\nname = \"a\"\naction = \"allow\"\nagent = []\n",
        4,
        "`agent` is empty",
    );
    rejects(
        "[[rule]]\nname = \"a\"\naction = \"allow\"\ngroup = [\"\"]\n",
        4,
        "empty group name",
    );
    rejects(
        "[[rule]]\nname = \"a\"\naction = \"hold\"\napprovers = [\"dba\", \"\"]\n",
        4,
        "empty approver group name",
    );
    rejects(
        "[[rule]]\nname = \"a\"\naction = \"allow\"\ndatabase = [\"\"]\n",
        4,
        "empty database pattern",
    );
}

#[test]
fn rejects_bad_table_patterns() {
    rejects(
        "[[rule]]\nname = \"a\"\naction = \"allow\"\ntables = [\"orders\"]\n",
        4,
        "`*.orders` for any schema",
    );
    rejects(
        "[[rule]]\nname = \"a\"\naction = \"allow\"\ntables = [\n  \"public.a\",\n  \"a.b.c\",\n]\n",
        6,
        "more than one dot",
    );
    rejects(
        "[[rule]]\nname = \"a\"\naction = \"allow\"\ntables = [\"public.\\\"X\\\"\"]\n",
        4,
        "without quotes",
    );
}

#[test]
fn reports_the_first_file_in_name_order() {
    let files = vec![
        ("b.toml".to_string(), "oops = 1\n".to_string()),
        ("a.toml".to_string(), "\nnope = 1\n".to_string()),
    ];
    let error = Rules::from_files(files).unwrap_err().to_string();
    assert!(
        error.starts_with("a.toml:2: unknown field `nope`"),
        "{error}"
    );
}

// ---- directories ----

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

#[test]
fn load_dir_reads_top_level_toml_files_in_name_order() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "b.toml",
        "[[rule]]\nname = \"b\"\naction = \"allow\"\n",
    );
    write(
        dir.path(),
        "a.toml",
        "[[rule]]\nname = \"a\"\nclass = [\"write\"]\naction = \"deny\"\n",
    );
    write(dir.path(), "notes.txt", "not toml at all [[");
    write(dir.path(), ".draft.toml", "broken [[");
    std::fs::create_dir(dir.path().join("examples")).unwrap();
    write(&dir.path().join("examples"), "x.toml", "broken [[");
    std::fs::create_dir(dir.path().join("dir.toml")).unwrap();
    let rules = Rules::load_dir(dir.path()).unwrap();
    assert_eq!(rules.len(), 2);
    assert_eq!(Req::new(Class::Write).verdict(&rules).rule, "a.toml:a");
    assert_eq!(Req::new(Class::Read).verdict(&rules).rule, "b.toml:b");
}

#[test]
fn load_dir_names_the_file_in_errors() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "team.toml",
        "[[rule]]\nname = \"a\"\naction = \"alow\"\n",
    );
    let error = Rules::load_dir(dir.path()).unwrap_err().to_string();
    assert!(
        error.starts_with("team.toml:3: unknown action `alow`"),
        "{error}"
    );
}

#[test]
fn load_dir_of_an_empty_directory_holds_everything() {
    let dir = tempfile::tempdir().unwrap();
    let rules = Rules::load_dir(dir.path()).unwrap();
    assert!(rules.is_empty());
    assert_eq!(Req::new(Class::Read).verdict(&rules).action, default_hold());
}

#[test]
fn load_dir_of_a_missing_directory_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope");
    match Rules::load_dir(&missing) {
        Err(PolicyError::Io { path, source }) => {
            assert_eq!(path, missing.display().to_string());
            assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
        }
        other => panic!("{other:?}"),
    }
}

// ---- shipped rules ----

fn shipped(dir: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(dir)
}

#[test]
fn shipped_default_rules_allow_reads_and_hold_the_rest() {
    let rules = Rules::load_dir(&shipped("rules")).unwrap();
    for class in [Class::Read, Class::Transaction, Class::Session] {
        let verdict = Req::new(class).tables(&["orders"]).verdict(&rules);
        assert_eq!(
            verdict,
            Verdict {
                action: Action::Allow,
                rule: "default.toml:reads pass".into()
            }
        );
    }
    for class in [
        Class::Write,
        Class::Ddl,
        Class::Export,
        Class::Admin,
        Class::Privilege,
        Class::Unknown,
    ] {
        let verdict = Req::new(class).tables(&["orders"]).verdict(&rules);
        assert_eq!(
            verdict,
            Verdict {
                action: default_hold(),
                rule: "default.toml:hold everything else".into()
            }
        );
    }
}

#[test]
fn shipped_examples_are_valid() {
    let rules = Rules::load_dir(&shipped("rules/examples")).unwrap();
    assert!(rules.len() >= 5);
    let grant = Req::new(Class::Privilege).verdict(&rules);
    assert_eq!(
        grant.rule,
        "two-person.toml:privileges need two security approvers"
    );
    assert!(matches!(grant.action, Action::Hold { quorum: 2, .. }));
    // Tuesday 03:00 in New York (07:00 UTC): DDL on production is refused.
    let night_ddl = Req::new(Class::Ddl)
        .database("prod_us")
        .at("2024-05-07T07:00:00Z");
    assert_eq!(
        night_ddl.verdict(&rules).rule,
        "production.toml:no prod ddl at night"
    );
}
