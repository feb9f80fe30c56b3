//! RDS IAM authentication tokens: a SigV4 query presign of
//! `GET https://{host}:{port}/?Action=connect&DBUser={user}` for service
//! `rds-db`, sent to the database as its cleartext password.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::aws::AwsCredentials;
use super::sigv4::{self, Scope};

/// How long a token is valid: RDS accepts at most 15 minutes.
pub const TOKEN_VALIDITY: Duration = Duration::from_secs(900);

pub const SERVICE: &str = "rds-db";

/// What a token is for.
#[derive(Debug, Clone)]
pub struct TokenRequest<'a> {
    pub host: &'a str,
    pub port: u16,
    pub user: &'a str,
    pub region: &'a str,
}

/// The token (the presigned URL without `https://`), valid from `now` for 15 minutes.
pub fn auth_token(req: &TokenRequest<'_>, creds: &AwsCredentials, now: DateTime<Utc>) -> String {
    let host = format!("{}:{}", req.host, req.port);
    let params = [
        ("Action".to_string(), "connect".to_string()),
        ("DBUser".to_string(), req.user.to_string()),
    ];
    let scope = Scope {
        time: now,
        region: req.region,
        service: SERVICE,
    };
    let query = sigv4::presign_get(&host, &params, creds, &scope, TOKEN_VALIDITY.as_secs());
    format!("{host}/?{query}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn creds(akid: &str, secret: &str) -> AwsCredentials {
        AwsCredentials {
            access_key_id: akid.into(),
            secret_access_key: secret.into(),
            session_token: None,
            expiration: None,
        }
    }

    /// awslabs/aws-sdk-rust, sdk/rds/src/auth_token.rs, test `signing_works`.
    #[test]
    fn aws_sdk_rust_vector() {
        let now = Utc.timestamp_opt(1724709600, 0).unwrap();
        let req = TokenRequest {
            host: "prod-instance.us-east-1.rds.amazonaws.com",
            port: 3306,
            user: "peccy",
            region: "us-east-1",
        };
        assert_eq!(
            auth_token(&req, &creds("akid", "secret"), now),
            "prod-instance.us-east-1.rds.amazonaws.com:3306/?Action=connect&DBUser=peccy&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=akid%2F20240826%2Fus-east-1%2Frds-db%2Faws4_request&X-Amz-Date=20240826T220000Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host&X-Amz-Signature=dd0cba843009474347af724090233265628ace491ea17ce3eb3da098b983ad89"
        );
    }

    /// boto/botocore, tests/unit/test_signers.py,
    /// `TestGenerateDBAuthToken.test_generate_db_auth_token`. botocore compares
    /// the query parameters as a set (`assert_url_equal`); so do we, and the
    /// signature must match exactly.
    #[test]
    fn botocore_vector() {
        let now = Utc.with_ymd_and_hms(2016, 11, 7, 17, 39, 33).unwrap();
        let req = TokenRequest {
            host: "prod-instance.us-east-1.rds.amazonaws.com",
            port: 3306,
            user: "someusername",
            region: "us-east-1",
        };
        let expected = concat!(
            "prod-instance.us-east-1.rds.amazonaws.com:3306/?Action=connect",
            "&DBUser=someusername&X-Amz-Algorithm=AWS4-HMAC-SHA256",
            "&X-Amz-Date=20161107T173933Z&X-Amz-SignedHeaders=host",
            "&X-Amz-Expires=900&X-Amz-Credential=akid%2F20161107%2F",
            "us-east-1%2Frds-db%2Faws4_request&X-Amz-Signature",
            "=d1138cdbc0ca63eec012ec0fc6c2267e03642168f5884a7795320d4c18374c61"
        );
        let got = auth_token(&req, &creds("akid", "skid"), now);
        let split = |url: &str| {
            let (base, query) = url.split_once("/?").unwrap();
            let mut params: Vec<String> = query.split('&').map(String::from).collect();
            params.sort();
            (base.to_string(), params)
        };
        assert_eq!(split(&got), split(expected));
        assert!(got.ends_with(
            "X-Amz-Signature=d1138cdbc0ca63eec012ec0fc6c2267e03642168f5884a7795320d4c18374c61"
        ));
    }

    #[test]
    fn session_token_is_signed_into_the_query() {
        let now = Utc.timestamp_opt(1724709600, 0).unwrap();
        let mut c = creds("akid", "secret");
        c.session_token = Some("tok/en+=".into());
        let req = TokenRequest {
            host: "h",
            port: 5432,
            user: "u",
            region: "eu-west-1",
        };
        let token = auth_token(&req, &c, now);
        assert!(token.contains("&X-Amz-Security-Token=tok%2Fen%2B%3D&X-Amz-SignedHeaders=host"));
    }
}
