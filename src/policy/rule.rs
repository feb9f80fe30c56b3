//! Rule: one validated `[[rule]]`, the criteria a statement must meet and the action it takes.

use super::glob::{Case, Glob};
use super::table::{TableName, TablePattern};
use super::window::Window;
use super::{Action, Request};
use crate::classify::Class;

/// A rule that passed validation. An absent criterion (`None`) matches every request.
#[derive(Debug, Clone)]
pub(crate) struct Rule {
    /// `file.toml:name`, reported in every [`super::Verdict`] this rule makes.
    pub(crate) label: crate::audit::Text,
    pub(crate) classes: Option<Vec<Class>>,
    pub(crate) who: Option<Who>,
    pub(crate) databases: Option<Vec<Glob>>,
    pub(crate) tables: Option<Vec<TablePattern>>,
    pub(crate) window: Option<Window>,
    pub(crate) action: Action,
}

/// The `agent` and `group` keys: a request from any listed agent, or from an agent
/// in any listed group, matches. At least one list is non-empty.
#[derive(Debug, Clone)]
pub(crate) struct Who {
    pub(crate) agents: Vec<String>,
    pub(crate) groups: Vec<String>,
}

impl Rule {
    pub(crate) fn matches(&self, req: &Request<'_>) -> bool {
        self.classes
            .as_ref()
            .is_none_or(|classes| classes.contains(&req.class))
            && self.who.as_ref().is_none_or(|who| who.matches(req))
            && self
                .databases
                .as_ref()
                .is_none_or(|globs| globs.iter().any(|g| g.matches(req.database, Case::Exact)))
            && self
                .tables
                .as_ref()
                .is_none_or(|patterns| self.tables_match(patterns, req))
            && self
                .window
                .as_ref()
                .is_none_or(|window| window.contains(req.at))
    }

    /// Fail closed both ways. An allow rule needs EVERY table of the statement to
    /// match a pattern exactly (and a statement naming no table does not match), so
    /// naming one harmless table never lets another through. A hold or deny rule
    /// needs ANY table to match, ignoring case, and a table name that cannot be read
    /// counts as a match.
    fn tables_match(&self, patterns: &[TablePattern], req: &Request<'_>) -> bool {
        let mut names = req
            .tables
            .iter()
            .map(|t| TableName::read(t, req.default_schema));
        match self.action {
            Action::Allow => {
                !req.tables.is_empty()
                    && names.all(|name| {
                        name.is_some_and(|name| {
                            patterns.iter().any(|p| p.matches(&name, Case::Exact))
                        })
                    })
            }
            Action::Hold(_) | Action::Deny { .. } => names.any(|name| {
                name.is_none_or(|name| patterns.iter().any(|p| p.matches(&name, Case::Ignored)))
            }),
        }
    }
}

impl Who {
    fn matches(&self, req: &Request<'_>) -> bool {
        self.agents.iter().any(|a| a == req.agent)
            || self.groups.iter().any(|g| req.groups.contains(g))
    }
}
