//! Loading: rule files read, parsed into their raw shape, and validated into [`Rule`]s,
//! every error naming the file and line at fault.

use std::collections::HashMap;
use std::ops::Range;
use std::path::Path;
use std::time::Duration;

use toml::Spanned;

use super::glob::Glob;
use super::raw::{RawFile, RawRule, RawWhen};
use super::rule::{Rule, Who};
use super::table::TablePattern;
use super::window::{self, Hours, Window};
use super::{timeout, Action, PolicyError, DEFAULT_HOLD_TIMEOUT};
use crate::classify::Class;

type Strings = Option<Spanned<Vec<Spanned<String>>>>;

/// Reads the `*.toml` files directly inside `dir` (not below it; dot-files skipped).
pub(crate) fn read_dir(dir: &Path) -> Result<Vec<(String, String)>, PolicyError> {
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |source| PolicyError::Io { path, source }
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let path = entry.map_err(io(dir))?.path();
        let Some(name) = path.file_name().map(|n| n.to_string_lossy().into_owned()) else {
            continue;
        };
        let is_rule_file =
            path.extension().is_some_and(|ext| ext == "toml") && !name.starts_with('.');
        if is_rule_file && path.is_file() {
            let text = std::fs::read_to_string(&path).map_err(io(&path))?;
            files.push((name, text));
        }
    }
    Ok(files)
}

/// Parses and validates files already sorted in load order; rule names must be unique.
pub(crate) fn rules(files: &[(String, String)]) -> Result<Vec<Rule>, PolicyError> {
    let mut rules = Vec::new();
    let mut first_seen: HashMap<String, String> = HashMap::new();
    for (file, text) in files {
        let source = Source { file, text };
        let raw: RawFile = toml::from_str(text)
            .map_err(|e| source.invalid(e.span().unwrap_or(0..0), e.message().to_string()))?;
        for raw_rule in raw.rule {
            let name = raw_rule.get_ref().name.clone();
            let rule = source.rule(raw_rule)?;
            let here = format!("{file}:{}", source.line(name.span()));
            if let Some(there) = first_seen.insert(name.get_ref().clone(), here) {
                return Err(source.invalid(
                    name.span(),
                    format!(
                        "duplicate rule name `{}`, first defined at {there}",
                        name.get_ref()
                    ),
                ));
            }
            rules.push(rule);
        }
    }
    Ok(rules)
}

/// One file being validated: turns a span into the line of an error.
struct Source<'a> {
    file: &'a str,
    text: &'a str,
}

impl Source<'_> {
    fn line(&self, span: Range<usize>) -> usize {
        let start = span.start.min(self.text.len());
        self.text[..start].matches('\n').count() + 1
    }

    fn invalid(&self, span: Range<usize>, message: String) -> PolicyError {
        PolicyError::Invalid {
            file: self.file.to_string(),
            line: self.line(span),
            message,
        }
    }

    fn rule(&self, raw: Spanned<RawRule>) -> Result<Rule, PolicyError> {
        let raw = raw.into_inner();
        let name = raw.name.get_ref();
        if name.trim().is_empty() {
            return Err(self.invalid(raw.name.span(), "rule name is empty".into()));
        }
        let action = self.action(&raw)?;
        let agents = self.list("agent", raw.agent, name_of("agent"))?;
        let groups = self.list("group", raw.group, name_of("group"))?;
        let who = (agents.is_some() || groups.is_some()).then(|| Who {
            agents: agents.unwrap_or_default(),
            groups: groups.unwrap_or_default(),
        });
        Ok(Rule {
            label: format!("{}:{name}", self.file).into(),
            classes: self.list("class", raw.class, class)?,
            who,
            databases: self.list("database", raw.database, |g| {
                Glob::parse(g).map_err(|_| "empty database pattern".to_string())
            })?,
            tables: self.list("tables", raw.tables, TablePattern::parse)?,
            window: raw.when.map(|when| self.window(when)).transpose()?,
            action,
        })
    }

    /// A list key: present lists must not be empty, and each entry must read.
    fn list<T>(
        &self,
        key: &str,
        raw: Strings,
        read: impl Fn(&str) -> Result<T, String>,
    ) -> Result<Option<Vec<T>>, PolicyError> {
        let Some(list) = raw else { return Ok(None) };
        if list.get_ref().is_empty() {
            let message = format!(
                "`{key}` is empty, so the rule could never match; leave it out to match everything"
            );
            return Err(self.invalid(list.span(), message));
        }
        list.into_inner()
            .into_iter()
            .map(|entry| {
                read(entry.get_ref()).map_err(|message| self.invalid(entry.span(), message))
            })
            .collect::<Result<_, _>>()
            .map(Some)
    }

    fn action(&self, raw: &RawRule) -> Result<Action, PolicyError> {
        let action = match raw.action.get_ref().as_str() {
            "hold" => self.hold(raw)?,
            "allow" => Action::Allow,
            "deny" => Action::Deny {
                message: match &raw.message {
                    Some(message) if message.get_ref().trim().is_empty() => {
                        return Err(self.invalid(message.span(), "`message` is empty".into()));
                    }
                    Some(message) => message.get_ref().clone(),
                    None => format!("denied by airlock rule \"{}\"", raw.name.get_ref()),
                },
            },
            other => {
                let message = format!("unknown action `{other}`; expected allow, hold or deny");
                return Err(self.invalid(raw.action.span(), message));
            }
        };
        let misplaced = |key: &str, span: Option<Range<usize>>, only: &str| match span {
            Some(span) => Err(self.invalid(span, format!("`{key}` applies only to {only} rules"))),
            None => Ok(()),
        };
        if !matches!(action, Action::Hold(_)) {
            misplaced("timeout", raw.timeout.as_ref().map(Spanned::span), "hold")?;
            misplaced(
                "approvers",
                raw.approvers.as_ref().map(Spanned::span),
                "hold",
            )?;
            misplaced("quorum", raw.quorum.as_ref().map(Spanned::span), "hold")?;
        }
        if !matches!(action, Action::Deny { .. }) {
            misplaced("message", raw.message.as_ref().map(Spanned::span), "deny")?;
        }
        Ok(action)
    }

    fn hold(&self, raw: &RawRule) -> Result<Action, PolicyError> {
        let timeout: Duration = match &raw.timeout {
            Some(text) => {
                timeout::parse(text.get_ref()).map_err(|m| self.invalid(text.span(), m))?
            }
            None => DEFAULT_HOLD_TIMEOUT,
        };
        let approvers = self.list(
            "approvers",
            raw.approvers.clone(),
            name_of("approver group"),
        )?;
        let quorum = match &raw.quorum {
            Some(quorum) => u32::try_from(*quorum.get_ref())
                .ok()
                .filter(|&q| q >= 1)
                .ok_or_else(|| {
                    self.invalid(
                        quorum.span(),
                        format!("quorum {} must be at least 1", quorum.get_ref()),
                    )
                })?,
            None => 1,
        };
        Ok(Action::Hold(super::HoldTerms {
            timeout,
            approvers: approvers.unwrap_or_default(),
            quorum,
        }))
    }

    fn window(&self, when: Spanned<RawWhen>) -> Result<Window, PolicyError> {
        let span = when.span();
        let when = when.into_inner();
        if when.hours.is_none() && when.weekdays.is_none() {
            return Err(self.invalid(span, "`when` needs `hours`, `weekdays` or both".into()));
        }
        let hours = match when.hours {
            Some(hours) => {
                Some(Hours::parse(hours.get_ref()).map_err(|m| self.invalid(hours.span(), m))?)
            }
            None => None,
        };
        let timezone = match when.timezone {
            Some(tz) => window::timezone(tz.get_ref()).map_err(|m| self.invalid(tz.span(), m))?,
            None => chrono_tz::UTC,
        };
        let weekdays = self.list("weekdays", when.weekdays, window::weekday)?;
        Ok(Window::new(hours, weekdays, timezone))
    }
}

fn class(name: &str) -> Result<Class, String> {
    Class::parse(name).ok_or_else(|| {
        let known: Vec<&str> = Class::ALL.iter().map(|c| c.as_str()).collect();
        format!(
            "unknown class `{name}`; expected one of {}",
            known.join(", ")
        )
    })
}

/// Reads an agent, group or approver name: any non-blank string.
fn name_of(what: &'static str) -> impl Fn(&str) -> Result<String, String> {
    move |name| {
        if name.trim().is_empty() {
            Err(format!("empty {what} name"))
        } else {
            Ok(name.to_string())
        }
    }
}
