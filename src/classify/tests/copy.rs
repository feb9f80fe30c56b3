//! COPY: exports to the client, imports from the client, server-side files.

use super::{classes, table_cases};

classes! {
    copy_table_to_stdout: "COPY orders TO STDOUT" => Export, "COPY TO";
    copy_columns_to_stdout_csv: "COPY orders (id, total) TO STDOUT WITH CSV HEADER" => Export;
    copy_to_stdout_options: "COPY orders TO STDOUT (FORMAT csv, HEADER true, DELIMITER ',')" => Export;
    copy_query_to_stdout: "COPY (SELECT * FROM orders WHERE total > 10) TO STDOUT" => Export;
    copy_query_with_write: "COPY (DELETE FROM orders RETURNING *) TO STDOUT" => Write;
    copy_query_with_admin_function: "COPY (SELECT pg_read_file('/etc/passwd')) TO STDOUT" => Admin;
    copy_to_file: "COPY orders TO '/tmp/orders.csv'" => Admin;
    copy_query_to_file: "COPY (SELECT 1) TO '/tmp/x'" => Admin;
    copy_from_stdin: "COPY orders FROM STDIN" => Write, "COPY FROM";
    copy_from_stdin_binary: "COPY orders FROM STDIN WITH (FORMAT binary)" => Write;
    pgbench_copy_freeze_unparsed: "copy pgbench_accounts from stdin with (freeze on)" => Unknown;
    copy_from_file: "COPY orders FROM '/etc/passwd'" => Admin;
    copy_from_program: "COPY orders FROM PROGRAM 'cat /etc/passwd'" => Admin;
}

table_cases! {
    copy_reports_table: "COPY public.orders TO STDOUT" => ["public.orders"];
    copy_query_reports_tables: "COPY (SELECT * FROM a JOIN b ON a.id = b.id) TO STDOUT" => ["a", "b"];
    copy_from_reports_table: "COPY orders (id) FROM STDIN" => ["orders"];
}
