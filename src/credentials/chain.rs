//! The network sources of the standard AWS credential chain: web identity
//! (STS `AssumeRoleWithWebIdentity` with the token file Kubernetes mounts for
//! EKS IRSA) and EC2 instance metadata (IMDSv2: a session token by PUT, then
//! the role's credentials by GET). The environment they read is passed in
//! ([`AwsEnv`]), never read from the process here.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::aws::{AwsCredentials, AwsEnv};
use super::{sts, CredentialsError};

/// IMDS's address when `AWS_EC2_METADATA_SERVICE_ENDPOINT` is not set.
pub const IMDS_ENDPOINT: &str = "http://169.254.169.254";

fn no(reason: String) -> CredentialsError {
    CredentialsError::NoCredentials(reason)
}

/// Sends one request within `timeout`; returns the status and body.
async fn exchange(
    req: reqwest::RequestBuilder,
    what: &str,
    timeout: Duration,
) -> Result<(reqwest::StatusCode, String), CredentialsError> {
    let send = async {
        let resp = req.timeout(timeout).send().await?;
        let status = resp.status();
        Ok::<_, reqwest::Error>((status, resp.text().await?))
    };
    match tokio::time::timeout(timeout, send).await {
        Err(_) => Err(no(format!(
            "{what} did not answer within {}ms",
            timeout.as_millis()
        ))),
        Ok(Err(e)) => Err(no(format!("{what}: {e}"))),
        Ok(Ok(x)) => Ok(x),
    }
}

/// Web identity, when `AWS_WEB_IDENTITY_TOKEN_FILE` and `AWS_ROLE_ARN` are
/// set (`None` otherwise): the token file's content exchanged at STS
/// (`AWS_ENDPOINT_URL_STS`, else the region's endpoint) for the role's
/// credentials. The call is not signed: the token is the proof.
pub async fn web_identity(
    env: &AwsEnv,
    http: &reqwest::Client,
    timeout: Duration,
) -> Option<Result<AwsCredentials, CredentialsError>> {
    let file = env.get("AWS_WEB_IDENTITY_TOKEN_FILE")?;
    let role = env.get("AWS_ROLE_ARN")?;
    Some(assume_with_web_identity(env, http, timeout, file, role).await)
}

async fn assume_with_web_identity(
    env: &AwsEnv,
    http: &reqwest::Client,
    timeout: Duration,
    file: &str,
    role: &str,
) -> Result<AwsCredentials, CredentialsError> {
    let token = std::fs::read_to_string(file)
        .map_err(|e| no(format!("AWS_WEB_IDENTITY_TOKEN_FILE {file}: {e}")))?;
    let endpoint = match (env.get("AWS_ENDPOINT_URL_STS"), env.region()) {
        (Some(url), _) => url.to_string(),
        (None, Some(region)) => sts::default_endpoint(region),
        (None, None) => "https://sts.amazonaws.com/".to_string(),
    };
    let session = sts::sanitize_identity(env.get("AWS_ROLE_SESSION_NAME").unwrap_or("airlock"));
    let body = form_urlencoded::Serializer::new(String::new())
        .append_pair("Action", "AssumeRoleWithWebIdentity")
        .append_pair("Version", "2011-06-15")
        .append_pair("RoleArn", role)
        .append_pair("RoleSessionName", &session)
        .append_pair("WebIdentityToken", token.trim())
        .finish();
    let req = http
        .post(&endpoint)
        .header(
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8",
        )
        .body(body);
    let what = format!("STS AssumeRoleWithWebIdentity at {endpoint}");
    let (status, text) = exchange(req, &what, timeout).await?;
    if let Some(code) = sts::error_code(&text) {
        return Err(no(format!(
            "{what} for {role}: {code} (HTTP {})",
            status.as_u16()
        )));
    }
    if !status.is_success() {
        return Err(no(format!("{what} for {role}: HTTP {}", status.as_u16())));
    }
    sts::parse_credentials(&text).map_err(|e| no(format!("{what}: {e}")))
}

/// EC2 instance metadata (IMDSv2), unless `AWS_EC2_METADATA_DISABLED=true`:
/// `None` when disabled.
pub async fn instance_metadata(
    env: &AwsEnv,
    http: &reqwest::Client,
    timeout: Duration,
) -> Option<Result<AwsCredentials, CredentialsError>> {
    if env
        .get("AWS_EC2_METADATA_DISABLED")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    {
        return None;
    }
    let base = env
        .get("AWS_EC2_METADATA_SERVICE_ENDPOINT")
        .unwrap_or(IMDS_ENDPOINT)
        .trim_end_matches('/')
        .to_string();
    Some(from_imds(&base, http, timeout).await)
}

async fn from_imds(
    base: &str,
    http: &reqwest::Client,
    timeout: Duration,
) -> Result<AwsCredentials, CredentialsError> {
    let what = format!("instance metadata at {base}");
    let put = http
        .put(format!("{base}/latest/api/token"))
        .header("x-aws-ec2-metadata-token-ttl-seconds", "21600");
    let (status, token) = exchange(put, &what, timeout).await?;
    if !status.is_success() {
        return Err(no(format!("{what}: token: HTTP {}", status.as_u16())));
    }
    let path = format!("{base}/latest/meta-data/iam/security-credentials/");
    let get = |url: String| {
        http.get(url)
            .header("x-aws-ec2-metadata-token", token.trim())
    };
    let (status, roles) = exchange(get(path.clone()), &what, timeout).await?;
    let role = roles.lines().next().unwrap_or("").trim();
    if !status.is_success() || role.is_empty() {
        return Err(no(format!(
            "{what}: no instance role (HTTP {})",
            status.as_u16()
        )));
    }
    let (status, text) = exchange(get(format!("{path}{role}")), &what, timeout).await?;
    if !status.is_success() {
        return Err(no(format!("{what}: role {role}: HTTP {}", status.as_u16())));
    }
    parse_imds(&text).map_err(|e| no(format!("{what}: role {role}: {e}")))
}

/// The JSON document IMDS serves for a role.
fn parse_imds(text: &str) -> Result<AwsCredentials, String> {
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let field = |name: &str| {
        v[name]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| format!("no {name}"))
    };
    if let Some(code) = v["Code"].as_str().filter(|c| *c != "Success") {
        return Err(format!("Code {code}"));
    }
    let expiration = DateTime::parse_from_rfc3339(&field("Expiration")?)
        .map_err(|e| format!("Expiration: {e}"))?
        .with_timezone(&Utc);
    Ok(AwsCredentials {
        access_key_id: field("AccessKeyId")?,
        secret_access_key: field("SecretAccessKey")?,
        session_token: Some(field("Token")?),
        expiration: Some(expiration),
    })
}

#[cfg(test)]
mod tests {
    use super::parse_imds;

    #[test]
    fn reads_the_imds_role_document() {
        let doc = r#"{"Code":"Success","LastUpdated":"2026-11-21T10:00:00Z","Type":"AWS-HMAC",
            "AccessKeyId":"ASIAIMDS","SecretAccessKey":"s","Token":"t","Expiration":"2026-11-21T16:00:00Z"}"#;
        let c = parse_imds(doc).unwrap();
        assert_eq!(c.access_key_id, "ASIAIMDS");
        assert_eq!(c.session_token.as_deref(), Some("t"));
        assert!(c.expiration.is_some());
        assert!(parse_imds(r#"{"Code":"AssumeRoleUnauthorizedAccess"}"#)
            .unwrap_err()
            .contains("AssumeRoleUnauthorizedAccess"));
    }
}
