// Node database drivers through airlock, as agents use them.
//
// Run by tests/it/drivers.rs with the packages it installs (pg, mysql2):
//
//   node drivers.js pg    <postgres URL through airlock>
//   node drivers.js mysql <host> <port> <user> <password> <airlock entry>
//
// Every check asserts what the driver got; the first failure ends the run
// with a non-zero exit and the reason on stderr.

const assert = require('node:assert/strict');

async function pgChecks(url) {
  const { Client, Pool } = require('pg');
  const c = new Client({ connectionString: url, statement_timeout: 20000 });
  await c.connect();
  try {
    let r = await c.query('SELECT $1::int + 1 AS n', [41]);
    assert.equal(r.rows[0].n, 42);
    // A named (prepared) statement, run again with other values.
    for (const i of [1, 2, 3]) {
      r = await c.query({ name: 'by_id', text: 'SELECT $1::int AS i', values: [i] });
      assert.equal(r.rows[0].i, i);
    }
    r = await c.query('SELECT g FROM generate_series(1, 1000) g');
    assert.equal(r.rowCount, 1000);
    r = await c.query("SELECT '{\"a\": [1, 2]}'::jsonb AS j, ARRAY[1, 2]::int[] AS a");
    assert.deepEqual(r.rows[0], { j: { a: [1, 2] }, a: [1, 2] });
    await assert.rejects(c.query('CREATE TABLE airlock_drivers_never (x int)'),
      (e) => e.code === '57014');
    r = await c.query('SELECT 1 AS one');
    assert.equal(r.rows[0].one, 1);
  } finally {
    await c.end();
  }
  const pool = new Pool({ connectionString: url, max: 2 });
  const rows = await Promise.all([1, 2, 3, 4].map((i) => pool.query('SELECT $1::int AS i', [i])));
  assert.deepEqual(rows.map((r) => r.rows[0].i), [1, 2, 3, 4]);
  await pool.end();
}

async function mysqlChecks(host, port, user, password, database) {
  const mysql = require('mysql2/promise');
  const c = await mysql.createConnection({ host, port: Number(port), user, password, database });
  try {
    let [rows] = await c.query('SELECT ? + 1 AS n', [41]);
    assert.equal(Number(rows[0].n), 42);
    // The binary protocol (COM_STMT_PREPARE / EXECUTE), run again.
    for (const i of [1, 2, 3]) {
      [rows] = await c.execute('SELECT ? AS i', [i]);
      assert.equal(Number(rows[0].i), i);
    }
    [rows] = await c.query('SELECT DATABASE() AS db');
    const upstream = rows[0].db;
    assert.ok(upstream);
    await c.changeUser({ database }).then(
      () => assert.fail('COM_CHANGE_USER passed'),
      (e) => assert.equal(e.errno, 1227),
    );
  } finally {
    c.destroy();
  }
  const d = await mysql.createConnection({ host, port: Number(port), user, password, database });
  try {
    await d.query(`USE ${database}`);
    let [rows] = await d.query('SELECT seq FROM seq_1_to_1000');
    assert.equal(rows.length, 1000);
    await assert.rejects(d.query('CREATE TABLE airlock_drivers_never (x int)'),
      (e) => e.errno === 1317);
    [rows] = await d.query('SELECT 1 AS one');
    assert.equal(rows[0].one, 1);
  } finally {
    await d.end();
  }
}

(async () => {
  const [what, ...args] = process.argv.slice(2);
  if (what === 'pg') {
    await pgChecks(...args);
    console.log('node pg ok');
  } else if (what === 'mysql') {
    await mysqlChecks(...args);
    console.log('mysql2 ok');
  } else {
    throw new Error('usage: drivers.js pg URL | mysql HOST PORT USER PASSWORD ENTRY');
  }
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
