"""Python database drivers through airlock, as agents use them.

Run by tests/it/drivers.rs with the virtualenv scripts/test.sh makes
(asyncpg, psycopg 3, PyMySQL):

    python drivers.py pg    <postgres URL through airlock>
    python drivers.py mysql <host> <port> <user> <password> <airlock entry>

Every check asserts what the driver got; the first failure ends the run
with a non-zero exit and the reason on stderr. Timeouts keep a statement
airlock holds from hanging the run.
"""

import asyncio
import sys


async def asyncpg_checks(url):
    import asyncpg

    # Connecting, a parameterised read, and type introspection (a custom
    # codec makes asyncpg look the type up, which sends set_config('jit')).
    conn = await asyncio.wait_for(asyncpg.connect(url), 10)
    try:
        n = await asyncio.wait_for(conn.fetchval("SELECT $1::int + 1", 41), 10)
        assert n == 42, n
        await asyncio.wait_for(
            conn.set_type_codec(
                "jsonb", encoder=str, decoder=lambda s: "decoded:" + s, schema="pg_catalog"
            ),
            10,
        )
        got = await asyncio.wait_for(conn.fetchval("SELECT '{\"a\": 1}'::jsonb"), 10)
        assert got == 'decoded:{"a": 1}', got
        rows = await asyncio.wait_for(
            conn.fetch("SELECT g, g::text AS t FROM generate_series(1, $1::int) g", 500), 10
        )
        assert len(rows) == 500 and rows[-1]["t"] == "500", len(rows)
        arr = await asyncio.wait_for(conn.fetchval("SELECT $1::int[]", [1, 2, 3]), 10)
        assert arr == [1, 2, 3], arr
        # A held write is refused by airlock, not hung.
        try:
            await asyncio.wait_for(conn.execute("CREATE TABLE airlock_drivers_never (x int)"), 20)
            raise AssertionError("a DDL statement was not held")
        except asyncpg.PostgresError as e:
            assert e.sqlstate == "57014", (e.sqlstate, str(e))
        assert await conn.fetchval("SELECT 1") == 1
    finally:
        await conn.close()

    # A pool: release resets the connection (advisory unlock, CLOSE ALL,
    # UNLISTEN *, RESET ALL), and the next user sees the defaults.
    pool = await asyncio.wait_for(asyncpg.create_pool(url, min_size=1, max_size=1), 10)
    try:
        async with pool.acquire() as c:
            await asyncio.wait_for(c.execute("SET statement_timeout = '7s'"), 10)
            assert await c.fetchval("SHOW statement_timeout") == "7s"
        async with pool.acquire() as c:
            timeout = await asyncio.wait_for(c.fetchval("SHOW statement_timeout"), 10)
            assert timeout == "0", timeout
            ro = await c.fetchval("SHOW default_transaction_read_only")
            assert ro == "on", ro
    finally:
        await asyncio.wait_for(pool.close(), 10)


def psycopg_checks(url):
    import psycopg

    with psycopg.connect(url, connect_timeout=10) as conn:
        with conn.cursor() as cur:
            cur.execute("SELECT %s::int * 2, %s::text", (21, "x"))
            assert cur.fetchone() == (42, "x")
            # Server-side prepared after repeated execution.
            for i in range(8):
                cur.execute("SELECT %s::int", (i,), prepare=True)
                assert cur.fetchone() == (i,)
            cur.execute("SELECT g FROM generate_series(1, 1000) g")
            assert len(cur.fetchall()) == 1000
        conn.rollback()
        conn.autocommit = True
        try:
            conn.execute("DROP TABLE IF EXISTS airlock_drivers_never")
            raise AssertionError("a DDL statement was not held")
        except psycopg.errors.QueryCanceled as e:
            assert e.sqlstate == "57014", e.sqlstate
        assert conn.execute("SELECT 1").fetchone() == (1,)


def pymysql_checks(host, port, user, password, entry):
    import pymysql

    conn = pymysql.connect(
        host=host, port=int(port), user=user, password=password,
        database=entry, connect_timeout=10, read_timeout=20,
    )
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT %s + 1", (41,))
            assert cur.fetchone() == (42,)
            cur.execute("SELECT DATABASE()")
            upstream = cur.fetchone()[0]
            assert upstream, upstream
        # COM_INIT_DB with the airlock entry name the driver connected with.
        conn.select_db(entry)
        with conn.cursor() as cur:
            cur.execute("SELECT DATABASE()")
            assert cur.fetchone() == (upstream,)
            cur.execute("SELECT seq FROM seq_1_to_1000")
            assert len(cur.fetchall()) == 1000
            try:
                cur.execute("CREATE TABLE airlock_drivers_never (x int)")
                raise AssertionError("a DDL statement was not held")
            except pymysql.err.OperationalError as e:
                assert e.args[0] == 1317, e.args
            cur.execute("SELECT 1")
            assert cur.fetchone() == (1,)
    finally:
        conn.close()


def main():
    if sys.argv[1] == "pg":
        url = sys.argv[2]
        asyncio.run(asyncpg_checks(url))
        print("asyncpg ok")
        psycopg_checks(url)
        print("psycopg ok")
    elif sys.argv[1] == "mysql":
        pymysql_checks(*sys.argv[2:7])
        print("pymysql ok")
    else:
        sys.exit("usage: drivers.py pg URL | mysql HOST PORT USER PASSWORD ENTRY")


if __name__ == "__main__":
    main()
