//! `KILL [QUERY | CONNECTION] id` routed to the right upstream thread.
//!
//! An agent knows two kinds of id: the one in airlock's greeting (what the
//! `mariadb` CLI sends `KILL QUERY` for on Ctrl-C, from a second connection)
//! and its upstream thread's own (`SELECT CONNECTION_ID()`). airlock rewrites
//! a KILL of either, for a session of the same agent on the same database, to
//! the upstream thread running the session's statements (its writer connection
//! while one is open); any other id is refused as unknown, so an agent
//! cannot name threads that are not its own. The rewritten statement is still
//! classified (`admin`) and decided by the rules like any other.

use dashmap::DashMap;

/// The MySQL sessions of this airlock, by the connection id in their greeting.
#[derive(Debug, Default)]
pub struct Threads {
    by_id: DashMap<u32, Thread>,
}

/// One session's upstream thread.
#[derive(Debug, Clone)]
pub struct Thread {
    pub agent: String,
    pub database: String,
    pub upstream_id: u32,
    /// The writer connection running the session's statements, while open:
    /// what a KILL of the session reaches then.
    pub writer_id: Option<u32>,
}

impl Thread {
    /// The upstream thread running the session's statements now, and whether
    /// it is the writer.
    fn running(&self) -> (u32, bool) {
        match self.writer_id {
            Some(w) => (w, true),
            None => (self.upstream_id, false),
        }
    }
}

impl Threads {
    pub fn register(&self, id: u32, thread: Thread) {
        self.by_id.insert(id, thread);
    }

    pub fn forget(&self, id: u32) {
        self.by_id.remove(&id);
    }

    /// Notes the writer connection session `id` runs on (`None`: closed).
    pub fn writer(&self, id: u32, writer: Option<u32>) {
        if let Some(mut t) = self.by_id.get_mut(&id) {
            t.writer_id = writer;
        }
    }

    /// The upstream thread `id` names for `agent` on `database`, and whether
    /// it is a writer connection.
    fn resolve(&self, id: u64, agent: &str, database: &str) -> Option<(u32, bool)> {
        let mine = |t: &Thread| t.agent == agent && t.database == database;
        if let Some(t) = u32::try_from(id).ok().and_then(|id| self.by_id.get(&id)) {
            if mine(&t) {
                return Some(t.running());
            }
        }
        self.by_id.iter().find_map(|t| {
            let t = t.value();
            if !mine(t) {
                None
            } else if u64::from(t.upstream_id) == id {
                // `CONNECTION_ID()` names the session as well as its greeting does.
                Some(t.running())
            } else {
                t.writer_id
                    .filter(|&w| u64::from(w) == id)
                    .map(|w| (w, true))
            }
        })
    }
}

/// A KILL statement's parts.
#[derive(Debug, PartialEq, Eq)]
struct Kill {
    query_only: bool,
    id: u64,
}

/// Reads `KILL [QUERY | CONNECTION] <digits>` (an optional trailing `;`), the
/// whole string; anything else is not a KILL this file routes.
fn parse(sql: &str) -> Option<Kill> {
    let sql = sql.trim().trim_end_matches(';').trim_end();
    let mut words = sql.split_ascii_whitespace();
    if !words.next()?.eq_ignore_ascii_case("KILL") {
        return None;
    }
    let mut word = words.next()?;
    let mut query_only = false;
    if word.eq_ignore_ascii_case("QUERY") {
        query_only = true;
        word = words.next()?;
    } else if word.eq_ignore_ascii_case("CONNECTION") {
        word = words.next()?;
    }
    if words.next().is_some() || word.is_empty() || !word.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(Kill {
        query_only,
        id: word.parse().ok()?,
    })
}

/// What to do with a statement that may be a KILL.
#[derive(Debug, PartialEq, Eq)]
pub enum Routed {
    /// Not a KILL airlock routes: decide it as it is.
    NotKill,
    /// Run this instead (the same KILL, naming the upstream thread), on a
    /// connection of the identity that owns that thread (`true`: the writer).
    Rewritten(String, bool),
    /// The id names no thread of this agent's.
    Unknown(u64),
}

pub fn route(threads: &Threads, sql: &str, agent: &str, database: &str) -> Routed {
    let Some(kill) = parse(sql) else {
        return Routed::NotKill;
    };
    match threads.resolve(kill.id, agent, database) {
        Some((up, writer)) if kill.query_only => {
            Routed::Rewritten(format!("KILL QUERY {up}"), writer)
        }
        Some((up, writer)) => Routed::Rewritten(format!("KILL CONNECTION {up}"), writer),
        None => Routed::Unknown(kill.id),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kills_are_routed_only_to_the_agents_own_threads() {
        let t = Threads::default();
        let thread = |agent: &str, up| Thread {
            agent: agent.into(),
            database: "shop".into(),
            upstream_id: up,
            writer_id: None,
        };
        t.register(7, thread("a", 1007));
        t.register(8, thread("b", 1008));
        let r = |sql| route(&t, sql, "a", "shop");
        assert_eq!(
            r("KILL QUERY 7"),
            Routed::Rewritten("KILL QUERY 1007".into(), false)
        );
        assert_eq!(
            r("kill 7;"),
            Routed::Rewritten("KILL CONNECTION 1007".into(), false)
        );
        assert_eq!(
            r("KILL CONNECTION 1007"),
            Routed::Rewritten("KILL CONNECTION 1007".into(), false)
        );
        assert_eq!(r("KILL 8"), Routed::Unknown(8));
        assert_eq!(r("KILL 1008"), Routed::Unknown(1008));
        assert_eq!(r("KILL QUERY 99"), Routed::Unknown(99));
        assert_eq!(r("KILL QUERY ID 7"), Routed::NotKill);
        assert_eq!(r("SELECT 1"), Routed::NotKill);
        assert_eq!(route(&t, "KILL 7", "a", "other"), Routed::Unknown(7));
        // While a writer connection runs the session's statement, KILL reaches it.
        t.writer(7, Some(2007));
        assert_eq!(
            r("KILL QUERY 7"),
            Routed::Rewritten("KILL QUERY 2007".into(), true)
        );
        assert_eq!(
            r("KILL QUERY 2007"),
            Routed::Rewritten("KILL QUERY 2007".into(), true)
        );
        // So does a KILL of the id `CONNECTION_ID()` gave (the reader's).
        assert_eq!(
            r("KILL QUERY 1007"),
            Routed::Rewritten("KILL QUERY 2007".into(), true)
        );
        assert_eq!(
            route(&t, "KILL QUERY 2007", "b", "shop"),
            Routed::Unknown(2007)
        );
        t.writer(7, None);
        assert_eq!(r("KILL QUERY 2007"), Routed::Unknown(2007));
        t.forget(7);
        assert_eq!(r("KILL 7"), Routed::Unknown(7));
    }
}
