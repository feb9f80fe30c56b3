//! airlock's own login upstream with md5 and cleartext password authentication,
//! against a throwaway PostgreSQL cluster this test starts (initdb/pg_ctl as
//! the postgres user) with its own pg_hba.conf.

use crate::cluster::Cluster;
use crate::harness::*;

fn start_cluster() -> Option<Cluster> {
    let cluster = Cluster::start(
        "host all md5user 127.0.0.1/32 md5\nhost all clearuser 127.0.0.1/32 password\n",
        "-c password_encryption=md5",
    )?;
    cluster.psql(
        "postgres",
        "CREATE USER md5user PASSWORD 'md5-secret'; CREATE USER clearuser PASSWORD 'clear-secret';",
    );
    Some(cluster)
}

#[tokio::test]
async fn md5_and_cleartext_logins_upstream() {
    let Some(cluster) = start_cluster() else {
        return;
    };
    for (user, password) in [("md5user", "md5-secret"), ("clearuser", "clear-secret")] {
        let extra = format!("dbname = \"postgres\"\npassword = \"{password}\"");
        let a = Airlock::start_with(Options {
            rules: PERMISSIVE,
            database_extra: &extra,
            upstream_port: Some(cluster.port),
            upstream_user: Some(user),
            ..Options::default()
        })
        .await;
        let c = a.connect().await;
        let who: String = c
            .query_one("SELECT current_user::text", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(who, user);
        // the wrong password is the database's refusal, passed on clearly
        let wrong = format!("dbname = \"postgres\"\npassword = \"not-{password}\"");
        let b = Airlock::start_with(Options {
            rules: PERMISSIVE,
            database_extra: &wrong,
            upstream_port: Some(cluster.port),
            upstream_user: Some(user),
            ..Options::default()
        })
        .await;
        let e = match tokio_postgres::connect(&b.conninfo(), tokio_postgres::NoTls).await {
            Ok(_) => panic!("{user} logged in with a wrong password"),
            Err(e) => e,
        };
        assert_eq!(sqlstate(&e), "08006");
        assert!(msg(&e).contains("28P01"), "{}", msg(&e));
    }
}
