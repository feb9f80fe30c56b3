//! Validating `[databases.NAME.iam]` into the settings of an RDS IAM credential source.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::raw::RawIam;
use super::{duration_or, relative};
use crate::credentials::{
    sts, AwsEnv, BaseCredentials, IamSettings, IamSource, RoleSettings, UpstreamCredentials,
};

/// `at`: where the table is (`databases.NAME.iam` or `databases.NAME.writer.iam`).
pub(super) fn validate(base: &Path, at: &str, iam: RawIam) -> Result<UpstreamCredentials, String> {
    let region_ok = !iam.region.is_empty()
        && iam
            .region
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !region_ok {
        return Err(format!(
            "{at}.region: {:?} is not a region like us-east-1",
            iam.region
        ));
    }
    let duration = |key: &str, v: Option<String>, default: Duration| {
        duration_or(&format!("{at}.{key}"), v, default)
    };
    let session = duration(
        "session_duration",
        iam.session_duration,
        Duration::from_secs(900),
    )?;
    if !(900..=43200).contains(&session.as_secs()) {
        return Err(format!("{at}.session_duration: STS accepts 15m to 12h"));
    }
    let timeout = duration("sts_timeout", iam.sts_timeout, Duration::from_secs(5))?;
    let role = match iam.role_arn {
        Some(arn) => {
            if !arn.starts_with("arn:") {
                return Err(format!("{at}.role_arn: {arn:?} is not an ARN"));
            }
            let endpoint = iam
                .sts_endpoint
                .unwrap_or_else(|| sts::default_endpoint(&iam.region));
            check_endpoint(at, &endpoint)?;
            Some(RoleSettings {
                role_arn: arn,
                external_id: iam.external_id,
                sts_endpoint: endpoint,
                duration: session,
            })
        }
        None if iam.external_id.is_some() || iam.sts_endpoint.is_some() => {
            return Err(format!("{at}: external_id and sts_endpoint need role_arn"));
        }
        None => None,
    };
    let base_creds = match (iam.profile, iam.credentials_file) {
        (None, None) => BaseCredentials::Chain(AwsEnv::from_process()),
        (profile, file) => BaseCredentials::Profile {
            file: file.map(|f| relative(base, &f)),
            profile: profile.unwrap_or_else(|| "default".into()),
        },
    };
    Ok(UpstreamCredentials::Iam(Arc::new(IamSource::new(
        IamSettings {
            region: iam.region,
            base: base_creds,
            role,
            timeout,
        },
    ))))
}

/// STS over HTTPS, or plain HTTP to a loopback stand-in only.
fn check_endpoint(at: &str, endpoint: &str) -> Result<(), String> {
    let url = reqwest::Url::parse(endpoint)
        .map_err(|e| format!("{at}.sts_endpoint {endpoint:?}: {e}"))?;
    let loopback = matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    match url.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        _ => Err(format!(
            "{at}.sts_endpoint {endpoint:?}: must be https:// (plain http only to loopback)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;
    use std::path::Path;

    fn parse(db: &str) -> Result<Config, String> {
        let text = format!("[databases.orders]\nhost = \"orders.abc.eu-west-1.rds.amazonaws.com\"\nuser = \"reader\"\n{db}");
        Config::parse(Path::new("airlock.toml"), &text).map_err(|e| e.to_string())
    }

    const IAM: &str = "credentials = \"iam\"\n[databases.orders.iam]\nregion = \"eu-west-1\"\nrole_arn = \"arn:aws:iam::123456789012:role/airlock-reader\"\n";

    #[test]
    fn iam_database_is_accepted_with_verify_full() {
        let c = parse(&format!(
            "tls = \"verify-full\"\nca_file = \"rds.pem\"\n{IAM}"
        ))
        .unwrap();
        assert!(c.databases["orders"].credentials.is_iam());
    }

    #[test]
    fn iam_is_refused_without_verify_full() {
        let e = parse(IAM).unwrap_err();
        assert!(e.contains("needs tls = \"verify-full\""), "{e}");
    }

    #[test]
    fn iam_misconfigurations_are_named() {
        let tls = "tls = \"verify-full\"\nca_file = \"rds.pem\"\n";
        let e = parse(&format!("{tls}password = \"x\"\n{IAM}")).unwrap_err();
        assert!(e.contains("takes no password"), "{e}");
        let e = parse(&format!("{tls}credentials = \"iam\"\n")).unwrap_err();
        assert!(e.contains("needs a [databases.orders.iam] table"), "{e}");
        let e = parse(&format!(
            "{tls}{IAM}sts_endpoint = \"http://sts.example.com/\"\n"
        ))
        .unwrap_err();
        assert!(e.contains("must be https://"), "{e}");
        let e = parse(&format!("{tls}{IAM}colour = \"blue\"\n")).unwrap_err();
        assert!(e.contains("unknown field"), "{e}");
        let e = parse(&format!("{tls}{IAM}session_duration = \"1m\"\n")).unwrap_err();
        assert!(e.contains("15m to 12h"), "{e}");
        let e = parse(&format!(
            "{tls}[databases.orders.iam]\nregion = \"eu-west-1\"\n"
        ))
        .unwrap_err();
        assert!(e.contains("needs credentials = \"iam\""), "{e}");
    }
}
