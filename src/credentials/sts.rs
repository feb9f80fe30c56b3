//! STS `AssumeRole` over the awsQuery protocol: a SigV4-signed form POST in,
//! XML out. The agent's name becomes `RoleSessionName` and `SourceIdentity`
//! (so CloudTrail shows which agent acted) and the session is tagged.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::aws::AwsCredentials;
use super::sigv4::{self, Scope};
use super::CredentialsError;

pub const SERVICE: &str = "sts";

/// One AssumeRole call.
#[derive(Debug, Clone)]
pub struct AssumeRole<'a> {
    pub role_arn: &'a str,
    pub external_id: Option<&'a str>,
    pub session_name: &'a str,
    pub source_identity: &'a str,
    /// Session tags, in order.
    pub tags: &'a [(String, String)],
    pub duration: Duration,
}

impl AssumeRole<'_> {
    /// The form body, exactly as sent.
    pub fn body(&self) -> String {
        let mut form = form_urlencoded::Serializer::new(String::new());
        form.append_pair("Action", "AssumeRole")
            .append_pair("Version", "2011-06-15")
            .append_pair("RoleArn", self.role_arn)
            .append_pair("RoleSessionName", self.session_name)
            .append_pair("SourceIdentity", self.source_identity)
            .append_pair("DurationSeconds", &self.duration.as_secs().to_string());
        if let Some(id) = self.external_id {
            form.append_pair("ExternalId", id);
        }
        for (i, (k, v)) in self.tags.iter().enumerate() {
            form.append_pair(&format!("Tags.member.{}.Key", i + 1), k);
            form.append_pair(&format!("Tags.member.{}.Value", i + 1), v);
        }
        form.finish()
    }
}

/// The regional endpoint, `https://sts.{region}.amazonaws.com/`.
pub fn default_endpoint(region: &str) -> String {
    format!("https://sts.{region}.amazonaws.com/")
}

/// Calls AssumeRole at `endpoint` signed with `base`; the whole exchange is
/// bounded by `timeout`.
pub async fn assume_role(
    http: &reqwest::Client,
    endpoint: &str,
    region: &str,
    base: &AwsCredentials,
    call: &AssumeRole<'_>,
    timeout: Duration,
) -> Result<AwsCredentials, CredentialsError> {
    let url = reqwest::Url::parse(endpoint)
        .map_err(|e| CredentialsError::Sts(format!("endpoint {endpoint:?}: {e}")))?;
    let host = match (url.host_str(), url.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_string(),
        (None, _) => {
            return Err(CredentialsError::Sts(format!(
                "endpoint {endpoint:?} has no host"
            )))
        }
    };
    let body = call.body();
    let scope = Scope {
        time: Utc::now(),
        region,
        service: SERVICE,
    };
    let mut headers = vec![
        (
            "content-type".to_string(),
            "application/x-www-form-urlencoded; charset=utf-8".to_string(),
        ),
        ("host".to_string(), host),
        ("x-amz-date".to_string(), scope.amz_date()),
    ];
    if let Some(t) = &base.session_token {
        headers.push(("x-amz-security-token".to_string(), t.clone()));
    }
    let path = url.path().to_string();
    let auth = sigv4::authorization("POST", &path, &headers, body.as_bytes(), base, &scope);
    let mut req = http.post(url).timeout(timeout).body(body);
    for (k, v) in headers.iter().filter(|(k, _)| k != "host") {
        req = req.header(k, v);
    }
    req = req.header("authorization", auth);
    let send = async {
        let resp = req.send().await?;
        let status = resp.status();
        let text = resp.text().await?;
        Ok::<_, reqwest::Error>((status, text))
    };
    let (status, text) = match tokio::time::timeout(timeout, send).await {
        Err(_) => return Err(timed_out(endpoint, timeout)),
        Ok(Err(e)) if e.is_timeout() => return Err(timed_out(endpoint, timeout)),
        Ok(Err(e)) => {
            return Err(CredentialsError::Sts(format!(
                "cannot reach STS at {endpoint}: {}",
                error_chain(&e)
            )))
        }
        Ok(Ok(x)) => x,
    };
    if let Some(code) = error_code(&text) {
        return Err(CredentialsError::Sts(format!(
            "AssumeRole {}: {code} (HTTP {})",
            call.role_arn,
            status.as_u16()
        )));
    }
    if !status.is_success() {
        let snippet: String = text.chars().take(200).collect();
        return Err(CredentialsError::Sts(format!(
            "AssumeRole {}: HTTP {}: {snippet}",
            call.role_arn,
            status.as_u16()
        )));
    }
    parse_credentials(&text)
}

fn timed_out(endpoint: &str, timeout: Duration) -> CredentialsError {
    CredentialsError::Sts(format!(
        "STS at {endpoint} did not answer within {}ms",
        timeout.as_millis()
    ))
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// `Code: Message` of an STS error answer.
pub fn error_code(xml: &str) -> Option<String> {
    let code = tag(xml, "Code").filter(|_| xml.contains("<Error>"))?;
    Some(format!(
        "{code}: {}",
        tag(xml, "Message").unwrap_or_default()
    ))
}

/// The `<Credentials>` of an AssumeRoleResponse (or AssumeRoleWithWebIdentityResponse).
pub fn parse_credentials(xml: &str) -> Result<AwsCredentials, CredentialsError> {
    let creds = tag(xml, "Credentials")
        .ok_or_else(|| CredentialsError::Sts("AssumeRole answer has no <Credentials>".into()))?;
    let field = |name: &str| {
        tag(&creds, name)
            .ok_or_else(|| CredentialsError::Sts(format!("AssumeRole answer has no <{name}>")))
    };
    let expiration = field("Expiration")?;
    let expiration = DateTime::parse_from_rfc3339(expiration.trim())
        .map_err(|e| CredentialsError::Sts(format!("AssumeRole <Expiration> {expiration:?}: {e}")))?
        .with_timezone(&Utc);
    Ok(AwsCredentials {
        access_key_id: field("AccessKeyId")?,
        secret_access_key: field("SecretAccessKey")?,
        session_token: Some(field("SessionToken")?),
        expiration: Some(expiration),
    })
}

/// The unescaped text of the first `<name>…</name>` element.
fn tag(xml: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    let start = xml.find(&open)? + open.len();
    let end = start + xml[start..].find(&close)?;
    Some(unescape(&xml[start..end]))
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// Keeps what STS allows in RoleSessionName and SourceIdentity
/// (`[\w+=,.@-]`, 2 to 64 characters); anything else becomes `-`.
pub fn sanitize_identity(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_+=,.@-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .take(64)
        .collect();
    while out.len() < 2 {
        out.push('_');
    }
    out
}

/// Keeps what STS allows in a tag value (letters, digits, spaces and
/// `_.:/=+-@`, at most 256 characters).
pub fn sanitize_tag(value: &str) -> String {
    value
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == ' ' || "_.:/=+-@".contains(c) {
                c
            } else {
                '-'
            }
        })
        .take(256)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_an_assume_role_response() {
        let xml = r#"<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleResult>
  <SourceIdentity>agent-7</SourceIdentity>
    <AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/demo/agent-7</Arn>
      <AssumedRoleId>ARO123EXAMPLE123:agent-7</AssumedRoleId></AssumedRoleUser>
    <Credentials>
      <AccessKeyId>ASIAIOSFODNN7EXAMPLE</AccessKeyId>
      <SecretAccessKey>wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY</SecretAccessKey>
      <SessionToken>AQoDYXdzEPT//////////wEXAMPLE&amp;more</SessionToken>
      <Expiration>2019-11-09T13:34:41Z</Expiration>
    </Credentials>
    <PackedPolicySize>6</PackedPolicySize>
  </AssumeRoleResult>
  <ResponseMetadata><RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId></ResponseMetadata>
</AssumeRoleResponse>"#;
        let c = parse_credentials(xml).unwrap();
        assert_eq!(c.access_key_id, "ASIAIOSFODNN7EXAMPLE");
        assert_eq!(
            c.secret_access_key,
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY"
        );
        assert_eq!(
            c.session_token.as_deref(),
            Some("AQoDYXdzEPT//////////wEXAMPLE&more")
        );
        assert_eq!(
            c.expiration.unwrap().to_rfc3339(),
            "2019-11-09T13:34:41+00:00"
        );
    }

    #[test]
    fn names_are_sanitized_for_sts() {
        assert_eq!(sanitize_identity("agent-7"), "agent-7");
        assert_eq!(sanitize_identity("agent 7/β"), "agent-7--");
        assert_eq!(sanitize_identity("a"), "a_");
        assert_eq!(sanitize_identity(&"x".repeat(100)).len(), 64);
        assert_eq!(sanitize_tag("hold #42"), "hold -42");
    }

    #[test]
    fn body_carries_identity_and_tags() {
        let tags = vec![("agent".to_string(), "agent-7".to_string())];
        let call = AssumeRole {
            role_arn: "arn:aws:iam::123456789012:role/reader",
            external_id: Some("ext"),
            session_name: "agent-7",
            source_identity: "agent-7",
            tags: &tags,
            duration: Duration::from_secs(900),
        };
        let body = call.body();
        assert!(body.starts_with("Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Freader&RoleSessionName=agent-7&SourceIdentity=agent-7&DurationSeconds=900&ExternalId=ext"));
        assert!(body.ends_with("&Tags.member.1.Key=agent&Tags.member.1.Value=agent-7"));
    }
}
