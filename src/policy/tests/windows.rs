//! Time windows in rules: inside and outside, midnight, weekdays, time zones.

use super::*;

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
