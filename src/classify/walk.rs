//! Walk: one pass over a statement's syntax tree that finds the tables it touches
//! and the effects hidden inside it.
//!
//! Hidden effects are what makes a statement stricter than its family says:
//! data-modifying statements in CTEs or subqueries, row-locking clauses,
//! `SELECT ... INTO`, `TABLE` inside a query, and calls of the functions in
//! [`super::functions`], at any depth.
//!
//! Tables: every relation named anywhere, except references to a CTE that is
//! in scope. CTE scope follows PostgreSQL: a CTE body sees the CTEs before it
//! (all of them under `WITH RECURSIVE`), the main query sees all of them, and
//! nothing outside the `WITH` sees them. So `WITH secrets AS (SELECT * FROM
//! secrets) ...` still reports the real table `secrets`.

use std::ops::ControlFlow;

use sqlparser::ast::{
    AccessExpr, BinaryOperator, Expr, FromTable, Function, ObjectName, Query, Select, SetExpr,
    Statement, TableFactor, TableObject, Visit, Visitor,
};

use super::functions::rule_for;
use super::{names, session};
use super::{Class, Dialect};

/// The strictest hidden effect found, with its reason.
#[derive(Debug)]
pub(super) struct Hidden {
    pub class: Class,
    pub reason: String,
}

/// The CTEs one query defines, and how many of them are visible right now.
struct Scope {
    query: *const Query,
    names: Vec<String>,
    bodies: Vec<*const Query>,
    visible: usize,
    recursive: bool,
}

/// Walk state. Pointers are compared, never dereferenced: they identify nodes of
/// the tree being walked (CTE bodies, names of table functions).
pub(super) struct Walk {
    dialect: Dialect,
    tables: Vec<String>,
    hidden: Option<Hidden>,
    scopes: Vec<Scope>,
    function_names: Vec<*const ObjectName>,
    dml_targets: Vec<*const ObjectName>,
    statement_depth: usize,
    cte_depth: usize,
}

impl Walk {
    /// A walk naming tables by `dialect`'s rules.
    pub(super) fn new(dialect: Dialect) -> Walk {
        Walk {
            dialect,
            tables: Vec::new(),
            hidden: None,
            scopes: Vec::new(),
            function_names: Vec::new(),
            dml_targets: Vec::new(),
            statement_depth: 0,
            cte_depth: 0,
        }
    }

    /// Walks a whole statement.
    pub(super) fn statement(mut self, statement: &Statement) -> Walk {
        let _ = statement.visit(&mut self);
        self
    }

    /// Walks a query (e.g. the body of a cursor or of `COPY (query) TO`).
    pub(super) fn query(mut self, query: &Query) -> Walk {
        self.statement_depth = 1;
        let _ = query.visit(&mut self);
        self
    }

    /// Walks any other syntax node (e.g. the parameters of `EXECUTE`).
    pub(super) fn node<N: Visit>(mut self, node: &N) -> Walk {
        self.statement_depth = 1;
        let _ = node.visit(&mut self);
        self
    }

    /// Adds a table the statement names outside the walked tree (DROP, COPY, ...).
    pub(super) fn table(mut self, name: &ObjectName) -> Walk {
        self.add_table(names::table(name, self.dialect));
        self
    }

    pub(super) fn finish(self) -> (Vec<String>, Option<Hidden>) {
        (self.tables, self.hidden)
    }

    fn add_table(&mut self, table: String) {
        if !self.tables.contains(&table) {
            self.tables.push(table);
        }
    }

    fn found(&mut self, class: Class, reason: impl FnOnce() -> String) {
        if self.hidden.as_ref().is_none_or(|h| class > h.class) {
            self.hidden = Some(Hidden {
                class,
                reason: reason(),
            });
        }
    }

    fn call(&mut self, name: &ObjectName) {
        if let Some(called) = names::last_part(name) {
            self.called(called);
        }
    }

    /// A call in an expression: `set_config` with its setting named by a
    /// literal is classed as that `SET` would be.
    fn function(&mut self, function: &Function) {
        let Some(called) = names::last_part(&function.name) else {
            return;
        };
        if called.eq_ignore_ascii_case("set_config") {
            if let Some(set) = session::set_config(&function.args) {
                self.found(set.class, || set.reason);
                return;
            }
        }
        self.called(called);
    }

    /// A call of the function whose own (unqualified) name is `called`.
    fn called(&mut self, called: &str) {
        if let Some(rule) = rule_for(called) {
            let called = called.to_ascii_lowercase();
            self.found(rule.class, || format!("calls {called}(): {}", rule.why));
        }
    }

    fn is_cte(&self, name: &ObjectName) -> bool {
        if name.0.len() != 1 {
            return false;
        }
        let folded = names::table(name, self.dialect);
        self.scopes
            .iter()
            .any(|scope| scope.names[..scope.visible].contains(&folded))
    }

    /// Marks the scope whose CTE body `query` is, before (`entering`) or after it.
    fn cte_body(&mut self, query: &Query, entering: bool) {
        let query: *const Query = query;
        let Some(scope) = self.scopes.last_mut() else {
            return;
        };
        let Some(at) = scope.bodies.iter().position(|&body| body == query) else {
            return;
        };
        if entering {
            scope.visible = if scope.recursive {
                scope.names.len()
            } else {
                at
            };
            self.cte_depth += 1;
        } else {
            scope.visible = scope.names.len();
            self.cte_depth -= 1;
        }
    }

    fn enter_scope(&mut self, query: &Query) {
        let (names, bodies, recursive) = match &query.with {
            Some(with) => (
                with.cte_tables
                    .iter()
                    .map(|cte| names::table_part(&cte.alias.name, self.dialect))
                    .collect(),
                with.cte_tables
                    .iter()
                    .map(|cte| &*cte.query as *const Query)
                    .collect(),
                with.recursive,
            ),
            None => (Vec::new(), Vec::new(), false),
        };
        self.scopes.push(Scope {
            query,
            visible: if recursive { names.len() } else { 0 },
            names,
            bodies,
            recursive,
        });
    }

    fn query_effects(&mut self, query: &Query) {
        if let Some(lock) = query.locks.first() {
            let lock = lock.lock_type.to_string();
            self.found(Class::Write, || format!("row-locking clause FOR {lock}"));
        }
        if contains_table_command(&query.body) {
            self.found(Class::Unknown, || {
                "TABLE command inside a query is not understood".to_owned()
            });
        }
    }
}

fn contains_table_command(body: &SetExpr) -> bool {
    match body {
        SetExpr::Table(_) => true,
        SetExpr::SetOperation { left, right, .. } => {
            contains_table_command(left) || contains_table_command(right)
        }
        _ => false,
    }
}

impl Visitor for Walk {
    type Break = ();

    fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<()> {
        self.cte_body(query, true);
        self.enter_scope(query);
        self.query_effects(query);
        ControlFlow::Continue(())
    }

    fn post_visit_query(&mut self, query: &Query) -> ControlFlow<()> {
        let left = self.scopes.pop();
        debug_assert!(left.is_some_and(|s| std::ptr::eq(s.query, query)));
        self.cte_body(query, false);
        ControlFlow::Continue(())
    }

    fn pre_visit_select(&mut self, select: &Select) -> ControlFlow<()> {
        if let Some(into) = &select.into {
            if into.targets.iter().all(is_user_variable) {
                self.found(Class::Session, || "SELECT INTO user variables".to_owned());
                return ControlFlow::Continue(());
            }
            self.found(Class::Ddl, || "SELECT INTO creates a table".to_owned());
            for target in &into.targets {
                match target {
                    Expr::Identifier(id) => self.add_table(names::table_part(id, self.dialect)),
                    Expr::CompoundIdentifier(parts) => {
                        let name = ObjectName::from(parts.clone());
                        self.add_table(names::table(&name, self.dialect))
                    }
                    _ => {}
                }
            }
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_statement(&mut self, statement: &Statement) -> ControlFlow<()> {
        self.statement_depth += 1;
        self.dml_targets.extend(dml_targets(statement));
        if self.statement_depth > 1 {
            let kind = nested_kind(statement);
            let inside_cte = self.cte_depth > 0;
            self.found(Class::Write, || {
                if inside_cte {
                    format!("writable CTE ({kind})")
                } else {
                    format!("data-modifying {kind} inside a query")
                }
            });
        }
        ControlFlow::Continue(())
    }

    fn post_visit_statement(&mut self, _statement: &Statement) -> ControlFlow<()> {
        self.statement_depth -= 1;
        ControlFlow::Continue(())
    }

    fn pre_visit_table_factor(&mut self, factor: &TableFactor) -> ControlFlow<()> {
        match factor {
            TableFactor::Table {
                name,
                args: Some(_),
                ..
            } => {
                self.function_names.push(name);
                self.call(name);
            }
            TableFactor::Function { name, .. } => self.call(name),
            _ => {}
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_relation(&mut self, relation: &ObjectName) -> ControlFlow<()> {
        let relation_ptr: *const ObjectName = relation;
        let is_cte = !self.dml_targets.contains(&relation_ptr) && self.is_cte(relation);
        if self.dialect == Dialect::Postgres && names::starts_reserved(relation) {
            let name = names::table(relation, self.dialect);
            self.found(Class::Unknown, || {
                format!("table name {name} is a reserved word: statement misread")
            });
        }
        if !self.function_names.contains(&relation_ptr) && !is_cte {
            self.add_table(names::table(relation, self.dialect));
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<()> {
        match expr {
            Expr::Function(function) => self.function(function),
            Expr::BinaryOp {
                op: BinaryOperator::Assignment,
                ..
            } => self.found(Class::Session, || "assigns a user variable".to_owned()),
            // `x.f` may call `f(x)` in PostgreSQL (attribute notation).
            Expr::CompoundIdentifier(parts) if parts.len() > 1 => {
                if let Some(last) = parts.last() {
                    self.called(&last.value);
                }
            }
            Expr::CompoundFieldAccess { access_chain, .. } => {
                for access in access_chain {
                    if let AccessExpr::Dot(Expr::Identifier(field)) = access {
                        self.called(&field.value);
                    }
                }
            }
            _ => {}
        }
        ControlFlow::Continue(())
    }
}

/// The tables a data-modifying statement changes: never CTE references, since
/// PostgreSQL cannot write through a CTE.
fn dml_targets(statement: &Statement) -> Vec<*const ObjectName> {
    let factor_name = |factor: &TableFactor| match factor {
        TableFactor::Table { name, .. } => Some(name as *const ObjectName),
        _ => None,
    };
    match statement {
        Statement::Insert(insert) => match &insert.table {
            TableObject::TableName(name) => vec![name as *const ObjectName],
            _ => Vec::new(),
        },
        Statement::Update(update) => factor_name(&update.table.relation).into_iter().collect(),
        Statement::Delete(delete) => match &delete.from {
            FromTable::WithFromKeyword(tables) | FromTable::WithoutKeyword(tables) => tables
                .iter()
                .filter_map(|table| factor_name(&table.relation))
                .collect(),
        },
        Statement::Merge(merge) => factor_name(&merge.table).into_iter().collect(),
        _ => Vec::new(),
    }
}

/// A MySQL `@user` variable (PostgreSQL has none: there it never matches).
fn is_user_variable(target: &Expr) -> bool {
    matches!(target, Expr::Identifier(id) if id.value.starts_with('@'))
}

/// The family of a statement nested inside a query (`INSERT`, `DELETE`, ...).
fn nested_kind(statement: &Statement) -> &'static str {
    match statement {
        Statement::Insert(_) => "INSERT",
        Statement::Update(_) => "UPDATE",
        Statement::Delete(_) => "DELETE",
        Statement::Merge(_) => "MERGE",
        _ => "statement",
    }
}
