//! The `iam` credential source: base AWS credentials, optionally exchanged for
//! a role's through STS (cached, refreshed before expiry), signing one RDS IAM
//! token per new upstream connection.

use std::collections::HashMap;
use std::time::Duration;

use chrono::Utc;

use super::aws::{AwsCredentials, BaseCredentials};
use super::rds_token::{self, TokenRequest};
use super::sts::{self, AssumeRole};
use super::{CredentialsError, Requester};

/// Assumed credentials are replaced this long before they expire.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(300);

/// The role to assume for each agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleSettings {
    pub role_arn: String,
    pub external_id: Option<String>,
    /// The STS endpoint URL (default: the region's).
    pub sts_endpoint: String,
    /// `DurationSeconds` asked of STS (900 to 43200).
    pub duration: Duration,
}

/// A validated `[databases.NAME.iam]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IamSettings {
    pub region: String,
    pub base: BaseCredentials,
    pub role: Option<RoleSettings>,
    /// Bound on one STS call.
    pub timeout: Duration,
}

type CacheKey = (String, Option<String>);

/// Mints RDS IAM tokens; shared by every session of one database.
pub struct IamSource {
    settings: IamSettings,
    http: reqwest::Client,
    assumed: tokio::sync::Mutex<HashMap<CacheKey, AwsCredentials>>,
    /// Temporary base credentials (web identity, instance metadata) while
    /// fresh; static ones are read again each time.
    base: tokio::sync::Mutex<Option<AwsCredentials>>,
}

impl std::fmt::Debug for IamSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IamSource")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl IamSource {
    pub fn new(settings: IamSettings) -> IamSource {
        let http = reqwest::Client::builder()
            .connect_timeout(settings.timeout)
            .build()
            .unwrap_or_default();
        IamSource {
            settings,
            http,
            assumed: Default::default(),
            base: Default::default(),
        }
    }

    pub fn settings(&self) -> &IamSettings {
        &self.settings
    }

    /// The credentials a token for `who` is signed with: the role's, assumed
    /// for this agent (when `cached`, from the cache while they have more than
    /// [`REFRESH_MARGIN`] left; else assumed for this call alone and never
    /// kept), or the base credentials when no role is set.
    pub async fn credentials(
        &self,
        who: &Requester<'_>,
        cached: bool,
    ) -> Result<AwsCredentials, CredentialsError> {
        let base = self.base().await?;
        let Some(role) = &self.settings.role else {
            return Ok(base);
        };
        if !cached {
            return self.assume(role, &base, who).await;
        }
        let key = (who.agent.to_string(), who.approval.map(String::from));
        let mut cache = self.assumed.lock().await;
        let now = Utc::now();
        let fresh = |c: &AwsCredentials| {
            c.expiration
                .is_some_and(|e| e - now > chrono::Duration::from_std(REFRESH_MARGIN).unwrap())
        };
        if let Some(c) = cache.get(&key).filter(|c| fresh(c)) {
            return Ok(c.clone());
        }
        let assumed = self.assume(role, &base, who).await?;
        cache.retain(|_, c| c.expiration.is_some_and(|e| e > now));
        cache.insert(key, assumed.clone());
        Ok(assumed)
    }

    /// The base credentials: temporary ones from the cache while they have
    /// more than [`REFRESH_MARGIN`] left.
    async fn base(&self) -> Result<AwsCredentials, CredentialsError> {
        let mut cached = self.base.lock().await;
        let margin = chrono::Duration::from_std(REFRESH_MARGIN).unwrap();
        if let Some(c) = cached
            .as_ref()
            .filter(|c| c.expiration.is_some_and(|e| e - Utc::now() > margin))
        {
            return Ok(c.clone());
        }
        let fresh = self
            .settings
            .base
            .load(&self.http, self.settings.timeout)
            .await?;
        *cached = fresh.expiration.is_some().then(|| fresh.clone());
        Ok(fresh)
    }

    /// One STS AssumeRole for `who`: session name and source identity are the
    /// agent, tagged with the agent and the approval (when there is one).
    async fn assume(
        &self,
        role: &RoleSettings,
        base: &AwsCredentials,
        who: &Requester<'_>,
    ) -> Result<AwsCredentials, CredentialsError> {
        let name = sts::sanitize_identity(who.agent);
        let mut tags = vec![("agent".to_string(), sts::sanitize_tag(who.agent))];
        if let Some(a) = who.approval {
            tags.push(("approval".to_string(), sts::sanitize_tag(a)));
        }
        let call = AssumeRole {
            role_arn: &role.role_arn,
            external_id: role.external_id.as_deref(),
            session_name: &name,
            source_identity: &name,
            tags: &tags,
            duration: role.duration,
        };
        let assumed = sts::assume_role(
            &self.http,
            &role.sts_endpoint,
            &self.settings.region,
            base,
            &call,
            self.settings.timeout,
        )
        .await?;
        tracing::info!(role = %role.role_arn, agent = %who.agent, approval = ?who.approval, expires = ?assumed.expiration, "assumed role");
        Ok(assumed)
    }

    /// A new RDS IAM token for `user` at `host:port`, valid 15 minutes
    /// (`cached`: see [`IamSource::credentials`]).
    pub async fn token(
        &self,
        host: &str,
        port: u16,
        user: &str,
        who: &Requester<'_>,
        cached: bool,
    ) -> Result<String, CredentialsError> {
        let creds = self.credentials(who, cached).await?;
        let req = TokenRequest {
            host,
            port,
            user,
            region: &self.settings.region,
        };
        Ok(rds_token::auth_token(&req, &creds, Utc::now()))
    }
}
