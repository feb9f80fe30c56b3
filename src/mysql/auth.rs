//! Password scrambles: `mysql_native_password` (both sides) and the
//! `caching_sha2_password` fast path (as a client, upstream).

use sha1::{Digest, Sha1};
use sha2::Sha256;

pub const NATIVE: &str = "mysql_native_password";
pub const CACHING_SHA2: &str = "caching_sha2_password";
/// The password itself (RDS IAM tokens): only ever sent inside TLS.
pub const CLEAR: &str = "mysql_clear_password";

/// What `[agents.NAME] mysql_native` stores: hex SHA1(SHA1(password)).
pub fn native_hash(password: &str) -> String {
    hex::encode(Sha1::digest(Sha1::digest(password.as_bytes())))
}

/// The client's answer for `mysql_native_password`:
/// SHA1(password) XOR SHA1(scramble || SHA1(SHA1(password))). Empty for an
/// empty password.
pub fn native_scramble(password: &[u8], scramble: &[u8]) -> Vec<u8> {
    if password.is_empty() {
        return Vec::new();
    }
    let h1 = Sha1::digest(password);
    let h2 = Sha1::digest(h1);
    let mut h = Sha1::new();
    h.update(scramble);
    h.update(h2);
    let mask = h.finalize();
    h1.iter().zip(mask.iter()).map(|(a, b)| a ^ b).collect()
}

/// Checks a client's `mysql_native_password` answer against the stored
/// SHA1(SHA1(password)), in constant time.
pub fn native_verify(stored: &[u8; 20], scramble: &[u8], answer: &[u8]) -> bool {
    if answer.len() != 20 {
        return false;
    }
    let mut h = Sha1::new();
    h.update(scramble);
    h.update(stored);
    let mask = h.finalize();
    let h1: Vec<u8> = answer.iter().zip(mask.iter()).map(|(a, b)| a ^ b).collect();
    let candidate = Sha1::digest(&h1);
    candidate
        .iter()
        .zip(stored.iter())
        .fold(0u8, |acc, (a, b)| acc | (a ^ b))
        == 0
}

/// Checks a password received in clear (over TLS, in
/// `caching_sha2_password`'s full authentication) against the stored
/// SHA1(SHA1(password)), in constant time.
pub fn cleartext_verify(stored: &[u8; 20], password: &[u8]) -> bool {
    !password.is_empty()
        && Sha1::digest(Sha1::digest(password))
            .iter()
            .zip(stored.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// The client's answer for `caching_sha2_password`:
/// SHA256(password) XOR SHA256(SHA256(SHA256(password)) || scramble).
pub fn caching_sha2_scramble(password: &[u8], scramble: &[u8]) -> Vec<u8> {
    if password.is_empty() {
        return Vec::new();
    }
    let h1 = Sha256::digest(password);
    let h2 = Sha256::digest(h1);
    let mut h = Sha256::new();
    h.update(h2);
    h.update(scramble);
    let mask = h.finalize();
    h1.iter().zip(mask.iter()).map(|(a, b)| a ^ b).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn native_round_trip() {
        let scramble = b"01234567890123456789";
        let stored: [u8; 20] = hex::decode(native_hash("secret"))
            .unwrap()
            .try_into()
            .unwrap();
        let answer = native_scramble(b"secret", scramble);
        assert!(native_verify(&stored, scramble, &answer));
        let wrong = native_scramble(b"Secret", scramble);
        assert!(!native_verify(&stored, scramble, &wrong));
        assert!(!native_verify(&stored, scramble, &[]));
        assert!(cleartext_verify(&stored, b"secret"));
        assert!(!cleartext_verify(&stored, b"secreT"));
    }

    #[test]
    fn native_hash_matches_mysql_password_function() {
        // SELECT PASSWORD('secret') on MariaDB: *14E65567ABDB5135D0CFD9A70B3032C179A49EE7
        assert_eq!(
            native_hash("secret").to_uppercase(),
            "14E65567ABDB5135D0CFD9A70B3032C179A49EE7"
        );
    }
}
