//! Validation: every error names its file and line.

use super::*;

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
        "[[rule]]\nname = \"\"\naction = \"allow\"\n[[rule]]\nname = \"\"\naction = \"allow\"\n",
        2,
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
