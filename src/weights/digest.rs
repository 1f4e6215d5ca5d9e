//! The features digest: SHA-256 of the `features.*` tensors as F32 little-endian, in name
//! order. It is exactly the data section of the file `fetch` writes, and the same for every copy
//! of the same weights (the full hub file, F16 or F32, any metadata or commit), so a hub
//! download can be pinned to it although only byte ranges of the hub file are downloaded.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use sha2::{Digest, Sha256};

use super::config::HubConfig;
use super::error::WeightsError;
use super::inspect::{decode_f32, float_size, VggLayout};
use super::model::Model;

type Result<T> = std::result::Result<T, WeightsError>;

pub(crate) fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The features digest a download must have, and where that value came from (for messages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pin {
    sha256: String,
    origin: String,
}

impl Pin {
    /// What a hub download of `model` is checked against: `cfg.expected_sha256`
    /// (`ATELIER_WEIGHTS_SHA256`) when set, else the digest built in for the model, if known.
    pub(crate) fn for_download(model: Model, cfg: &HubConfig) -> Result<Option<Pin>> {
        if let Some(value) = &cfg.expected_sha256 {
            let v = value.trim().to_ascii_lowercase();
            if v.len() != 64 || !v.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(WeightsError::BadPin {
                    value: value.clone(),
                });
            }
            return Ok(Some(Pin {
                sha256: v,
                origin: "set by ATELIER_WEIGHTS_SHA256".into(),
            }));
        }
        Ok(model.features_sha256().map(|sha| Pin {
            sha256: sha.to_string(),
            origin: format!("built into Atelier for {}", model.repo()),
        }))
    }

    /// `DigestMismatch` unless `found` is the pinned value; `url` names the source.
    pub(crate) fn check(&self, found: &str, url: &str) -> Result<()> {
        if found == self.sha256 {
            return Ok(());
        }
        Err(WeightsError::DigestMismatch {
            url: url.to_string(),
            expected: self.sha256.clone(),
            found: found.to_string(),
            pin: self.origin.clone(),
        })
    }
}

/// Hashes the features of a file on disk whose header is already parsed: one read per
/// tensor, in name order, widening F16/BF16 to F32 first.
pub(crate) fn features_digest(
    file: File,
    path: &Path,
    header_len: u64,
    layout: &VggLayout,
) -> Result<String> {
    let mut order: Vec<_> = layout.features.iter().collect();
    order.sort_by(|a, b| a.0.cmp(&b.0));
    let mut r = BufReader::with_capacity(1 << 20, file);
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut values = Vec::new();
    let mut bytes = Vec::new();
    let io = |e| WeightsError::io("read", path, e);
    for (_, t) in order {
        let elem = float_size(t.dtype).unwrap_or(4);
        r.seek(SeekFrom::Start(header_len + t.begin)).map_err(io)?;
        let mut left = t.end - t.begin;
        while left > 0 {
            let n = left.min((buf.len() / elem * elem) as u64) as usize;
            r.read_exact(&mut buf[..n]).map_err(io)?;
            decode_f32(t.dtype, &buf[..n], &mut values);
            bytes.clear();
            bytes.extend(values.iter().flat_map(|v| v.to_le_bytes()));
            hasher.update(&bytes);
            left -= n as u64;
        }
    }
    Ok(hex(&hasher.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_come_from_the_config_first_and_must_be_sha256() {
        let mut cfg = HubConfig::from_vars(|_| None);
        let upper = "AB".repeat(32);
        cfg.expected_sha256 = Some(format!(" {upper} "));
        let pin = Pin::for_download(Model::Vgg19, &cfg).unwrap().unwrap();
        assert!(pin.check(&"ab".repeat(32), "u").is_ok());
        let e = pin.check(&"cd".repeat(32), "u").unwrap_err().to_string();
        assert!(
            e.contains(&"ab".repeat(32)) && e.contains(&"cd".repeat(32)),
            "{e}"
        );
        cfg.expected_sha256 = Some("abc".into());
        assert!(matches!(
            Pin::for_download(Model::Vgg19, &cfg),
            Err(WeightsError::BadPin { .. })
        ));
        cfg.expected_sha256 = None;
        assert_eq!(
            Pin::for_download(Model::Vgg19, &cfg).unwrap().is_some(),
            Model::Vgg19.features_sha256().is_some()
        );
    }
}
