//! SCRAM-SHA-256 (RFC 5802 / RFC 7677) as PostgreSQL speaks it: verifiers, the
//! server side (agents authenticating to airlock) and the client side (airlock
//! authenticating upstream). Passwords are used as given (no SASLprep), as
//! PostgreSQL does when SASLprep fails; ASCII passwords are unaffected.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// Iterations used for new verifiers (PostgreSQL's default).
pub const DEFAULT_ITERATIONS: u32 = 4096;

/// What airlock stores for an agent: never the password itself.
#[derive(Clone, PartialEq, Eq)]
pub struct ScramVerifier {
    pub iterations: u32,
    pub salt: Vec<u8>,
    pub stored_key: [u8; 32],
    pub server_key: [u8; 32],
}

impl std::fmt::Debug for ScramVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ScramVerifier(..)")
    }
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// The most PBKDF2 iterations an upstream server may ask for: ten million
/// take a couple of seconds of the session thread's CPU (PostgreSQL's default
/// is 4,096; a count near `u32::MAX` would take the better part of an hour).
const MAX_UPSTREAM_ITERATIONS: u32 = 10_000_000;

fn salted_password(password: &str, salt: &[u8], iterations: u32) -> [u8; 32] {
    let mut out = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sha256>(password.as_bytes(), salt, iterations, &mut out);
    out
}

/// How many upstream logins' salted passwords [`salted_upstream`] keeps.
const SALTED_KEPT: usize = 64;

/// One kept salted password: the password is known by its digest only.
struct Salted {
    password: [u8; 32],
    salt: Vec<u8>,
    iterations: u32,
    salted: [u8; 32],
}

impl Salted {
    fn is_for(&self, password: &[u8; 32], salt: &[u8], iterations: u32) -> bool {
        self.password == *password && self.iterations == iterations && self.salt == salt
    }
}

static SALTED: std::sync::Mutex<Vec<Salted>> = std::sync::Mutex::new(Vec::new());

fn digest(password: &str) -> [u8; 32] {
    Sha256::digest(password.as_bytes()).into()
}

/// `SaltedPassword` for logging in upstream. PBKDF2 costs about a millisecond
/// of CPU at PostgreSQL's 4,096 iterations, on the session's thread, and a
/// server's salt and count change only with its password: so the result is
/// kept (by password digest, salt and count; the last [`SALTED_KEPT`]) and a
/// new upstream connection does not pay it again, as PgBouncer keeps its
/// SCRAM keys. What is kept proves knowledge of the password to that server
/// as the password itself does, and the password is in memory anyway.
fn salted_upstream(password: &str, salt: &[u8], iterations: u32) -> [u8; 32] {
    let digest = digest(password);
    let same = |k: &Salted| k.is_for(&digest, salt, iterations);
    let kept = || SALTED.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(k) = kept().iter().find(|k| same(k)) {
        return k.salted;
    }
    // Derived outside the lock: other sessions' logins do not wait on it.
    let salted = salted_password(password, salt, iterations);
    let mut kept = kept();
    if !kept.iter().any(same) {
        if kept.len() >= SALTED_KEPT {
            kept.remove(0);
        }
        kept.push(Salted {
            password: digest,
            salt: salt.to_vec(),
            iterations,
            salted,
        });
    }
    salted
}

fn key32(bytes: &[u8]) -> Result<[u8; 32], String> {
    bytes
        .try_into()
        .map_err(|_| "key is not 32 bytes".to_string())
}

impl ScramVerifier {
    /// A new verifier for `password` with a random salt.
    pub fn generate(password: &str) -> ScramVerifier {
        let mut salt = vec![0u8; 16];
        rand::thread_rng().fill_bytes(&mut salt);
        ScramVerifier::with_salt(password, &salt, DEFAULT_ITERATIONS)
    }

    pub fn with_salt(password: &str, salt: &[u8], iterations: u32) -> ScramVerifier {
        let salted = salted_password(password, salt, iterations);
        let client_key = hmac(&salted, b"Client Key");
        ScramVerifier {
            iterations,
            salt: salt.to_vec(),
            stored_key: Sha256::digest(client_key).into(),
            server_key: hmac(&salted, b"Server Key"),
        }
    }

    /// Parses PostgreSQL's format: `SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:<ServerKey>`.
    pub fn parse(text: &str) -> Result<ScramVerifier, String> {
        let rest = text
            .strip_prefix("SCRAM-SHA-256$")
            .ok_or("not a SCRAM-SHA-256 verifier")?;
        let (params, keys) = rest.split_once('$').ok_or("missing keys")?;
        let (iter, salt) = params.split_once(':').ok_or("missing salt")?;
        let (stored, server) = keys.split_once(':').ok_or("missing server key")?;
        let iterations: u32 = iter.parse().map_err(|_| "bad iteration count")?;
        if iterations == 0 {
            return Err("bad iteration count".into());
        }
        let decode = |s: &str| B64.decode(s).map_err(|_| "bad base64".to_string());
        Ok(ScramVerifier {
            iterations,
            salt: decode(salt)?,
            stored_key: key32(&decode(stored)?)?,
            server_key: key32(&decode(server)?)?,
        })
    }

    /// A verifier no password matches, used for unknown agents so that the
    /// exchange looks the same and names cannot be probed.
    pub fn impossible() -> ScramVerifier {
        let mut v = ScramVerifier::generate("");
        rand::thread_rng().fill_bytes(&mut v.stored_key);
        v
    }
}

impl std::fmt::Display for ScramVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "SCRAM-SHA-256${}:{}${}:{}",
            self.iterations,
            B64.encode(&self.salt),
            B64.encode(self.stored_key),
            B64.encode(self.server_key)
        )
    }
}

fn nonce() -> String {
    let mut raw = [0u8; 18];
    rand::thread_rng().fill_bytes(&mut raw);
    B64.encode(raw)
}

fn attr(msg: &str, key: char) -> Option<&str> {
    msg.split(',')
        .find_map(|part| part.strip_prefix(key)?.strip_prefix('='))
}

/// The server side of one exchange.
pub struct ServerExchange {
    verifier: ScramVerifier,
    client_first_bare: String,
    server_first: String,
    gs2_header: String,
    nonce: String,
}

impl ServerExchange {
    /// Takes the client-first message; returns the exchange and the server-first message.
    pub fn start(verifier: ScramVerifier, client_first: &str) -> Result<(Self, String), String> {
        let (gs2_header, bare) = match client_first.as_bytes().first() {
            Some(b'n') | Some(b'y') => {
                let idx = nth_comma(client_first, 2).ok_or("malformed client-first message")?;
                client_first.split_at(idx + 1)
            }
            Some(b'p') => return Err("channel binding is not offered".into()),
            _ => return Err("malformed client-first message".into()),
        };
        let client_nonce = attr(bare, 'r').ok_or("client-first message has no nonce")?;
        let nonce = format!("{client_nonce}{}", self::nonce());
        let server_first = format!(
            "r={nonce},s={},i={}",
            B64.encode(&verifier.salt),
            verifier.iterations
        );
        let ex = ServerExchange {
            verifier,
            client_first_bare: bare.to_string(),
            server_first: server_first.clone(),
            gs2_header: gs2_header.to_string(),
            nonce,
        };
        Ok((ex, server_first))
    }

    /// Checks the client-final message; on success returns the server-final message.
    pub fn finish(self, client_final: &str) -> Result<String, String> {
        let proof_at = client_final
            .rfind(",p=")
            .ok_or("client-final has no proof")?;
        let without_proof = &client_final[..proof_at];
        let proof = B64
            .decode(&client_final[proof_at + 3..])
            .map_err(|_| "bad proof encoding")?;
        if attr(without_proof, 'c') != Some(B64.encode(self.gs2_header.as_bytes()).as_str()) {
            return Err("channel binding mismatch".into());
        }
        if attr(without_proof, 'r') != Some(self.nonce.as_str()) {
            return Err("nonce mismatch".into());
        }
        let auth_message = format!(
            "{},{},{}",
            self.client_first_bare, self.server_first, without_proof
        );
        let signature = hmac(&self.verifier.stored_key, auth_message.as_bytes());
        if proof.len() != 32 {
            return Err("bad proof length".into());
        }
        let client_key: Vec<u8> = proof.iter().zip(signature).map(|(p, s)| p ^ s).collect();
        let stored: [u8; 32] = Sha256::digest(&client_key).into();
        if !constant_time_eq(&stored, &self.verifier.stored_key) {
            return Err("password does not match".into());
        }
        let server_sig = hmac(&self.verifier.server_key, auth_message.as_bytes());
        Ok(format!("v={}", B64.encode(server_sig)))
    }
}

fn nth_comma(s: &str, n: usize) -> Option<usize> {
    s.match_indices(',').nth(n - 1).map(|(i, _)| i)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The client side of one exchange (airlock logging in upstream).
pub struct ClientExchange {
    password: String,
    client_first_bare: String,
    nonce: String,
    server_signature: Option<[u8; 32]>,
}

impl ClientExchange {
    /// Returns the exchange and the client-first message.
    pub fn start(password: &str) -> (Self, String) {
        let nonce = nonce();
        let bare = format!("n=,r={nonce}");
        let first = format!("n,,{bare}");
        (
            ClientExchange {
                password: password.to_string(),
                client_first_bare: bare,
                nonce,
                server_signature: None,
            },
            first,
        )
    }

    /// Takes server-first; returns client-final.
    pub fn respond(&mut self, server_first: &str) -> Result<String, String> {
        let nonce = attr(server_first, 'r').ok_or("server-first has no nonce")?;
        if !nonce.starts_with(&self.nonce) {
            return Err("server nonce does not extend ours".into());
        }
        let salt = B64
            .decode(attr(server_first, 's').ok_or("server-first has no salt")?)
            .map_err(|_| "bad salt")?;
        let iterations: u32 = attr(server_first, 'i')
            .and_then(|i| i.parse().ok())
            .filter(|&i| i > 0)
            .ok_or("bad iteration count")?;
        if iterations > MAX_UPSTREAM_ITERATIONS {
            return Err(format!(
                "the server asks for {iterations} SCRAM iterations, more than airlock \
                 derives ({MAX_UPSTREAM_ITERATIONS})"
            ));
        }
        let salted = salted_upstream(&self.password, &salt, iterations);
        let client_key = hmac(&salted, b"Client Key");
        let stored: [u8; 32] = Sha256::digest(client_key).into();
        let without_proof = format!("c=biws,r={nonce}");
        let auth_message = format!("{},{server_first},{without_proof}", self.client_first_bare);
        let signature = hmac(&stored, auth_message.as_bytes());
        let proof: Vec<u8> = client_key
            .iter()
            .zip(signature)
            .map(|(k, s)| k ^ s)
            .collect();
        let server_key = hmac(&salted, b"Server Key");
        self.server_signature = Some(hmac(&server_key, auth_message.as_bytes()));
        Ok(format!("{without_proof},p={}", B64.encode(proof)))
    }

    /// Checks the server-final message proves the server knew the password too.
    pub fn verify(&self, server_final: &str) -> Result<(), String> {
        let v = attr(server_final, 'v').ok_or("server-final has no signature")?;
        let got = B64.decode(v).map_err(|_| "bad server signature")?;
        match self.server_signature {
            Some(expected) if constant_time_eq(&got, &expected) => Ok(()),
            _ => Err("server signature does not match".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifier_round_trips_through_text() {
        let v = ScramVerifier::generate("demo-password");
        assert_eq!(ScramVerifier::parse(&v.to_string()).unwrap(), v);
    }

    #[test]
    fn client_and_server_agree_on_the_right_password() {
        let v = ScramVerifier::generate("s3cret");
        let (mut client, first) = ClientExchange::start("s3cret");
        let (server, server_first) = ServerExchange::start(v, &first).unwrap();
        let client_final = client.respond(&server_first).unwrap();
        let server_final = server.finish(&client_final).unwrap();
        client.verify(&server_final).unwrap();
    }

    #[test]
    fn upstream_iteration_counts_are_bounded() {
        let (mut client, _) = ClientExchange::start("pw");
        let salt = B64.encode(b"bounded-salt");
        let nonce = client.nonce.clone();
        let first = |i: &str| format!("r={nonce}server,s={salt},i={i}");
        for bad in ["0", "-1", "x", "10000001", "4294967295"] {
            let server_first = first(bad);
            assert!(client.respond(&server_first).is_err(), "i={bad}");
        }
        let server_first = first("4096");
        assert!(client.respond(&server_first).is_ok());
    }

    /// Whether a salted password is kept for these inputs.
    fn kept(password: &str, salt: &[u8], iterations: u32) -> bool {
        let digest = digest(password);
        SALTED
            .lock()
            .unwrap()
            .iter()
            .any(|k| k.is_for(&digest, salt, iterations))
    }

    #[test]
    fn upstream_salted_passwords_are_kept_per_password_salt_and_count() {
        let salt = b"kept-per-password-salt-and-count";
        assert!(!kept("first", salt, 4096));
        let first = salted_upstream("first", salt, 4096);
        assert_eq!(first, salted_password("first", salt, 4096));
        assert!(kept("first", salt, 4096));
        assert_eq!(salted_upstream("first", salt, 4096), first);
        // Another password, salt or count is derived afresh, never the kept one.
        let other = salted_upstream("second", salt, 4096);
        assert_eq!(other, salted_password("second", salt, 4096));
        assert_ne!(other, first);
        assert_eq!(
            salted_upstream("first", b"another salt", 4096),
            salted_password("first", b"another salt", 4096)
        );
        assert_eq!(
            salted_upstream("first", salt, 4097),
            salted_password("first", salt, 4097)
        );
        assert!(SALTED.lock().unwrap().len() <= SALTED_KEPT);
    }

    #[test]
    fn a_second_login_with_a_kept_salted_password_still_proves_it() {
        let v = ScramVerifier::generate("again");
        for _ in 0..2 {
            let (mut client, first) = ClientExchange::start("again");
            let (server, server_first) = ServerExchange::start(v.clone(), &first).unwrap();
            let client_final = client.respond(&server_first).unwrap();
            let server_final = server.finish(&client_final).unwrap();
            client.verify(&server_final).unwrap();
        }
        assert!(kept("again", &v.salt, v.iterations));
        // A wrong password with the same salt is not answered from the kept one.
        let (mut client, first) = ClientExchange::start("wrong");
        let (server, server_first) = ServerExchange::start(v, &first).unwrap();
        let client_final = client.respond(&server_first).unwrap();
        assert!(server.finish(&client_final).is_err());
    }

    #[test]
    fn wrong_password_is_refused() {
        let v = ScramVerifier::generate("s3cret");
        let (mut client, first) = ClientExchange::start("guess");
        let (server, server_first) = ServerExchange::start(v, &first).unwrap();
        let client_final = client.respond(&server_first).unwrap();
        assert!(server.finish(&client_final).is_err());
    }

    #[test]
    fn impossible_verifier_refuses_everything() {
        let (mut client, first) = ClientExchange::start("");
        let (server, server_first) =
            ServerExchange::start(ScramVerifier::impossible(), &first).unwrap();
        let client_final = client.respond(&server_first).unwrap();
        assert!(server.finish(&client_final).is_err());
    }

    #[test]
    fn malformed_messages_are_errors_not_panics() {
        let v = ScramVerifier::generate("x");
        for junk in ["", "n", "p=tls-unique,,n=,r=abc", "n,,n=", "zzz", "n,,"] {
            assert!(ServerExchange::start(v.clone(), junk).is_err(), "{junk:?}");
        }
        let (server, _) = ServerExchange::start(v, "n,,n=,r=abc").unwrap();
        assert!(server.finish("c=biws,r=abc").is_err());
    }
}
