//! The features digest: SHA-256 of the `features.*` tensors as F32 little-endian, in name
//! order. It is exactly the data section of the file `fetch` writes, and the same for every copy
//! of the same weights (the full hub file, F16 or F32, any metadata or commit), so a hub
//! download can be pinned to it although only byte ranges of the hub file are downloaded.

use super::config::HubConfig;
pub(crate) use super::dtype::hex;
use super::error::WeightsError;
use super::model::Model;

type Result<T> = std::result::Result<T, WeightsError>;

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
