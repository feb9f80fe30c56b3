//! `airlock check`: classify and decide SQL exactly as the proxy would, for testing rules.

use std::io::{self, Write};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::classify::{self, Class, Classified, Dialect};
use crate::policy::{self, Action, Request, Rules, Verdict};

/// Longest SQL shown, in characters, on a line of text output.
const SQL_WIDTH: usize = 80;

/// How `airlock check` prints its decisions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum CheckFormat {
    /// One aligned line per input.
    #[default]
    Text,
    /// One JSON object per input, one per line.
    Json,
}

/// Who is asking, where, and when: everything the rules look at besides the SQL.
#[derive(Debug, Clone)]
pub struct CheckOptions {
    pub dialect: Dialect,
    pub rules: Rules,
    pub agent: String,
    pub groups: Vec<String>,
    pub database: String,
    pub format: CheckFormat,
    pub at: DateTime<Utc>,
}

/// Classifies and decides each input as one statement string, writing one line per input.
pub fn run(opts: &CheckOptions, inputs: &[String], out: &mut dyn Write) -> io::Result<()> {
    let checks: Vec<Check<'_>> = inputs
        .iter()
        .map(|sql| Check::new(opts, sql, classify::classify(opts.dialect, sql)))
        .collect();
    match opts.format {
        CheckFormat::Text => write_text(&checks, out),
        CheckFormat::Json => checks.iter().try_for_each(|check| write_json(check, out)),
    }
}

/// One input and what the rules decided for it.
struct Check<'a> {
    sql: &'a str,
    classified: Classified,
    verdict: Verdict,
    /// Where the rules put a table written without a schema.
    default_schema: &'a str,
}

impl<'a> Check<'a> {
    fn new(opts: &'a CheckOptions, sql: &'a str, classified: Classified) -> Check<'a> {
        let default_schema = match opts.dialect {
            Dialect::Postgres => "public",
            Dialect::Mysql => opts.database.as_str(),
        };
        let verdict = opts.rules.evaluate(&Request {
            agent: &opts.agent,
            groups: &opts.groups,
            database: &opts.database,
            class: classified.class,
            tables: &classified.tables,
            default_schema,
            at: opts.at,
        });
        Check {
            sql,
            classified,
            verdict,
            default_schema,
        }
    }

    /// Table names as the rules saw them: `schema.table`.
    fn qualified(&self, tables: &[String]) -> Vec<String> {
        tables
            .iter()
            .map(|t| policy::qualified_table(t, self.default_schema))
            .collect()
    }
}

/// `hold   ddl          rule=default.toml:hold everything else  timeout=5m  reason=DROP TABLE  tables=public.orders  sql=DROP TABLE orders`,
/// the rule column padded to the longest rule.
fn write_text(checks: &[Check<'_>], out: &mut dyn Write) -> io::Result<()> {
    let rule_width = checks
        .iter()
        .map(|c| c.verdict.rule.chars().count())
        .max()
        .unwrap_or(0);
    for check in checks {
        let action = &check.verdict.action;
        let detail = match action {
            Action::Allow => String::new(),
            Action::Hold(policy::HoldTerms {
                timeout,
                approvers,
                quorum,
            }) => {
                let mut detail = format!("timeout={}  ", policy::display_timeout(*timeout));
                if !approvers.is_empty() {
                    detail.push_str(&format!("approvers={}  ", approvers.join(",")));
                }
                if *quorum > 1 {
                    detail.push_str(&format!("quorum={quorum}  "));
                }
                detail
            }
            Action::Deny { message } => format!("message={message:?}  "),
        };
        writeln!(
            out,
            "{:<5}  {:<11}  rule={:<rule_width$}  {detail}reason={}  tables={}  sql={}",
            action.decision(),
            check.classified.class.as_str(),
            check.verdict.rule,
            or_dash(check.classified.reason.clone()),
            or_dash(check.qualified(&check.classified.tables).join(",")),
            one_line(check.sql, SQL_WIDTH),
        )?;
    }
    Ok(())
}

fn or_dash(text: String) -> String {
    if text.is_empty() {
        "-".into()
    } else {
        text
    }
}

/// Whitespace runs collapsed to one space, cut to `width` characters with `…`.
fn one_line(sql: &str, width: usize) -> String {
    let line = sql.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.chars().count() <= width {
        return line;
    }
    let mut cut: String = line.chars().take(width - 1).collect();
    cut.push('…');
    cut
}

/// One line of JSON output.
#[derive(Serialize)]
struct JsonCheck<'a> {
    class: Class,
    decision: &'static str,
    rule: &'a str,
    reason: &'a str,
    statements: Vec<JsonStatement<'a>>,
    tables: Vec<String>,
    sql: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    timeout_secs: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<&'a str>,
}

#[derive(Serialize)]
struct JsonStatement<'a> {
    class: Class,
    kind: &'a str,
    tables: Vec<String>,
    reason: &'a str,
}

fn write_json(check: &Check<'_>, out: &mut dyn Write) -> io::Result<()> {
    let action = &check.verdict.action;
    let line = JsonCheck {
        class: check.classified.class,
        decision: action.decision(),
        rule: &check.verdict.rule,
        reason: &check.classified.reason,
        statements: check
            .classified
            .statements
            .iter()
            .map(|s| JsonStatement {
                class: s.class,
                kind: &s.kind,
                tables: check.qualified(&s.tables),
                reason: &s.reason,
            })
            .collect(),
        tables: check.qualified(&check.classified.tables),
        sql: check.sql,
        timeout_secs: match action {
            Action::Hold(terms) => Some(terms.timeout.as_secs()),
            _ => None,
        },
        message: match action {
            Action::Deny { message } => Some(message),
            _ => None,
        },
    };
    serde_json::to_writer(&mut *out, &line)?;
    writeln!(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::{Effect, StatementClass};

    const RULES: &str = r#"
[[rule]]
name = "reads pass"
class = ["read"]
action = "allow"

[[rule]]
name = "no drops"
class = ["ddl"]
tables = ["public.orders"]
action = "deny"
message = "orders stay"

[[rule]]
name = "writes need two"
class = ["write"]
action = "hold"
timeout = "15m"
approvers = ["dba"]
quorum = 2
"#;

    fn opts(dialect: Dialect, format: CheckFormat) -> CheckOptions {
        CheckOptions {
            dialect,
            rules: Rules::from_files(vec![("team.toml".into(), RULES.into())]).unwrap(),
            agent: "agent-7".into(),
            groups: Vec::new(),
            database: "shop".into(),
            format,
            at: DateTime::parse_from_rfc3339("2024-05-06T12:00:00Z")
                .unwrap()
                .with_timezone(&Utc),
        }
    }

    fn statement(class: Class, kind: &str, tables: &[&str], reason: &str) -> StatementClass {
        StatementClass {
            class,
            kind: kind.into(),
            tables: tables.iter().map(|t| t.to_string()).collect(),
            reason: reason.into(),
            effect: Effect::None,
        }
    }

    fn classified(statements: Vec<StatementClass>) -> Classified {
        let top = statements.iter().max_by_key(|s| s.class).unwrap();
        let mut tables: Vec<String> = Vec::new();
        for t in statements.iter().flat_map(|s| &s.tables) {
            if !tables.contains(t) {
                tables.push(t.clone());
            }
        }
        Classified {
            class: top.class,
            reason: top.reason.clone(),
            tables,
            statements,
        }
    }

    fn text(opts: &CheckOptions, inputs: &[(&'static str, Classified)]) -> String {
        let checks: Vec<Check<'_>> = inputs
            .iter()
            .map(|(sql, c)| Check::new(opts, sql, c.clone()))
            .collect();
        let mut out = Vec::new();
        write_text(&checks, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn json(opts: &CheckOptions, sql: &'static str, c: Classified) -> serde_json::Value {
        let mut out = Vec::new();
        write_json(&Check::new(opts, sql, c), &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.ends_with('\n') && text.matches('\n').count() == 1,
            "{text}"
        );
        serde_json::from_str(&text).unwrap()
    }

    fn inputs() -> Vec<(&'static str, Classified)> {
        vec![
            (
                "SELECT *\n  FROM orders",
                classified(vec![statement(
                    Class::Read,
                    "SELECT",
                    &["orders"],
                    "SELECT",
                )]),
            ),
            (
                "DROP TABLE orders",
                classified(vec![statement(
                    Class::Ddl,
                    "DROP TABLE",
                    &["orders"],
                    "DROP TABLE",
                )]),
            ),
            (
                "BEGIN; UPDATE s.t SET x = 1",
                classified(vec![
                    statement(Class::Transaction, "BEGIN", &[], "BEGIN"),
                    statement(Class::Write, "UPDATE", &["s.t"], "UPDATE"),
                ]),
            ),
            (
                "VACUUM",
                classified(vec![statement(Class::Admin, "VACUUM", &[], "VACUUM")]),
            ),
        ]
    }

    #[test]
    fn text_lines_are_aligned_and_complete() {
        let out = text(&opts(Dialect::Postgres, CheckFormat::Text), &inputs());
        let expected = [
            "allow  read         rule=team.toml:reads pass       reason=SELECT  tables=public.orders  sql=SELECT * FROM orders",
            "deny   ddl          rule=team.toml:no drops         message=\"orders stay\"  reason=DROP TABLE  tables=public.orders  sql=DROP TABLE orders",
            "hold   write        rule=team.toml:writes need two  timeout=15m  approvers=dba  quorum=2  reason=UPDATE  tables=s.t  sql=BEGIN; UPDATE s.t SET x = 1",
            "hold   admin        rule=(no rule matched)          timeout=5m  reason=VACUUM  tables=-  sql=VACUUM",
        ];
        assert_eq!(out.lines().collect::<Vec<_>>(), expected);
    }

    #[test]
    fn text_truncates_long_sql_to_one_line() {
        let sql = "SELECT\n\tcol_a,\n\tcol_b\nFROM orders WHERE id IN (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16)";
        let c = classified(vec![statement(Class::Read, "SELECT", &[], "")]);
        let out = text(&opts(Dialect::Postgres, CheckFormat::Text), &[(sql, c)]);
        assert_eq!(out.lines().count(), 1);
        let shown = out.split("sql=").nth(1).unwrap().trim_end();
        assert_eq!(shown.chars().count(), SQL_WIDTH);
        assert!(shown.starts_with("SELECT col_a, col_b FROM orders WHERE"));
        assert!(shown.ends_with('…'));
        assert!(out.contains("reason=-  tables=-"));
    }

    #[test]
    fn mysql_tables_live_in_the_database() {
        let c = classified(vec![statement(
            Class::Ddl,
            "DROP TABLE",
            &["orders"],
            "DROP TABLE",
        )]);
        let out = text(
            &opts(Dialect::Mysql, CheckFormat::Text),
            &[("DROP TABLE orders", c)],
        );
        // shop.orders is not public.orders: the deny rule does not match.
        assert!(
            out.starts_with("hold   ddl          rule=(no rule matched)"),
            "{out}"
        );
        assert!(out.contains("tables=shop.orders"), "{out}");
    }

    #[test]
    fn json_has_exactly_the_documented_keys() {
        let opts = opts(Dialect::Postgres, CheckFormat::Json);
        let keys = |v: &serde_json::Value| {
            let mut keys: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
            keys.sort();
            keys
        };
        let base = [
            "class",
            "decision",
            "reason",
            "rule",
            "sql",
            "statements",
            "tables",
        ];
        let with = |extra: &str| {
            let mut keys: Vec<String> = base.iter().map(|k| k.to_string()).collect();
            if !extra.is_empty() {
                keys.push(extra.into());
            }
            keys.sort();
            keys
        };
        let [read, ddl, write, _] = inputs().try_into().unwrap();
        assert_eq!(keys(&json(&opts, read.0, read.1)), with(""));
        assert_eq!(keys(&json(&opts, ddl.0, ddl.1)), with("message"));
        assert_eq!(keys(&json(&opts, write.0, write.1)), with("timeout_secs"));
    }

    #[test]
    fn json_values() {
        let opts = opts(Dialect::Postgres, CheckFormat::Json);
        let [read, ddl, write, _] = inputs().try_into().unwrap();
        assert_eq!(
            json(&opts, read.0, read.1),
            serde_json::json!({
                "class": "read", "decision": "allow", "rule": "team.toml:reads pass",
                "reason": "SELECT",
                "statements": [{"class": "read", "kind": "SELECT", "tables": ["public.orders"], "reason": "SELECT"}],
                "tables": ["public.orders"], "sql": "SELECT *\n  FROM orders",
            })
        );
        let ddl = json(&opts, ddl.0, ddl.1);
        assert_eq!(ddl["decision"], "deny");
        assert_eq!(ddl["message"], "orders stay");
        let write = json(&opts, write.0, write.1);
        assert_eq!(write["class"], "write");
        assert_eq!(write["decision"], "hold");
        assert_eq!(write["timeout_secs"], 900);
        assert_eq!(write["statements"][0]["class"], "transaction");
        assert_eq!(write["statements"][1]["tables"], serde_json::json!(["s.t"]));
    }

    #[test]
    fn run_writes_one_line_per_input() {
        // A catch-all rule decides whatever the classifier says.
        let mut opts = opts(Dialect::Postgres, CheckFormat::Json);
        let deny_all = "[[rule]]\nname = \"nothing\"\naction = \"deny\"\nmessage = \"closed\"\n";
        opts.rules = Rules::from_files(vec![("all.toml".into(), deny_all.into())]).unwrap();
        let inputs = vec!["SELECT 1".to_string(), "DROP TABLE t".to_string()];
        let mut out = Vec::new();
        run(&opts, &inputs, &mut out).unwrap();
        let out = String::from_utf8(out).unwrap();
        let lines: Vec<serde_json::Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[1]["sql"], "DROP TABLE t");
        assert!(lines
            .iter()
            .all(|l| l["decision"] == "deny" && l["rule"] == "all.toml:nothing"));

        opts.format = CheckFormat::Text;
        let mut out = Vec::new();
        run(&opts, &inputs, &mut out).unwrap();
        let out = String::from_utf8(out).unwrap();
        assert_eq!(out.lines().count(), 2);
        assert!(out
            .lines()
            .all(|l| l.starts_with("deny ") && l.contains("rule=all.toml:nothing")));
    }
}
