//! Cross-site request forgery: a state-changing request from a browser must come
//! from our own pages (Origin / Sec-Fetch-Site) and carry the session's token.
//! Bearer-token calls carry no ambient credential and need neither.

use axum::http::HeaderMap;

use super::auth::{constant_eq, Caller};
use crate::config::Config;

/// The header API calls from a signed-in browser carry the token in.
pub const HEADER: &str = "x-csrf-token";

/// Why a request was refused as possibly forged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Forgery {
    #[error("the request came from another site ({0})")]
    CrossSite(String),
    #[error("the request has no CSRF token")]
    MissingToken,
    #[error("the request's CSRF token is wrong")]
    WrongToken,
}

/// Refuses requests a browser sent on behalf of another site. Browsers send
/// `Sec-Fetch-Site` and `Origin` on POST; when present they must say "us".
pub fn same_origin(config: &Config, headers: &HeaderMap) -> Result<(), Forgery> {
    if let Some(site) = header(headers, "sec-fetch-site") {
        if site != "same-origin" {
            return Err(Forgery::CrossSite(format!("Sec-Fetch-Site: {site}")));
        }
    }
    if let Some(origin) = header(headers, "origin") {
        if !own_origins(config, headers).iter().any(|o| *o == origin) {
            return Err(Forgery::CrossSite(format!("Origin: {origin}")));
        }
    }
    Ok(())
}

/// Checks a state-changing request: origin, then the token (`presented`, from a
/// form field or the [`HEADER`]) against the caller's.
pub fn check(
    config: &Config,
    headers: &HeaderMap,
    caller: &Caller,
    presented: Option<&str>,
) -> Result<(), Forgery> {
    let Some(expected) = caller.csrf() else {
        return Ok(());
    };
    same_origin(config, headers)?;
    let presented = presented
        .filter(|t| !t.is_empty())
        .ok_or(Forgery::MissingToken)?;
    if constant_eq(presented.as_bytes(), expected.as_bytes()) {
        Ok(())
    } else {
        Err(Forgery::WrongToken)
    }
}

/// The token from the API header.
pub fn from_header(headers: &HeaderMap) -> Option<&str> {
    header(headers, HEADER)
}

/// Origins our own pages have: the configured public URL's, and this Host's.
fn own_origins(config: &Config, headers: &HeaderMap) -> Vec<String> {
    let mut origins = vec![origin_of(&config.server.public_url)];
    if let Some(host) = header(headers, "host") {
        origins.push(format!("http://{host}"));
        origins.push(format!("https://{host}"));
    }
    origins
}

/// `scheme://host[:port]` of a URL.
fn origin_of(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
            format!("{}://{}", scheme.to_ascii_lowercase(), authority)
        }
        None => url.to_owned(),
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

#[cfg(test)]
mod tests {
    use super::origin_of;

    #[test]
    fn origin_of_urls() {
        assert_eq!(
            origin_of("https://airlock.example.com/x?y"),
            "https://airlock.example.com"
        );
        assert_eq!(origin_of("HTTP://127.0.0.1:8080"), "http://127.0.0.1:8080");
    }
}
