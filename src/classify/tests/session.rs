//! Session: ordinary settings, DISCARD, LISTEN/UNLISTEN, DEALLOCATE.

use super::{classes, effects};

classes! {
    set_search_path: "SET search_path TO public, reporting" => Session, "SET";
    set_search_path_user: "SET search_path = \"$user\", public" => Session;
    set_search_path_default: "SET search_path TO DEFAULT" => Session;
    set_statement_timeout: "SET statement_timeout = '5s'" => Session;
    set_statement_timeout_number: "SET statement_timeout TO 5000" => Session;
    set_local_lock_timeout: "SET LOCAL lock_timeout = '1s'" => Session;
    set_idle_timeout: "SET idle_in_transaction_session_timeout = 60000" => Session;
    set_timezone: "SET timezone = 'UTC'" => Session;
    set_timezone_mixed_case: "SET TimeZone TO 'Europe/Berlin'" => Session;
    set_session_timezone: "SET SESSION timezone = 'UTC'" => Session;
    set_time_zone: "SET TIME ZONE 'UTC'" => Session;
    set_time_zone_local: "SET TIME ZONE LOCAL" => Session;
    set_application_name: "SET application_name = 'PostgreSQL JDBC Driver'" => Session;
    set_extra_float_digits: "SET extra_float_digits = 3" => Session;
    set_datestyle: "SET datestyle TO ISO, MDY" => Session;
    set_datestyle_mixed: "SET DateStyle = 'ISO'" => Session;
    set_intervalstyle: "SET intervalstyle = 'iso_8601'" => Session;
    set_work_mem: "SET work_mem = '256MB'" => Session;
    set_client_min_messages: "SET client_min_messages TO WARNING" => Session;
    set_client_encoding_utf8: "SET client_encoding TO 'UTF8'" => Session;
    set_client_encoding_utf8_dash: "SET client_encoding = 'utf-8'" => Session;
    set_names_utf8: "SET NAMES 'UTF8'" => Session;
    set_bytea_output: "SET bytea_output = 'hex'" => Session;
    set_enable_seqscan: "SET enable_seqscan = off" => Session;
    set_random_page_cost: "SET random_page_cost = 1.1" => Session;
    set_jit: "SET jit = off" => Session;
    set_default_isolation: "SET default_transaction_isolation = 'serializable'" => Session;
    set_session_characteristics_isolation: "SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL READ COMMITTED" => Session;
    reset_search_path: "RESET search_path" => Session, "RESET";
    reset_statement_timeout: "RESET statement_timeout" => Session;
    discard_plans: "DISCARD PLANS" => Session, "DISCARD";
    discard_sequences: "DISCARD SEQUENCES" => Session;
    discard_temp: "DISCARD TEMP" => Session;
    listen: "LISTEN jobs" => Session, "LISTEN";
    unlisten: "UNLISTEN jobs" => Session, "UNLISTEN";
    unlisten_all: "UNLISTEN *" => Session;
    reset_all: "RESET ALL" => Session, "RESET";
    discard_all: "DISCARD ALL" => Session, "DISCARD";
    asyncpg_pool_reset: "SELECT pg_advisory_unlock_all();\nCLOSE ALL;\nUNLISTEN *;\nRESET ALL;" => Session;
    discard_all_then_role: "DISCARD ALL; SET ROLE admin" => Privilege;
    set_client_encoding_sjis: "SET client_encoding = 'SJIS'" => Unknown;
    set_names_latin1: "SET NAMES 'LATIN1'" => Unknown;
}

effects! {
    deallocate_name: "DEALLOCATE stmt1" => Session, Deallocate(Some("stmt1".into()));
    deallocate_prepare_name: "DEALLOCATE PREPARE stmt1" => Session, Deallocate(Some("stmt1".into()));
    deallocate_folds_case: "DEALLOCATE Stmt1" => Session, Deallocate(Some("stmt1".into()));
    deallocate_quoted_keeps_case: "DEALLOCATE \"Stmt1\"" => Session, Deallocate(Some("Stmt1".into()));
    deallocate_all: "DEALLOCATE ALL" => Session, Deallocate(None);
    deallocate_prepare_all: "DEALLOCATE PREPARE ALL" => Session, Deallocate(None);
    discard_all_deallocates: "DISCARD ALL" => Session, Deallocate(None);
    set_has_no_effect: "SET search_path TO public" => Session, Effect::None;
}
