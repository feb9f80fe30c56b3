//! Cursors: DECLARE takes its query's class; FETCH, MOVE, CLOSE read.

use super::classes;

classes! {
    declare_read: "DECLARE c CURSOR FOR SELECT * FROM orders" => Read, "DECLARE CURSOR";
    declare_with_hold: "DECLARE c NO SCROLL CURSOR WITH HOLD FOR SELECT 1" => Read;
    declare_binary: "DECLARE c BINARY INSENSITIVE NO SCROLL CURSOR WITH HOLD FOR SELECT 1" => Read;
    declare_for_update: "DECLARE c CURSOR FOR SELECT * FROM t FOR UPDATE" => Write;
    declare_with_nextval: "DECLARE c CURSOR FOR SELECT nextval('s') FROM generate_series(1, 10)" => Write;
    declare_with_writable_cte: "DECLARE c CURSOR FOR WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d" => Write;
    fetch_next: "FETCH NEXT FROM c" => Read, "FETCH";
    fetch_count: "FETCH 100 FROM c" => Read;
    fetch_forward_in: "FETCH FORWARD 5 IN c" => Read;
    fetch_all_no_from: "FETCH ALL c" => Read;
    fetch_bare: "FETCH c" => Read;
    fetch_backward_all: "FETCH BACKWARD ALL FROM c" => Read;
    fetch_absolute_negative: "FETCH ABSOLUTE -1 FROM c" => Read;
    move_next: "MOVE NEXT IN c" => Read, "MOVE";
    move_forward_all: "MOVE FORWARD ALL FROM c" => Read;
    close_cursor: "CLOSE c" => Read, "CLOSE";
    close_all: "CLOSE ALL" => Read;
    fetch_with_junk_is_not_read: "FETCH c; DELETE FROM t" => Write;
    move_with_expression_is_unknown: "MOVE (SELECT 1) FROM c" => Unknown;
}
