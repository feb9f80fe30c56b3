//! Validating `[databases.NAME]`: where the database is, how airlock reaches
//! it, and its two upstream identities (the reader the agent's session logs in
//! as, and the writer allowed and approved writes run as).

use std::path::Path;

use super::raw::{RawDatabase, RawIam, RawWriter};
use super::{iam, relative, Database, DatabaseKind, UpstreamTls, Writer};
use crate::credentials::UpstreamCredentials;

pub(super) fn validate(base: &Path, name: &str, db: RawDatabase) -> Result<Database, String> {
    let at = format!("databases.{name}");
    let kind = match db.kind.as_deref().unwrap_or("postgres") {
        "postgres" => DatabaseKind::Postgres,
        "mysql" => DatabaseKind::Mysql,
        other => {
            return Err(format!(
                "{at}.kind: expected postgres or mysql, got {other:?}"
            ))
        }
    };
    let tls = match db.tls.as_deref().unwrap_or("disable") {
        "disable" => UpstreamTls::Disable,
        "verify-full" => {
            let ca = db
                .ca_file
                .ok_or_else(|| format!("{at}: tls = \"verify-full\" needs ca_file"))?;
            UpstreamTls::VerifyFull {
                ca_file: relative(base, &ca),
                server_name: db.tls_server_name.unwrap_or_else(|| db.host.clone()),
            }
        }
        other => {
            return Err(format!(
                "{at}.tls: expected disable or verify-full, got {other:?}"
            ))
        }
    };
    let login = Login {
        password: db.password,
        password_env: db.password_env,
        credentials: db.credentials,
        iam: db.iam,
    };
    let credentials = validate_login(base, &at, name, login, &tls)?;
    let writer = match db.writer {
        Some(w) => validate_writer(base, &at, name, w, &tls)?,
        None => Writer::same_as_reader(&db.user, &credentials),
    };
    Ok(Database {
        name: name.to_string(),
        kind,
        dbname: db.dbname.unwrap_or_else(|| name.to_string()),
        host: db.host,
        port: db.port.unwrap_or(match kind {
            DatabaseKind::Postgres => 5432,
            DatabaseKind::Mysql => 3306,
        }),
        user: db.user,
        credentials,
        tls,
        writer,
    })
}

fn validate_writer(
    base: &Path,
    at: &str,
    name: &str,
    w: RawWriter,
    tls: &UpstreamTls,
) -> Result<Writer, String> {
    let at = format!("{at}.writer");
    if w.user.is_empty() {
        return Err(format!("{at}.user: must not be empty"));
    }
    let login = Login {
        password: w.password,
        password_env: w.password_env,
        credentials: w.credentials,
        iam: w.iam,
    };
    let credentials = validate_login(base, &at, name, login, tls)?;
    Ok(Writer {
        user: w.user,
        credentials,
        configured: true,
    })
}

/// The credential keys shared by a database and its writer.
struct Login {
    password: Option<String>,
    password_env: Option<String>,
    credentials: Option<String>,
    iam: Option<RawIam>,
}

/// `at`: where the keys are (`databases.NAME` or `databases.NAME.writer`).
fn validate_login(
    base: &Path,
    at: &str,
    name: &str,
    login: Login,
    tls: &UpstreamTls,
) -> Result<UpstreamCredentials, String> {
    let password = match (login.password, login.password_env) {
        (Some(_), Some(_)) => return Err(format!("{at}: give password or password_env, not both")),
        (Some(p), None) => Some(p),
        (None, Some(var)) => Some(
            std::env::var(&var)
                .map_err(|_| format!("{at}.password_env: environment variable {var} is not set"))?,
        ),
        (None, None) => None,
    };
    match (login.credentials.as_deref().unwrap_or("static"), login.iam) {
        ("static", None) => Ok(UpstreamCredentials::Static { password }),
        ("static", Some(_)) => Err(format!("{at}: an [iam] table needs credentials = \"iam\"")),
        ("iam", iam) => {
            let iam =
                iam.ok_or_else(|| format!("{at}: credentials = \"iam\" needs a [{at}.iam] table"))?;
            if password.is_some() {
                return Err(format!("{at}: credentials = \"iam\" takes no password"));
            }
            if !matches!(tls, UpstreamTls::VerifyFull { .. }) {
                return Err(format!(
                    "databases.{name}: credentials = \"iam\" needs tls = \"verify-full\" (a token is never sent in clear)"
                ));
            }
            iam::validate(base, &format!("{at}.iam"), iam)
        }
        (other, _) => Err(format!(
            "{at}.credentials: expected static or iam, got {other:?}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;
    use std::path::Path;

    fn parse(text: &str) -> Result<Config, String> {
        let text =
            format!("[databases.orders]\nhost = \"127.0.0.1\"\nuser = \"agent_reader\"\n{text}");
        Config::parse(Path::new("airlock.toml"), &text).map_err(|e| e.to_string())
    }

    #[test]
    fn without_a_writer_table_writes_log_in_as_the_reader() {
        let c = parse("password = \"r\"\n").unwrap();
        let w = &c.databases["orders"].writer;
        assert!(!w.configured);
        assert_eq!(w.user, "agent_reader");
        assert!(!w.credentials.is_iam());
    }

    #[test]
    fn a_writer_table_names_its_own_user_and_credentials() {
        let c = parse("[databases.orders.writer]\nuser = \"agent_writer\"\npassword = \"w\"\n")
            .unwrap();
        let db = &c.databases["orders"];
        assert!(db.writer.configured);
        assert_eq!(
            db.user_for(crate::credentials::Identity::Writer),
            "agent_writer"
        );
        assert_eq!(
            db.user_for(crate::credentials::Identity::Reader),
            "agent_reader"
        );
    }

    #[test]
    fn writer_misconfigurations_are_named() {
        let e = parse(
            "[databases.orders.writer]\nuser = \"w\"\npassword = \"a\"\npassword_env = \"B\"\n",
        )
        .unwrap_err();
        assert!(e.contains("databases.orders.writer: give password"), "{e}");
        let e =
            parse("[databases.orders.writer]\nuser = \"w\"\ncredentials = \"iam\"\n").unwrap_err();
        assert!(
            e.contains("needs a [databases.orders.writer.iam] table"),
            "{e}"
        );
        let e = parse(
            "[databases.orders.writer]\nuser = \"w\"\ncredentials = \"iam\"\n[databases.orders.writer.iam]\nregion = \"eu-west-1\"\n",
        )
        .unwrap_err();
        assert!(e.contains("needs tls = \"verify-full\""), "{e}");
        let e = parse("[databases.orders.writer]\nuser = \"\"\n").unwrap_err();
        assert!(e.contains("writer.user"), "{e}");
        let e = parse("[databases.orders.writer]\nuser = \"w\"\ncolour = \"red\"\n").unwrap_err();
        assert!(e.contains("unknown field"), "{e}");
    }

    #[test]
    fn an_iam_writer_has_its_own_role() {
        let c = parse(
            "tls = \"verify-full\"\nca_file = \"rds.pem\"\ncredentials = \"iam\"\n\
             [databases.orders.iam]\nregion = \"eu-west-1\"\nrole_arn = \"arn:aws:iam::1:role/reader\"\n\
             [databases.orders.writer]\nuser = \"agent_writer\"\ncredentials = \"iam\"\n\
             [databases.orders.writer.iam]\nregion = \"eu-west-1\"\nrole_arn = \"arn:aws:iam::1:role/writer\"\n",
        )
        .unwrap();
        let w = &c.databases["orders"].writer;
        let crate::credentials::UpstreamCredentials::Iam(src) = &w.credentials else {
            panic!("writer is not iam");
        };
        assert_eq!(
            src.settings().role.as_ref().unwrap().role_arn,
            "arn:aws:iam::1:role/writer"
        );
    }
}
