//! The agent session's state that changes what a statement means, carried to
//! another upstream connection (the preview's, the writer's): the current
//! database, `sql_mode` (ANSI_QUOTES changes how text parses), the character
//! sets, `time_zone` and `autocommit`. Read from the server itself rather than tracked, so
//! nothing the agent did (USE, SET, SET NAMES, a stored procedure) is missed.

use super::upstream::{Upstream, UpstreamError};

const READ: &str = "SELECT DATABASE(), @@session.sql_mode, @@session.character_set_client, \
     @@session.character_set_results, @@session.collation_connection, @@session.time_zone, \
     @@session.autocommit";

/// A session's state, as read from the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Carried {
    pub database: Option<String>,
    sql_mode: String,
    character_set_client: String,
    character_set_results: Option<String>,
    collation_connection: String,
    time_zone: String,
    autocommit: bool,
}

impl Carried {
    /// Reads the state of the session on `up`.
    pub async fn read(up: &mut Upstream) -> Result<Carried, UpstreamError> {
        let row = up.internal_row(READ).await?;
        let mut v = row.into_iter();
        let mut next = || v.next().flatten();
        let missing = || UpstreamError::Protocol("session variable missing");
        Ok(Carried {
            database: next(),
            sql_mode: next().unwrap_or_default(),
            character_set_client: next().ok_or_else(missing)?,
            character_set_results: next(),
            collation_connection: next().ok_or_else(missing)?,
            time_zone: next().ok_or_else(missing)?,
            autocommit: next().ok_or_else(missing)? != "0",
        })
    }

    /// Puts the same state on the session on `up`.
    pub async fn apply(&self, up: &mut Upstream) -> Result<(), UpstreamError> {
        if let Some(db) = &self.database {
            up.init_db(db.as_bytes()).await?;
        }
        up.internal(&self.set_statement()?).await?;
        Ok(())
    }

    /// One `SET SESSION` of every variable. The values came from the server;
    /// anything but the characters such names are made of is refused rather
    /// than quoted.
    fn set_statement(&self) -> Result<String, UpstreamError> {
        let quote = |v: &str| -> Result<String, UpstreamError> {
            let plain = v
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_,:+-/.".contains(c));
            if plain {
                Ok(format!("'{v}'"))
            } else {
                Err(UpstreamError::Protocol(
                    "unexpected characters in a session variable",
                ))
            }
        };
        let results = match &self.character_set_results {
            Some(r) => quote(r)?,
            None => "NULL".into(),
        };
        Ok(format!(
            "SET SESSION sql_mode = {}, character_set_client = {}, character_set_results = {results}, collation_connection = {}, time_zone = {}, autocommit = {}",
            quote(&self.sql_mode)?,
            quote(&self.character_set_client)?,
            quote(&self.collation_connection)?,
            quote(&self.time_zone)?,
            u8::from(self.autocommit),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn carried(time_zone: &str) -> Carried {
        Carried {
            database: Some("shop".into()),
            sql_mode: "ANSI_QUOTES,STRICT_TRANS_TABLES".into(),
            character_set_client: "utf8mb4".into(),
            character_set_results: None,
            collation_connection: "utf8mb4_general_ci".into(),
            time_zone: time_zone.into(),
            autocommit: true,
        }
    }

    #[test]
    fn values_are_plain_or_refused() {
        let set = carried("+02:00").set_statement().unwrap();
        assert!(
            set.contains("sql_mode = 'ANSI_QUOTES,STRICT_TRANS_TABLES'"),
            "{set}"
        );
        assert!(set.contains("character_set_results = NULL"), "{set}");
        assert!(set.contains("time_zone = '+02:00'"), "{set}");
        assert!(carried("Europe/Paris").set_statement().is_ok());
        assert!(carried("x'; DROP TABLE t; --").set_statement().is_err());
    }
}
