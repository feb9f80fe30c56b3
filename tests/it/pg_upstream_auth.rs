//! airlock's own login upstream with SCRAM-SHA-256, md5 and cleartext password authentication,
//! against a throwaway PostgreSQL cluster this test starts (initdb/pg_ctl as
//! the postgres user) with its own pg_hba.conf.

use crate::cluster::Cluster;
use crate::harness::*;

fn start_cluster() -> Option<Cluster> {
    let cluster = Cluster::start(
        "host all md5user 127.0.0.1/32 md5\nhost all clearuser 127.0.0.1/32 password\nhost all scramuser 127.0.0.1/32 scram-sha-256\n",
        "-c password_encryption=md5",
    )?;
    cluster.psql(
        "postgres",
        "CREATE USER md5user PASSWORD 'md5-secret'; CREATE USER clearuser PASSWORD 'clear-secret'; \
         SET password_encryption = 'scram-sha-256'; CREATE USER scramuser PASSWORD 'scram-secret';",
    );
    Some(cluster)
}

#[tokio::test]
async fn scram_md5_and_cleartext_logins_upstream() {
    let Some(cluster) = start_cluster() else {
        return;
    };
    let logins = [
        ("scramuser", "scram-secret"),
        ("md5user", "md5-secret"),
        ("clearuser", "clear-secret"),
    ];
    for (user, password) in logins {
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
        assert_eq!(current_user(&c).await, user);
        // A second session while the first holds its upstream connection:
        // a new login upstream (for SCRAM, with the salted password kept
        // from the first).
        let second = a.connect().await;
        assert_eq!(current_user(&second).await, user);
        let backends: i64 = c
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE usename = current_user",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        assert!(backends >= 2, "{user}: {backends} upstream sessions");
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
