//! Transaction control and its effects on the session's block state.

use super::{classes, effects};

classes! {
    set_transaction_isolation: "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE" => Transaction, "SET TRANSACTION";
    set_transaction_read_only: "SET TRANSACTION READ ONLY" => Transaction;
    set_transaction_deferrable: "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE, READ ONLY, DEFERRABLE" => Transaction;
    set_transaction_snapshot: "SET TRANSACTION SNAPSHOT '00000003-0000001B-1'" => Transaction;
    begin_not_deferrable: "BEGIN ISOLATION LEVEL SERIALIZABLE, READ ONLY, NOT DEFERRABLE" => Transaction, "BEGIN";
    set_session_characteristics_deferrable: "SET SESSION CHARACTERISTICS AS TRANSACTION DEFERRABLE" => Session;
    begin_read_write_deferrable: "BEGIN READ WRITE, DEFERRABLE" => Privilege;
    set_constraints_all_deferred: "SET CONSTRAINTS ALL DEFERRED" => Transaction, "SET CONSTRAINTS";
    set_constraints_named: "SET CONSTRAINTS fk_a, s.fk_b IMMEDIATE" => Transaction;
    savepoint: "SAVEPOINT sp1" => Transaction, "SAVEPOINT";
    release_savepoint: "RELEASE SAVEPOINT sp1" => Transaction, "RELEASE SAVEPOINT";
    release_short: "RELEASE sp1" => Transaction;
    rollback_to_savepoint: "ROLLBACK TO SAVEPOINT sp1" => Transaction, "ROLLBACK TO SAVEPOINT";
    rollback_to_short: "ROLLBACK TO sp1" => Transaction;
}

effects! {
    begin: "BEGIN" => Transaction, Begin;
    begin_lowercase_semicolon: "begin;" => Transaction, Begin;
    begin_work: "BEGIN WORK" => Transaction, Begin;
    begin_transaction: "BEGIN TRANSACTION" => Transaction, Begin;
    begin_isolation: "BEGIN ISOLATION LEVEL REPEATABLE READ" => Transaction, Begin;
    begin_read_only: "BEGIN READ ONLY" => Transaction, Begin;
    begin_serializable_read_only: "BEGIN ISOLATION LEVEL SERIALIZABLE READ ONLY" => Transaction, Begin;
    begin_read_write_is_privilege: "BEGIN READ WRITE" => Privilege, Begin;
    start_transaction: "START TRANSACTION" => Transaction, Begin;
    start_transaction_isolation: "START TRANSACTION ISOLATION LEVEL READ COMMITTED" => Transaction, Begin;
    commit: "COMMIT" => Transaction, EndTransaction;
    commit_work: "COMMIT WORK" => Transaction, EndTransaction;
    commit_transaction: "COMMIT TRANSACTION" => Transaction, EndTransaction;
    end: "END" => Transaction, EndTransaction;
    end_semicolon: "END;" => Transaction, EndTransaction;
    end_transaction: "END TRANSACTION" => Transaction, EndTransaction;
    rollback: "ROLLBACK" => Transaction, EndTransaction;
    rollback_work: "ROLLBACK WORK" => Transaction, EndTransaction;
    abort: "ABORT" => Transaction, EndTransaction;
    commit_and_chain: "COMMIT AND CHAIN" => Transaction, Begin;
    rollback_and_chain: "ROLLBACK AND CHAIN" => Transaction, Begin;
    rollback_to_savepoint_keeps_block: "ROLLBACK TO SAVEPOINT a" => Transaction, Effect::None;
    savepoint_no_effect: "SAVEPOINT a" => Transaction, Effect::None;
}
