//! Ed25519 keys for audit checkpoints and export sidecars.
//!
//! A key file holds the 32-byte secret seed as 64 hex digits (one line); its
//! public key file (`KEY.pub`) holds the 32-byte public key the same way.
//! `airlock audit keygen` writes both.

use std::path::Path;

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};

use super::chain::Checkpoint;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("audit key {what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error("audit key {what}: expected 64 hex digits (32 bytes)")]
    Malformed { what: String },
    #[error("audit key {what}: not a valid Ed25519 public key")]
    BadPublic { what: String },
}

/// Signs checkpoints and export sidecars.
#[derive(Clone)]
pub struct AuditSigner {
    key: SigningKey,
}

impl std::fmt::Debug for AuditSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditSigner")
            .field("public_key", &self.public_key_hex())
            .finish_non_exhaustive()
    }
}

fn seed(text: &str, what: &str) -> Result<[u8; 32], KeyError> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(text.trim(), &mut out).map_err(|_| KeyError::Malformed {
        what: what.to_owned(),
    })?;
    Ok(out)
}

impl AuditSigner {
    /// A new random key.
    pub fn generate() -> AuditSigner {
        let mut bytes = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
        AuditSigner {
            key: SigningKey::from_bytes(&bytes),
        }
    }

    /// Parses a secret seed written as 64 hex digits.
    pub fn from_hex(text: &str, what: &str) -> Result<AuditSigner, KeyError> {
        Ok(AuditSigner {
            key: SigningKey::from_bytes(&seed(text, what)?),
        })
    }

    pub fn load(path: &Path) -> Result<AuditSigner, KeyError> {
        let what = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| KeyError::Io {
            what: what.clone(),
            source,
        })?;
        AuditSigner::from_hex(&text, &what)
    }

    /// Writes the key to `path` (mode 0600, refusing to overwrite) and its
    /// public key to `path.pub`.
    pub fn write(&self, path: &Path) -> Result<(), KeyError> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let io = |source| KeyError::Io {
            what: path.display().to_string(),
            source,
        };
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(io)?;
        writeln!(file, "{}", hex::encode(self.key.to_bytes())).map_err(io)?;
        std::fs::write(public_path(path), format!("{}\n", self.public_key_hex())).map_err(io)
    }

    pub fn public_key(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    pub fn public_key_hex(&self) -> String {
        hex::encode(self.public_key().to_bytes())
    }

    /// Hex signature over `message`.
    pub fn sign(&self, message: &[u8]) -> String {
        hex::encode(self.key.sign(message).to_bytes())
    }

    /// Signs a checkpoint in place.
    pub fn seal(&self, cp: &mut Checkpoint) {
        cp.public_key = Some(self.public_key_hex());
        cp.signature = Some(self.sign(&cp.message()));
    }
}

/// `KEY.pub` beside `KEY`.
pub fn public_path(path: &Path) -> std::path::PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".pub");
    name.into()
}

/// A public key given as 64 hex digits or as a file holding them.
pub fn parse_public_key(given: &str) -> Result<VerifyingKey, KeyError> {
    let text = if Path::new(given).is_file() {
        std::fs::read_to_string(given).map_err(|source| KeyError::Io {
            what: given.to_owned(),
            source,
        })?
    } else {
        given.to_owned()
    };
    let bytes = seed(&text, given)?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| KeyError::BadPublic {
        what: given.to_owned(),
    })
}

/// Whether `signature` (hex) is `key`'s signature over `message`.
pub fn signature_valid(key: &VerifyingKey, message: &[u8], signature: &str) -> bool {
    let mut bytes = [0u8; 64];
    if hex::decode_to_slice(signature.trim(), &mut bytes).is_err() {
        return false;
    }
    key.verify(message, &Signature::from_bytes(&bytes)).is_ok()
}
