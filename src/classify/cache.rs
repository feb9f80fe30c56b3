//! Bounded caches of classifications, shared by every session of one protocol
//! (one for PostgreSQL, one for MySQL).
//!
//! - Texts, by exact text: drivers send the same parameterised text with
//!   every Parse / COM_STMT_PREPARE, and the same `BEGIN`, `COMMIT`,
//!   `SET ...` queries again and again. Classification is a pure function of
//!   the text, so a hit returns exactly what classifying again would.
//! - Queries, by shape ([`shape`]): the statement with its literal values
//!   blanked, for the statements whose classification provably does not
//!   depend on them; a hit gives the classification every text of that shape
//!   gets. A query without a shape is looked up by its exact text; any shape
//!   classified `unknown` is classified afresh every time.
//!
//! Either way the cache can never change a decision. Memory is bounded by
//! entries and by bytes of keys: past either bound a cache starts over.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use dashmap::DashMap;

use super::{classify, shape, Class, Classified, Dialect};

/// Entries kept in each map before it starts over.
pub const CAPACITY: usize = 10_000;

/// Bytes of keys kept in each map before it starts over.
pub const KEY_BYTES: usize = 8 << 20;

/// Longest text worth keeping (longer ones are classified every time).
const LONGEST: usize = shape::LONGEST;

thread_local! {
    /// The shape of the query being looked up (kept for its allocation).
    static KEY: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// foldhash: fast on short keys, and seeded per map at random, so texts an
/// agent chooses cannot be made to collide on purpose any more than with
/// the standard hasher's seed (the maps are bounded besides).
type Hasher = foldhash::fast::RandomState;

/// A protocol's statement as its sessions keep it: the text and its
/// classification, and whatever else that protocol reads off the text.
pub trait Cached: Send + Sync + 'static {
    /// The dialect its texts are classified in.
    const DIALECT: Dialect;
    /// The statement `sql`, classified as `classified` (which is
    /// `classify(DIALECT, sql)`, or a hit of the same shape).
    fn of(sql: &str, classified: Arc<Classified>) -> Arc<Self>;
    /// The text, shared as the map's key.
    fn sql(&self) -> &Arc<str>;
}

pub struct Cache<P> {
    texts: DashMap<Arc<str>, Arc<P>, Hasher>,
    text_bytes: AtomicUsize,
    shapes: DashMap<Box<[u8]>, Arc<Classified>, Hasher>,
    shape_bytes: AtomicUsize,
}

impl<P> Default for Cache<P> {
    fn default() -> Self {
        Cache {
            texts: DashMap::default(),
            text_bytes: AtomicUsize::new(0),
            shapes: DashMap::default(),
            shape_bytes: AtomicUsize::new(0),
        }
    }
}

impl<P: Cached> Cache<P> {
    /// A statement's text, by exact text: a Parse message's, a
    /// COM_STMT_PREPARE's, a query's without a shape.
    pub fn text(&self, sql: &str) -> Arc<P> {
        if let Some(hit) = self.texts.get(sql) {
            return hit.clone();
        }
        let prepared = P::of(sql, Arc::new(classify(P::DIALECT, sql)));
        if sql.len() <= LONGEST {
            make_room(&self.texts, &self.text_bytes, sql.len());
            self.texts.insert(prepared.sql().clone(), prepared.clone());
        }
        prepared
    }

    /// A query's text (PostgreSQL's simple Query, MySQL's COM_QUERY): by
    /// shape where it has one, else by exact text.
    pub fn query(&self, sql: &str) -> Arc<P> {
        // The key is built in this thread's buffer, reused from query to query.
        let found = KEY.with_borrow_mut(|key| {
            if !shape::shape_into(P::DIALECT, sql, key) {
                return None;
            }
            let classified = match self.shapes.get(key.as_slice()) {
                Some(hit) => hit.clone(),
                None => {
                    let classified = Arc::new(classify(P::DIALECT, sql));
                    // An unknown's reason may name a column of this very
                    // text; a string read as a table name is its own value.
                    if classified.class != Class::Unknown
                        && !shape::depends_on_a_literal(P::DIALECT, sql, &classified.tables)
                    {
                        make_room(&self.shapes, &self.shape_bytes, key.len());
                        self.shapes
                            .insert(key.as_slice().into(), classified.clone());
                    }
                    classified
                }
            };
            Some(classified)
        });
        match found {
            Some(classified) => P::of(sql, classified),
            None => self.text(sql),
        }
    }

    /// Entries in both maps.
    pub fn len(&self) -> usize {
        self.texts.len() + self.shapes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Empties `map` when one more key of `len` bytes would pass a bound.
fn make_room<K, V>(map: &DashMap<K, V, Hasher>, bytes: &AtomicUsize, len: usize)
where
    K: Eq + std::hash::Hash,
{
    let total = bytes.fetch_add(len, Ordering::Relaxed) + len;
    if map.len() >= CAPACITY || total > KEY_BYTES {
        // Bounded memory; a working set this large gains little from a cache.
        map.clear();
        bytes.store(len, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A statement as a protocol would keep it (MySQL's dialect or PostgreSQL's).
    struct Plain<const MYSQL: bool> {
        sql: Arc<str>,
        classified: Arc<Classified>,
    }

    impl<const MYSQL: bool> Cached for Plain<MYSQL> {
        const DIALECT: Dialect = if MYSQL {
            Dialect::Mysql
        } else {
            Dialect::Postgres
        };
        fn of(sql: &str, classified: Arc<Classified>) -> Arc<Self> {
            Arc::new(Plain {
                sql: sql.into(),
                classified,
            })
        }
        fn sql(&self) -> &Arc<str> {
            &self.sql
        }
    }

    const CORPUS: [&str; 14] = [
        "SELECT abalance FROM pgbench_accounts WHERE aid = $1",
        "UPDATE pgbench_accounts SET abalance = abalance + $1 WHERE aid = $2",
        "SELECT nextval('s')",
        "DROP TABLE t",
        "SET client_encoding = 'SJIS'",
        "SET NAMES gbk",
        "select 1; delete from t",
        "garbage (((",
        "",
        "SELECT 'a\\\\'; DROP TABLE t; --'",
        "SELECT `a'` FROM t WHERE b = 'x' # ' ; DROP TABLE t",
        "SELECT c FROM sbtest1 WHERE id = 5017",
        "BEGIN",
        "COMMIT",
    ];

    fn hits_are_fresh_classifications<const MYSQL: bool>() {
        let cache = Cache::<Plain<MYSQL>>::default();
        for _ in 0..3 {
            for sql in CORPUS {
                for cached in [cache.text(sql), cache.query(sql)] {
                    assert_eq!(*cached.classified, classify(Plain::<MYSQL>::DIALECT, sql));
                    assert_eq!(&*cached.sql, sql);
                }
            }
        }
        assert_eq!(cache.texts.len(), CORPUS.len());
    }

    #[test]
    fn a_hit_is_exactly_a_fresh_classification() {
        hits_are_fresh_classifications::<false>();
        hits_are_fresh_classifications::<true>();
    }

    #[test]
    fn a_query_of_a_seen_shape_is_a_hit() {
        let cache = Cache::<Plain<false>>::default();
        let first = cache.query("SELECT abalance FROM pgbench_accounts WHERE aid = 17;");
        let again = cache.query("SELECT abalance FROM pgbench_accounts WHERE aid = 4242;");
        assert!(Arc::ptr_eq(&first.classified, &again.classified));
        assert_eq!(
            &*again.sql,
            "SELECT abalance FROM pgbench_accounts WHERE aid = 4242;"
        );
        assert_eq!(cache.shapes.len(), 1);
        let mysql = Cache::<Plain<true>>::default();
        let first = mysql.query("SELECT c FROM `sbtest1` WHERE id = 17");
        let again = mysql.query("SELECT c FROM `sbtest1` WHERE id = 4242");
        assert!(Arc::ptr_eq(&first.classified, &again.classified));
        assert_eq!(mysql.shapes.len(), 1);
    }

    #[test]
    fn a_query_without_a_shape_is_kept_by_its_text() {
        let cache = Cache::<Plain<true>>::default();
        let first = cache.query("BEGIN");
        let again = cache.query("BEGIN");
        assert!(Arc::ptr_eq(&first, &again));
        assert_eq!((cache.texts.len(), cache.shapes.len()), (1, 0));
        // An unknown shape is not kept by shape, nor by text.
        cache.query("SELECT ((( 1");
        assert_eq!(cache.shapes.len(), 0);
    }

    fn strings_read_as_tables_are_kept_out<const MYSQL: bool>() {
        let cache = Cache::<Plain<MYSQL>>::default();
        for sql in [
            "SELECT * FROM 'public_t' WHERE a = 1",
            "SELECT * FROM 'secrets' WHERE a = 1",
        ] {
            assert_eq!(
                *cache.query(sql).classified,
                classify(Plain::<MYSQL>::DIALECT, sql)
            );
        }
        assert_eq!(cache.shapes.len(), 0);
    }

    #[test]
    fn a_string_read_as_a_table_name_keeps_its_shape_out() {
        strings_read_as_tables_are_kept_out::<false>();
        strings_read_as_tables_are_kept_out::<true>();
    }

    #[test]
    fn a_set_config_is_classified_by_its_setting_every_time() {
        let cache = Cache::<Plain<false>>::default();
        let jit = cache.query("SELECT set_config('jit', 'off', false)");
        assert_eq!(jit.classified.class, Class::Session);
        for (sql, class) in [
            (
                "SELECT set_config('role', 'admin', false)",
                Class::Privilege,
            ),
            (
                "SELECT SET_CONFIG('default_transaction_read_only', 'off', false)",
                Class::Privilege,
            ),
            ("SELECT set_config('jit', 'on', false)", Class::Session),
        ] {
            assert_eq!(cache.query(sql).classified.class, class, "{sql}");
        }
        assert_eq!(cache.shapes.len(), 0);
    }

    #[test]
    fn the_caches_stay_bounded() {
        let cache = Cache::<Plain<false>>::default();
        for i in 0..(CAPACITY + 10) {
            cache.text(&format!("SELECT {i}"));
            cache.query(&format!("SELECT c{i} FROM t WHERE id = {i}"));
        }
        assert!(cache.texts.len() <= CAPACITY);
        assert!(cache.shapes.len() <= CAPACITY);
        let long = format!("SELECT '{}'", "x".repeat(LONGEST));
        cache.text(&long);
        assert!(cache.texts.get(long.as_str()).is_none());
        let wide = format!("SELECT {} FROM t", "c, ".repeat(LONGEST / 4));
        for i in 0..(KEY_BYTES / wide.len() + 10) {
            cache.query(&format!("{wide} WHERE x{i} = 1"));
        }
        assert!(cache.shape_bytes.load(Ordering::Relaxed) <= KEY_BYTES);
    }
}
