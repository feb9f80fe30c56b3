//! A bounded cache of classified statement texts for the extended protocol,
//! where drivers send the same parameterised text with every Parse.
//! Classification is a pure function of the text, so a hit returns exactly
//! what classifying again would: the cache can never change a decision.

use std::sync::Arc;

use dashmap::DashMap;

use super::statements::Prepared;

/// Entries kept before the cache starts over.
pub const CAPACITY: usize = 10_000;

/// Longest text worth keeping (longer ones are classified every time).
const LONGEST: usize = 16 * 1024;

#[derive(Default)]
pub struct ParseCache {
    map: DashMap<Arc<str>, Arc<Prepared>>,
}

impl ParseCache {
    pub fn get_or_classify(&self, sql: &str) -> Arc<Prepared> {
        if let Some(hit) = self.map.get(sql) {
            return hit.clone();
        }
        let prepared = Prepared::new(sql);
        if sql.len() <= LONGEST {
            if self.map.len() >= CAPACITY {
                // Bounded memory; a working set this large gains little from a cache.
                self.map.clear();
            }
            self.map.insert(prepared.sql.clone(), prepared.clone());
        }
        prepared
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::{classify, Dialect};

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
                let cached = cache.get_or_classify(sql);
                assert_eq!(cached.classified, classify(Dialect::Postgres, sql), "{sql}");
                assert_eq!(&*cached.sql, sql);
            }
        }
        assert_eq!(cache.len(), corpus.len());
    }

    #[test]
    fn the_cache_stays_bounded() {
        let cache = ParseCache::default();
        for i in 0..(CAPACITY + 10) {
            cache.get_or_classify(&format!("SELECT {i}"));
        }
        assert!(cache.len() <= CAPACITY);
        let long = format!("SELECT '{}'", "x".repeat(LONGEST));
        cache.get_or_classify(&long);
        assert!(cache.map.get(long.as_str()).is_none());
    }
}
