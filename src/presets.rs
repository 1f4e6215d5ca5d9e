//! Presets: a `Settings` saved as JSON, so a look can be kept and reused. Paths inside are kept
//! exactly as given (relative paths stay relative to wherever the preset is used from). An
//! Atelier PNG carries the same JSON, so either kind of file gives its settings back.

use crate::image_io::{read_png_settings, write_atomic, ImageError};
use crate::settings::Settings;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum PresetError {
    #[error("could not read preset {path}: {source}. Check that the file exists and is readable")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("preset {path} is not valid settings JSON ({message}); fix the file or save the preset again")]
    Parse { path: PathBuf, message: String },
    #[error(
        "{path} is a PNG without Atelier settings; only images rendered by Atelier carry them"
    )]
    NoSettings { path: PathBuf },
    #[error(transparent)]
    Image(#[from] ImageError),
}

const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

impl Settings {
    /// Reads a preset JSON file. Fields it lacks take their defaults.
    pub fn load_preset(path: &Path) -> Result<Settings, PresetError> {
        let text = std::fs::read_to_string(path).map_err(|source| PresetError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let s: Settings = serde_json::from_str(&text).map_err(|e| PresetError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        s.validate().map_err(|message| PresetError::Parse {
            path: path.to_path_buf(),
            message,
        })?;
        Ok(s)
    }

    /// Writes these settings as a pretty-printed preset, atomically (a crash never leaves half
    /// a preset where a good one was).
    pub fn save_preset(&self, path: &Path) -> Result<(), PresetError> {
        let mut json = serde_json::to_string_pretty(self).map_err(|e| PresetError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        json.push('\n');
        write_atomic(path, json.as_bytes())?;
        Ok(())
    }

    /// Settings from an Atelier PNG (its `atelier:settings` chunk) or from a preset JSON,
    /// told apart by the PNG signature.
    pub fn load_from_file(path: &Path) -> Result<Settings, PresetError> {
        let head = {
            use std::io::Read;
            let mut f = std::fs::File::open(path).map_err(|source| PresetError::Read {
                path: path.to_path_buf(),
                source,
            })?;
            let mut b = [0u8; 8];
            let n = f.read(&mut b).map_err(|source| PresetError::Read {
                path: path.to_path_buf(),
                source,
            })?;
            b[..n].to_vec()
        };
        if head == PNG_SIGNATURE {
            read_png_settings(path)?.ok_or_else(|| PresetError::NoSettings {
                path: path.to_path_buf(),
            })
        } else {
            Self::load_preset(path)
        }
    }
}
