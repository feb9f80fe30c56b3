//! Rule directories and the rules shipped in `rules/`.

use std::path::{Path, PathBuf};

use super::*;

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
    assert!(matches!(
        grant.action,
        Action::Hold(HoldTerms { quorum: 2, .. })
    ));
    // Tuesday 03:00 in New York (07:00 UTC): DDL on production is refused.
    let night_ddl = Req::new(Class::Ddl)
        .database("prod_us")
        .at("2024-05-07T07:00:00Z");
    assert_eq!(
        night_ddl.verdict(&rules).rule,
        "production.toml:no prod ddl at night"
    );
}
