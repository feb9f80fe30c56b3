//! Integration tests: airlock between real clients and the real PostgreSQL on
//! this machine (127.0.0.1:5432, database `test`), the real MariaDB
//! (127.0.0.1:3306, database `test`), and the approvals page in
//! headless Chromium. One binary, one module per concern.

mod audit_download;
mod audit_kill;
mod audit_kill_mysql;
mod aws_chain;
mod aws_standins;
mod browser;
mod cluster;
mod drivers;
mod harness;
mod iam;
mod mysql;
mod mysql_iam;
mod per_core;
mod pg_auth;
mod pg_bypass;
mod pg_holds;
mod pg_malformed;
mod pg_pool;
mod pg_protocol;
mod pg_readwrite;
mod pg_tools;
mod pg_upstream_auth;
mod pg_writer;
mod pg_writer_tools;
mod raw;
mod shared_store;
