//! Classifier speed: typical statements an agent sends, one benchmark each,
//! cold (`classify`) and through the session's cache (`cached/*`).

use airlock::classify::cache::Cache;
use airlock::classify::{classify, Dialect};
use airlock::mysql::statement::Prepared as MysqlPrepared;
use airlock::pg::session::statements::Prepared;

type ParseCache = Cache<Prepared>;
use criterion::{black_box, criterion_group, criterion_main, Criterion};

const SHORT_SELECT: &str = "SELECT id, name FROM customers WHERE id = 42";
const PGBENCH_SELECT: &str = "SELECT abalance FROM pgbench_accounts WHERE aid = $1;";
const UPDATE: &str = "UPDATE pgbench_accounts SET abalance = abalance + $1 WHERE aid = $2";
const JDBC_SET: &str = "SET extra_float_digits = 3";
const ANALYTICS: &str = "WITH monthly AS (
    SELECT date_trunc('month', o.created_at) AS month,
           c.region,
           sum(o.total) AS revenue,
           count(DISTINCT o.customer_id) AS buyers
    FROM orders o
    JOIN customers c ON c.id = o.customer_id
    LEFT JOIN refunds r ON r.order_id = o.id
    WHERE o.status IN ('paid', 'shipped')
      AND r.id IS NULL
      AND o.created_at >= now() - interval '12 months'
    GROUP BY 1, 2
), ranked AS (
    SELECT *, rank() OVER (PARTITION BY month ORDER BY revenue DESC) AS r
    FROM monthly
)
SELECT month, region, revenue, buyers,
       round(100.0 * revenue / sum(revenue) OVER (PARTITION BY month), 2) AS share
FROM ranked
WHERE r <= 5
ORDER BY month DESC, revenue DESC";

fn statements(c: &mut Criterion) {
    let cases = [
        ("short_select", SHORT_SELECT),
        ("pgbench_select", PGBENCH_SELECT),
        ("update", UPDATE),
        ("jdbc_set", JDBC_SET),
        ("analytics_20_lines", ANALYTICS),
    ];
    for (name, sql) in cases {
        c.bench_function(name, |b| {
            b.iter(|| classify(Dialect::Postgres, black_box(sql)))
        });
    }
}

/// Simple queries whose literal changes every time (pgbench -S in simple mode),
/// and the same through the shape cache; a new short statement through the
/// cache (a miss: shape, classify, insert).
fn cached(c: &mut Criterion) {
    let variants: Vec<String> = (0..1000)
        .map(|aid| format!("SELECT abalance FROM pgbench_accounts WHERE aid = {aid};"))
        .collect();
    let named: Vec<String> = (0..1000)
        .map(|id| format!("SELECT id, name FROM customers WHERE name = 'n{id}' AND id > {id}"))
        .collect();
    for (name, texts) in [
        ("pgbench_select_literal", &variants),
        ("short_select_literals", &named),
    ] {
        let mut i = 0;
        c.bench_function(&format!("cold/{name}"), |b| {
            b.iter(|| {
                i = (i + 1) % texts.len();
                classify(Dialect::Postgres, black_box(&texts[i]))
            })
        });
        let cache = ParseCache::default();
        c.bench_function(&format!("cached/{name}"), |b| {
            b.iter(|| {
                i = (i + 1) % texts.len();
                cache.query(black_box(&texts[i]))
            })
        });
    }
    // sysbench's point select over the text protocol, and its BEGIN (no
    // shape: found by its text).
    let points: Vec<String> = (0..1000)
        .map(|id| format!("SELECT c FROM sbtest1 WHERE id={id}"))
        .collect();
    let mut i = 0;
    c.bench_function("cold/mysql_point_select_literal", |b| {
        b.iter(|| {
            i = (i + 1) % points.len();
            classify(Dialect::Mysql, black_box(&points[i]))
        })
    });
    let mysql = Cache::<MysqlPrepared>::default();
    c.bench_function("cached/mysql_point_select_literal", |b| {
        b.iter(|| {
            i = (i + 1) % points.len();
            mysql.query(black_box(&points[i]))
        })
    });
    c.bench_function("cold/mysql_begin", |b| {
        b.iter(|| classify(Dialect::Mysql, black_box("BEGIN")))
    });
    c.bench_function("cached/mysql_begin", |b| {
        b.iter(|| mysql.query(black_box("BEGIN")))
    });
    let mut n = 0u64;
    let cache = ParseCache::default();
    c.bench_function("cached/new_shape_miss", |b| {
        b.iter(|| {
            n += 1;
            cache.query(black_box(&format!("SELECT c{n} FROM t WHERE id = 1")))
        })
    });
}

criterion_group!(benches, statements, cached);
criterion_main!(benches);
