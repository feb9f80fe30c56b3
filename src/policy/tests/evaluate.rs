//! Evaluation: rule order, the no-match fallback, each criterion, and the actions.

use super::*;

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

#[test]
fn hold_takes_timeout_approvers_and_quorum() {
    let rules = one(
        "[[rule]]\nname = \"two\"\naction = \"hold\"\ntimeout = \"1h30m\"\napprovers = [\"dba\", \"security\"]\nquorum = 2\n",
    );
    assert_eq!(
        Req::new(Class::Privilege).verdict(&rules).action,
        Action::Hold(HoldTerms {
            timeout: Duration::from_secs(5400),
            approvers: vec!["dba".into(), "security".into()],
            quorum: 2
        })
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
