//! airlock: a database wire-protocol proxy that holds writes, DDL, grants and
//! anything it cannot understand until a human approves them.
//!
//! The modules follow the path of one statement (see README.md, architecture):
//! `config` → `classify` → `policy` → `approvals` → `credentials` → `pg` → `audit` → `store`.

pub mod approvals;
pub mod audit;
pub mod check;
pub mod classify;
pub mod config;
pub mod credentials;
pub mod listener;
pub mod mysql;
pub mod pg;
pub mod policy;
pub mod state;
pub mod store;
pub mod web;
