//! Tests of the PostgreSQL classifier, one file per statement family.
//!
//! Each case is its own `#[test]`, written as a table row through the macros
//! below: the class (and kind, tables or effect where given) must match exactly.

use super::{classify, Class, Classified, Dialect, Effect};

mod admin;
mod copy;
mod cursors;
mod ddl;
mod evasion;
mod garbage;
mod hidden_writes;
mod multi;
mod mysql;
mod prepared;
mod privilege;
mod reads;
mod realistic;
mod session;
mod shapes;
mod tables;
mod transaction;
mod unknown;
mod writes;

pub(super) fn pg(sql: &str) -> Classified {
    classify(Dialect::Postgres, sql)
}

#[track_caller]
pub(super) fn assert_class(sql: &str, class: Class) {
    let got = pg(sql);
    assert_eq!(got.class, class, "class of {sql:?}\n{got:#?}");
}

#[track_caller]
pub(super) fn assert_kind(sql: &str, class: Class, kind: &str) {
    let got = pg(sql);
    assert_eq!(got.class, class, "class of {sql:?}\n{got:#?}");
    assert_eq!(
        got.statements.len(),
        1,
        "one statement in {sql:?}\n{got:#?}"
    );
    assert_eq!(got.statements[0].kind, kind, "kind of {sql:?}\n{got:#?}");
}

#[track_caller]
pub(super) fn assert_tables(sql: &str, tables: &[&str]) {
    let got = pg(sql);
    assert_eq!(got.tables, tables, "tables of {sql:?}\n{got:#?}");
}

#[track_caller]
pub(super) fn assert_effect(sql: &str, class: Class, effect: Effect) {
    let got = pg(sql);
    assert_eq!(got.class, class, "class of {sql:?}\n{got:#?}");
    assert_eq!(
        got.statements.len(),
        1,
        "one statement in {sql:?}\n{got:#?}"
    );
    assert_eq!(
        got.statements[0].effect, effect,
        "effect of {sql:?}\n{got:#?}"
    );
}

/// `name: "sql" => Class;` or `name: "sql" => Class, "KIND";`, one test each.
macro_rules! classes {
    ($($name:ident: $sql:expr => $class:ident $(, $kind:literal)?;)*) => {
        $(
            #[test]
            fn $name() {
                classes!(@check $sql, $class $(, $kind)?);
            }
        )*
    };
    (@check $sql:expr, $class:ident) => {
        $crate::classify::tests::assert_class($sql, $crate::classify::Class::$class)
    };
    (@check $sql:expr, $class:ident, $kind:literal) => {
        $crate::classify::tests::assert_kind($sql, $crate::classify::Class::$class, $kind)
    };
}

/// `name: "sql" => ["table", ...];`, one test each.
macro_rules! table_cases {
    ($($name:ident: $sql:expr => [$($table:literal),* $(,)?];)*) => {
        $(
            #[test]
            fn $name() {
                $crate::classify::tests::assert_tables($sql, &[$($table),*]);
            }
        )*
    };
}

/// `name: "sql" => Class, Effect;`, one test each.
macro_rules! effects {
    ($($name:ident: $sql:expr => $class:ident, $effect:expr;)*) => {
        $(
            #[test]
            fn $name() {
                #[allow(unused_imports)]
                use $crate::classify::Effect::{
                    self, Begin, Deallocate, EndTransaction, Execute, Prepare,
                };
                $crate::classify::tests::assert_effect(
                    $sql,
                    $crate::classify::Class::$class,
                    $effect,
                );
            }
        )*
    };
}

pub(super) use {classes, effects, table_cases};
