//! Table criteria: allow needs every table, hold and deny any; names and default schemas.

use super::*;

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
