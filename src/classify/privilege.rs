//! Access control: GRANT, REVOKE, and CREATE / ALTER of roles and users are all
//! `privilege`. DROP ROLE is in [`super::drop`]; SET ROLE in [`super::session`].
//! Tables named in a GRANT or REVOKE are reported.

use sqlparser::ast::{GrantObjects, Statement};

use super::walk::Walk;
use super::{Class, Dialect, StatementClass};

pub(super) fn classify(statement: &Statement, dialect: Dialect) -> Option<StatementClass> {
    let (kind, objects) = match statement {
        Statement::Grant(grant) => ("GRANT", grant.objects.as_ref()),
        Statement::Revoke(revoke) => ("REVOKE", revoke.objects.as_ref()),
        Statement::CreateRole(_) => ("CREATE ROLE", None),
        Statement::CreateUser(_) => ("CREATE USER", None),
        Statement::AlterRole { .. } => ("ALTER ROLE", None),
        Statement::AlterUser(_) => ("ALTER USER", None),
        _ => return None,
    };
    let walk = match objects {
        Some(GrantObjects::Tables(tables)) | Some(GrantObjects::Views(tables)) => tables
            .iter()
            .fold(Walk::new(dialect), |walk, table| walk.table(table)),
        _ => Walk::new(dialect),
    };
    Some(StatementClass::new(Class::Privilege, kind, kind).absorb(walk))
}
