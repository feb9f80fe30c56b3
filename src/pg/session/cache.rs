//! Bounded caches of classifications, shared by every session.
//!
//! - Parse texts, by exact text: drivers send the same parameterised text
//!   with every Parse. Classification is a pure function of the text, so a
//!   hit returns exactly what classifying again would.
//! - Simple queries, by shape (`classify::shape`): the statement with its
//!   literal values blanked, for the statements whose classification provably
//!   does not depend on them; a hit gives the classification every text of
//!   that shape gets. Anything else, and any shape classified `unknown`, is
//!   classified afresh every time.
//!
//! Either way the cache can never change a decision. Memory is bounded by
//! entries and by bytes of keys: past either bound a cache starts over.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use dashmap::DashMap;

use super::statements::Prepared;
use crate::classify::{classify, shape, Class, Classified, Dialect};

/// Entries kept in each cache before it starts over.
pub const CAPACITY: usize = 10_000;

/// Bytes of keys kept in each cache before it starts over.
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

#[derive(Default)]
pub struct ParseCache {
    texts: DashMap<Arc<str>, Arc<Prepared>, Hasher>,
    text_bytes: AtomicUsize,
    shapes: DashMap<Box<[u8]>, Arc<Classified>, Hasher>,
    shape_bytes: AtomicUsize,
}

impl ParseCache {
    /// A Parse message's text.
    pub fn get_or_classify(&self, sql: &str) -> Arc<Prepared> {
        if let Some(hit) = self.texts.get(sql) {
            return hit.clone();
        }
        let prepared = Prepared::new(sql);
        if sql.len() <= LONGEST {
            make_room(&self.texts, &self.text_bytes, sql.len());
            self.texts.insert(prepared.sql.clone(), prepared.clone());
        }
        prepared
    }

    /// A simple Query's text.
    pub fn query(&self, sql: &str) -> Arc<Prepared> {
        // The key is built in this thread's buffer, reused from query to query.
        let found = KEY.with_borrow_mut(|key| {
            if !shape::shape_into(sql, key) {
                return None;
            }
            let classified = match self.shapes.get(key.as_slice()) {
                Some(hit) => hit.clone(),
                None => {
                    let classified = Arc::new(classify(Dialect::Postgres, sql));
                    // An unknown's reason may name a column of this very text.
                    if classified.class != Class::Unknown {
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
            Some(classified) => Arc::new(Prepared {
                sql: sql.into(),
                classified,
            }),
            None => Prepared::new(sql),
        }
    }

    /// Entries in both caches.
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

    #[test]
    fn a_hit_is_exactly_a_fresh_classification() {
        let cache = ParseCache::default();
        let corpus = [
            "SELECT abalance FROM pgbench_accounts WHERE aid = $1",
            "UPDATE pgbench_accounts SET abalance = abalance + $1 WHERE aid = $2",
            "SELECT nextval('s')",
            "DROP TABLE t",
            "SET client_encoding = 'SJIS'",
            "select 1; delete from t",
            "garbage (((",
            "",
            "SELECT 'a\\\\'; DROP TABLE t; --'",
        ];
        for _ in 0..3 {
            for sql in corpus {
                for cached in [cache.get_or_classify(sql), cache.query(sql)] {
                    assert_eq!(
                        *cached.classified,
                        classify(Dialect::Postgres, sql),
                        "{sql}"
                    );
                    assert_eq!(&*cached.sql, sql);
                }
            }
        }
        assert_eq!(cache.texts.len(), corpus.len());
    }

    #[test]
    fn a_query_of_a_seen_shape_is_a_hit() {
        let cache = ParseCache::default();
        let first = cache.query("SELECT abalance FROM pgbench_accounts WHERE aid = 17;");
        let again = cache.query("SELECT abalance FROM pgbench_accounts WHERE aid = 4242;");
        assert!(Arc::ptr_eq(&first.classified, &again.classified));
        assert_eq!(
            &*again.sql,
            "SELECT abalance FROM pgbench_accounts WHERE aid = 4242;"
        );
        assert_eq!(cache.shapes.len(), 1);
    }

    #[test]
    fn the_caches_stay_bounded() {
        let cache = ParseCache::default();
        for i in 0..(CAPACITY + 10) {
            cache.get_or_classify(&format!("SELECT {i}"));
            cache.query(&format!("SELECT c{i} FROM t WHERE id = {i}"));
        }
        assert!(cache.texts.len() <= CAPACITY);
        assert!(cache.shapes.len() <= CAPACITY);
        let long = format!("SELECT '{}'", "x".repeat(LONGEST));
        cache.get_or_classify(&long);
        assert!(cache.texts.get(long.as_str()).is_none());
        let wide = format!("SELECT {} FROM t", "c, ".repeat(LONGEST / 4));
        for i in 0..(KEY_BYTES / wide.len() + 10) {
            cache.query(&format!("{wide} WHERE x{i} = 1"));
        }
        assert!(cache.shape_bytes.load(Ordering::Relaxed) <= KEY_BYTES);
    }
}
