//! Writes: INSERT, UPDATE, DELETE, MERGE, TRUNCATE, LOCK, NOTIFY.

use super::classes;

classes! {
    insert_values: "INSERT INTO orders (id, total) VALUES (1, 9.99)" => Write, "INSERT";
    insert_multi_row: "INSERT INTO t VALUES (1), (2), (3)" => Write;
    insert_select: "INSERT INTO archive SELECT * FROM orders WHERE created_at < '2020-01-01'" => Write;
    insert_returning: "INSERT INTO users (name) VALUES ('ann') RETURNING id" => Write;
    insert_on_conflict_nothing: "INSERT INTO t (k, v) VALUES (1, 'a') ON CONFLICT DO NOTHING" => Write;
    insert_on_conflict_update: "INSERT INTO t (k, v) VALUES (1, 'a') ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v" => Write;
    insert_default_values: "INSERT INTO t DEFAULT VALUES" => Write;
    insert_with_cte: "WITH src AS (SELECT * FROM staging) INSERT INTO t SELECT * FROM src" => Write, "INSERT";
    update_simple: "UPDATE orders SET status = 'shipped' WHERE id = 7" => Write, "UPDATE";
    update_from: "UPDATE orders o SET total = p.total FROM prices p WHERE p.id = o.price_id" => Write;
    update_returning: "UPDATE t SET x = x + 1 RETURNING *" => Write;
    update_no_where: "update accounts set balance = 0" => Write;
    delete_simple: "DELETE FROM orders WHERE id = 7" => Write, "DELETE";
    delete_using: "DELETE FROM orders o USING customers c WHERE c.id = o.customer_id AND c.banned" => Write;
    delete_all: "DELETE FROM sessions" => Write;
    merge_into: "MERGE INTO stock s USING deliveries d ON s.item = d.item WHEN MATCHED THEN UPDATE SET qty = s.qty + d.qty WHEN NOT MATCHED THEN INSERT VALUES (d.item, d.qty)" => Write, "MERGE";
    truncate_one: "TRUNCATE orders" => Write, "TRUNCATE";
    truncate_many_cascade: "TRUNCATE TABLE a, b RESTART IDENTITY CASCADE" => Write;
    lock_table: "LOCK TABLE orders IN ACCESS EXCLUSIVE MODE" => Write, "LOCK TABLE";
    lock_table_share: "LOCK orders IN SHARE MODE NOWAIT" => Write;
    notify_channel: "NOTIFY jobs" => Write, "NOTIFY";
    notify_payload: "NOTIFY jobs, 'payload'" => Write;
    pgbench_update_accounts: "UPDATE pgbench_accounts SET abalance = abalance + $1 WHERE aid = $2;" => Write;
    pgbench_update_tellers: "UPDATE pgbench_tellers SET tbalance = tbalance + $1 WHERE tid = $2" => Write;
    pgbench_insert_history: "INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES ($1, $2, $3, $4, CURRENT_TIMESTAMP);" => Write;
    sqlalchemy_insert_returning: "INSERT INTO users (name, fullname) VALUES ('spongebob', 'Spongebob Squarepants') RETURNING users.id" => Write;
    django_update: "UPDATE \"auth_user\" SET \"last_login\" = '2024-05-01T10:00:00+00:00'::timestamptz WHERE \"auth_user\".\"id\" = 1" => Write;
    insert_nextval_default: "INSERT INTO t (id) VALUES (nextval('t_id_seq'))" => Write;
    update_with_admin_function: "UPDATE t SET x = pg_terminate_backend(42)" => Admin;
    delete_with_subquery_admin: "DELETE FROM t WHERE id IN (SELECT pg_cancel_backend(pid) FROM pg_stat_activity)" => Admin;
}
