//! EXPLAIN: a plan is a read; `EXPLAIN ANALYZE` runs the statement, so it takes
//! the statement's class.
//!
//! `ANALYZE` counts as on when written as a keyword or as an option without a
//! value or with any value other than a clear false (`false`, `off`, `0`, `no`).
//! `EXPLAIN ANALYZE EXECUTE p` carries [`Effect::Execute`] so the session can
//! substitute `p`'s class, exactly as for a bare EXECUTE.

use sqlparser::ast::{DescribeAlias, Expr, Statement, UtilityOption, Value};

use super::walk::Walk;
use super::{statement, Class, Dialect, Effect, StatementClass};

pub(super) fn classify(statement: &Statement, dialect: Dialect) -> Option<StatementClass> {
    let Statement::Explain {
        describe_alias,
        analyze,
        query_plan,
        estimate,
        statement: inner,
        options,
        ..
    } = statement
    else {
        return None;
    };
    if *describe_alias != DescribeAlias::Explain || *query_plan || *estimate {
        return Some(StatementClass::unknown(
            "EXPLAIN",
            "EXPLAIN form not understood",
        ));
    }
    let runs = *analyze || options.iter().flatten().any(is_analyze_on);
    Some(if runs {
        analyzed(inner, dialect)
    } else {
        plan_only(inner, dialect)
    })
}

fn plan_only(inner: &Statement, dialect: Dialect) -> StatementClass {
    let verdict = StatementClass::new(Class::Read, "EXPLAIN", "EXPLAIN (plan only, nothing runs)");
    match inner {
        // PostgreSQL evaluates EXECUTE's parameters to plan with them, even
        // without ANALYZE: their calls run.
        Statement::Execute { parameters, .. } => {
            verdict.absorb(Walk::new(dialect).node(parameters))
        }
        _ => verdict.absorb_tables(Walk::new(dialect).statement(inner)),
    }
}

fn analyzed(inner: &Statement, dialect: Dialect) -> StatementClass {
    let inner = statement::classify(inner, dialect);
    let reason = format!("EXPLAIN ANALYZE runs {}", inner.describe());
    let effect = match inner.effect {
        Effect::Execute(name) => Effect::Execute(name),
        _ => Effect::None,
    };
    StatementClass {
        kind: "EXPLAIN ANALYZE".to_owned(),
        reason,
        effect,
        ..inner
    }
}

fn is_analyze_on(option: &UtilityOption) -> bool {
    let name = &option.name.value;
    if !(name.eq_ignore_ascii_case("ANALYZE") || name.eq_ignore_ascii_case("ANALYSE")) {
        return false;
    }
    let off = |word: &str| {
        ["false", "off", "0", "no"]
            .iter()
            .any(|f| f.eq_ignore_ascii_case(word))
    };
    match &option.arg {
        None => true,
        Some(Expr::Value(v)) => match &v.value {
            Value::Boolean(on) => *on,
            Value::Number(n, _) => !off(n),
            Value::SingleQuotedString(s) => !off(s),
            _ => true,
        },
        Some(Expr::Identifier(id)) => !off(&id.value),
        Some(_) => true,
    }
}
