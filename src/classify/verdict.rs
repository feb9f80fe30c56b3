//! Verdict: building one statement's [`StatementClass`] from its parts.

use super::walk::Walk;
use super::{Class, Effect, StatementClass};

impl StatementClass {
    /// A statement of `class`, family `kind`, for `reason`; no tables, no effect.
    pub(super) fn new(class: Class, kind: &str, reason: impl Into<String>) -> StatementClass {
        StatementClass {
            class,
            kind: kind.to_owned(),
            tables: Vec::new(),
            reason: reason.into(),
            effect: Effect::None,
        }
    }

    /// Fail closed: a statement we do not understand with certainty.
    pub(super) fn unknown(kind: &str, reason: impl Into<String>) -> StatementClass {
        StatementClass::new(Class::Unknown, kind, reason)
    }

    pub(super) fn with_effect(mut self, effect: Effect) -> StatementClass {
        self.effect = effect;
        self
    }

    /// Raises the class to `class` (with its reason) if that is stricter.
    pub(super) fn at_least(mut self, class: Class, reason: impl Into<String>) -> StatementClass {
        if class > self.class {
            self.class = class;
            self.reason = reason.into();
        }
        self
    }

    /// `KIND` or `KIND: reason`, to quote this verdict inside another's reason.
    pub(super) fn describe(&self) -> String {
        if self.reason == self.kind {
            self.kind.clone()
        } else {
            format!("{}: {}", self.kind, self.reason)
        }
    }

    /// Takes the tables a walk found and whatever its hidden effects demand.
    pub(super) fn absorb(mut self, walk: Walk) -> StatementClass {
        let (tables, hidden) = walk.finish();
        self.tables = tables;
        match hidden {
            Some(hidden) => self.at_least(hidden.class, hidden.reason),
            None => self,
        }
    }

    /// Takes only the tables of a walk: its effects do not run (e.g. plain EXPLAIN).
    pub(super) fn absorb_tables(mut self, walk: Walk) -> StatementClass {
        self.tables = walk.finish().0;
        self
    }
}
