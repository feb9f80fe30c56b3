//! Tests of rule evaluation and validation, through the public interface, and
//! the helpers they share.

mod evaluate;
mod files;
mod tables;
mod validate;
mod windows;

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
    Action::Hold(HoldTerms {
        timeout: DEFAULT_HOLD_TIMEOUT,
        approvers: Vec::new(),
        quorum: 1,
    })
}
