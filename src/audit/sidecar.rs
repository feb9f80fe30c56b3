//! Exports an auditor can verify offline: beside `FILE` goes `FILE.sig.json`
//! with the file's SHA-256, its record count and id range, the chain's head at
//! export time, and an Ed25519 signature over those.
//!
//! The signed message is the UTF-8 text
//! `"airlock-audit-export-v1\n{sha256}\n{records}\n{min_id}\n{max_id}\n{chain_head_id}\n{chain_head_hash}\n{exported_at}\n{format}\n"`
//! with `-` for an absent value and `exported_at` in RFC 3339 UTC with six
//! fractional digits.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};
use ed25519_dalek::VerifyingKey;
use sha2::{Digest, Sha256};

use super::export::{export_summary, ExportFormat};
use super::signing::{parse_public_key, signature_valid, AuditSigner};
use crate::store::{AuditFilter, Store, StoreError};

/// The contents of `FILE.sig.json`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Sidecar {
    /// Always 1 for this layout.
    pub version: u32,
    pub format: ExportFormat,
    /// SHA-256 of the export file's bytes, hex.
    pub sha256: String,
    pub records: u64,
    pub min_id: Option<i64>,
    pub max_id: Option<i64>,
    /// The audit chain's newest record when the export finished.
    pub chain_head_id: Option<i64>,
    pub chain_head_hash: Option<String>,
    pub exported_at: DateTime<Utc>,
    /// Hex Ed25519 public key and signature; absent when no key is configured.
    pub public_key: Option<String>,
    pub signature: Option<String>,
}

impl Sidecar {
    /// The bytes the signature covers.
    pub fn message(&self) -> Vec<u8> {
        fn opt<T: ToString>(v: &Option<T>) -> String {
            v.as_ref().map_or_else(|| "-".to_owned(), T::to_string)
        }
        format!(
            "airlock-audit-export-v1\n{}\n{}\n{}\n{}\n{}\n{}\n{}\n{}\n",
            self.sha256,
            self.records,
            opt(&self.min_id),
            opt(&self.max_id),
            opt(&self.chain_head_id),
            opt(&self.chain_head_hash),
            self.exported_at
                .to_rfc3339_opts(SecondsFormat::Micros, true),
            self.format.as_str(),
        )
        .into_bytes()
    }
}

/// `FILE.sig.json` beside `FILE`.
pub fn sidecar_path(file: &Path) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(".sig.json");
    name.into()
}

/// A writer that hashes what passes through it.
struct Hashing<'a> {
    inner: &'a mut dyn Write,
    sha: Sha256,
}

impl Write for Hashing<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.sha.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Exports to `out` and returns the sidecar describing what was written
/// (signed when `signer` is given). The caller writes the sidecar.
pub fn export_signed(
    store: &dyn Store,
    filter: &AuditFilter,
    format: ExportFormat,
    out: &mut dyn Write,
    signer: Option<&AuditSigner>,
) -> Result<Sidecar, StoreError> {
    let mut hashing = Hashing {
        inner: out,
        sha: Sha256::new(),
    };
    let summary = export_summary(store, filter, format, &mut hashing)?;
    // Read after the export: every exported record is at or before this head.
    let head = store.audit_head()?;
    let mut sidecar = Sidecar {
        version: 1,
        format,
        sha256: hex::encode(hashing.sha.finalize()),
        records: summary.records,
        min_id: summary.min_id,
        max_id: summary.max_id,
        chain_head_id: head.as_ref().map(|h| h.id),
        chain_head_hash: head.map(|h| h.hash),
        exported_at: Utc::now().trunc_subsecs(6),
        public_key: None,
        signature: None,
    };
    if let Some(signer) = signer {
        sidecar.public_key = Some(signer.public_key_hex());
        sidecar.signature = Some(signer.sign(&sidecar.message()));
    }
    Ok(sidecar)
}

/// Marks the trailer line of an export that carries its sidecar inside
/// (web and API downloads): `{"airlock_export_sidecar": {...}}` in JSON Lines
/// and OCSF, a row `#airlock-export-sidecar,"{...}"` in CSV. The hash and the
/// record count cover the bytes before it.
pub const TRAILER_KEY: &str = "airlock_export_sidecar";
const CSV_TRAILER: &str = "#airlock-export-sidecar,";

/// The trailer line for `sidecar`, with its line end.
pub fn trailer(sidecar: &Sidecar) -> String {
    let json = serde_json::to_string(sidecar).expect("a sidecar serializes");
    match sidecar.format {
        ExportFormat::Csv => format!("{CSV_TRAILER}\"{}\"\r\n", json.replace('"', "\"\"")),
        _ => format!("{{\"{TRAILER_KEY}\":{json}}}\n"),
    }
}

/// Exports with the sidecar as the last line (see [`TRAILER_KEY`]).
pub fn export_with_trailer(
    store: &dyn Store,
    filter: &AuditFilter,
    format: ExportFormat,
    out: &mut dyn Write,
    signer: Option<&AuditSigner>,
) -> Result<Sidecar, StoreError> {
    let sidecar = export_signed(store, filter, format, out, signer)?;
    out.write_all(trailer(&sidecar).as_bytes())?;
    out.flush()?;
    Ok(sidecar)
}

/// The sidecar in `file`'s last line, and how many bytes come before it.
fn embedded(file: &Path) -> Result<Option<(Sidecar, u64)>, String> {
    let err = |e: std::io::Error| format!("{}: {e}", file.display());
    let mut f = std::fs::File::open(file).map_err(err)?;
    let len = f.metadata().map_err(err)?.len();
    let tail_len = len.min(1 << 20);
    std::io::Seek::seek(&mut f, std::io::SeekFrom::Start(len - tail_len)).map_err(err)?;
    let mut tail = Vec::new();
    f.read_to_end(&mut tail).map_err(err)?;
    let body = tail.strip_suffix(b"\n").unwrap_or(&tail);
    let body = body.strip_suffix(b"\r").unwrap_or(body);
    let start = body.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    let line = String::from_utf8_lossy(&body[start..]);
    let json = if let Some(quoted) = line.strip_prefix(CSV_TRAILER) {
        let inner = quoted.strip_prefix('"').and_then(|q| q.strip_suffix('"'));
        match inner {
            Some(inner) => inner.replace("\"\"", "\""),
            None => return Ok(None),
        }
    } else if line.contains(TRAILER_KEY) {
        let value: serde_json::Value = match serde_json::from_str(&line) {
            Ok(v) => v,
            Err(_) => return Ok(None),
        };
        match value.get(TRAILER_KEY) {
            Some(sidecar) => sidecar.to_string(),
            None => return Ok(None),
        }
    } else {
        return Ok(None);
    };
    let sidecar: Sidecar =
        serde_json::from_str(&json).map_err(|e| format!("{}: the trailer: {e}", file.display()))?;
    Ok(Some((sidecar, len - tail_len + start as u64)))
}

/// Writes a sidecar as pretty JSON.
pub fn write_sidecar(path: &Path, sidecar: &Sidecar) -> std::io::Result<()> {
    let mut text = serde_json::to_string_pretty(sidecar).map_err(std::io::Error::other)?;
    text.push('\n');
    std::fs::write(path, text)
}

/// The sidecar named (or `FILE.sig.json`), else the one in the file's
/// trailer; and how many of the file's bytes it covers.
fn find_sidecar(file: &Path, named: Option<&Path>) -> Result<(Sidecar, u64), String> {
    let path = named.map_or_else(|| sidecar_path(file), Path::to_path_buf);
    if named.is_none() && !path.exists() {
        return embedded(file)?.ok_or_else(|| {
            format!(
                "{} not found, and {} has no sidecar trailer",
                path.display(),
                file.display()
            )
        });
    }
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let sidecar = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let len = std::fs::metadata(file)
        .map_err(|e| format!("{}: {e}", file.display()))?
        .len();
    Ok((sidecar, len))
}

/// What verify-export found; `Err` holds the first failure.
#[derive(Debug)]
pub struct ExportCheck {
    pub sidecar: Sidecar,
    /// The signature was checked against a trusted key (not just the embedded one).
    pub trusted_key: bool,
}

/// Checks `file` against its sidecar (default `FILE.sig.json`): the hash, the
/// line count for JSON Lines and OCSF, and the signature (against `trusted`,
/// else against the key embedded in the sidecar).
pub fn verify_export(
    file: &Path,
    sidecar_file: Option<&Path>,
    trusted: Option<&VerifyingKey>,
) -> Result<ExportCheck, String> {
    let (sidecar, limit) = find_sidecar(file, sidecar_file)?;
    let f = std::fs::File::open(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let mut f = f.take(limit);
    let mut sha = Sha256::new();
    let mut lines = 0u64;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = f
            .read(&mut buf)
            .map_err(|e| format!("{}: {e}", file.display()))?;
        if n == 0 {
            break;
        }
        sha.update(&buf[..n]);
        lines += buf[..n].iter().filter(|b| **b == b'\n').count() as u64;
    }
    let sha = hex::encode(sha.finalize());
    if sha != sidecar.sha256 {
        return Err(format!(
            "the file's SHA-256 is {sha}, the sidecar says {}: the export was changed",
            sidecar.sha256
        ));
    }
    if sidecar.format != ExportFormat::Csv && lines != sidecar.records {
        return Err(format!(
            "the file has {lines} records, the sidecar says {}",
            sidecar.records
        ));
    }
    let Some(signature) = &sidecar.signature else {
        return match trusted {
            Some(_) => Err("the sidecar is not signed".into()),
            None => Ok(ExportCheck {
                sidecar,
                trusted_key: false,
            }),
        };
    };
    let embedded = match &sidecar.public_key {
        Some(k) => Some(parse_public_key(k).map_err(|e| e.to_string())?),
        None => None,
    };
    let key = trusted
        .or(embedded.as_ref())
        .ok_or("the sidecar is signed but names no public key")?;
    if !signature_valid(key, &sidecar.message(), signature) {
        return Err("the sidecar's signature does not verify".into());
    }
    Ok(ExportCheck {
        trusted_key: trusted.is_some(),
        sidecar,
    })
}
