//! Finding and reading the converted instant-mode weights (assets/instant/*.safetensors, made by
//! scripts/convert_instant.py from the ONNX files).

use super::InstantError;
use crate::error::{Error, Result};
use candle_core::{DType, Device, Tensor};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

pub const PREDICT_FILE: &str = "arbitrary_predict.safetensors";
pub const TRANSFORM_FILE: &str = "arbitrary_transform.safetensors";
pub const MULTISTYLE_FILE: &str = "multistyle26.safetensors";
const ALL: [&str; 3] = [PREDICT_FILE, TRANSFORM_FILE, MULTISTYLE_FILE];

/// Where to look: `instant/` in each of [`crate::assets::candidates`].
pub fn candidate_dirs() -> Vec<PathBuf> {
    crate::assets::candidates()
        .into_iter()
        .map(|d| d.join("instant"))
        .collect()
}

/// The folder holding all three instant-mode weight files: `explicit` alone when given (no
/// fallback, so a wrong path is reported, not papered over), else the first of
/// [`candidate_dirs`] that has them all.
pub fn locate(explicit: Option<&Path>) -> Result<PathBuf, InstantError> {
    let dirs = match explicit {
        Some(p) => vec![p.to_path_buf()],
        None => candidate_dirs(),
    };
    locate_in(&dirs)
}

/// The first of `dirs` holding all three weight files.
pub fn locate_in(dirs: &[PathBuf]) -> Result<PathBuf, InstantError> {
    if let Some(d) = dirs
        .iter()
        .find(|d| ALL.iter().all(|f| d.join(f).is_file()))
    {
        return Ok(d.clone());
    }
    // Name the first file missing from the most promising folder.
    let missing = dirs
        .iter()
        .find_map(|d| ALL.iter().find(|f| !d.join(f).is_file()))
        .unwrap_or(&PREDICT_FILE);
    Err(InstantError::Missing {
        file: (*missing).to_string(),
        searched: dirs
            .iter()
            .map(|d| d.display().to_string())
            .collect::<Vec<_>>()
            .join(", "),
    })
}

/// The tensors of one weights file, by name.
pub(crate) struct Weights {
    path: PathBuf,
    map: HashMap<String, Tensor>,
}

impl Weights {
    pub fn load(path: &Path, device: &Device) -> Result<Self> {
        let map = candle_core::safetensors::load(path, device).map_err(|e| {
            Error::weights(
                path,
                format!(
                    "cannot read it ({e}); regenerate it with scripts/convert_instant.py or \
                     reinstall Atelier"
                ),
            )
        })?;
        let map = map
            .into_iter()
            .map(|(k, v)| Ok((k, v.to_dtype(DType::F32)?)))
            .collect::<Result<_, candle_core::Error>>()?;
        Ok(Self {
            path: path.to_path_buf(),
            map,
        })
    }

    pub fn get(&self, name: &str) -> Result<Tensor> {
        self.map.get(name).cloned().ok_or_else(|| {
            self.error(format!(
                "tensor {name} is missing; regenerate the file with scripts/convert_instant.py"
            ))
        })
    }

    /// A `[n]` tensor's values, checking the length.
    pub fn vec(&self, name: &str, len: usize) -> Result<Vec<f32>> {
        let t = self.get(name)?;
        if t.dims() != [len] {
            return Err(self.error(format!("{name}: expected [{len}], got {:?}", t.dims())));
        }
        Ok(t.to_vec1()?)
    }

    /// A `[rows, cols]` tensor's values, row-major, checking the shape.
    pub fn mat(&self, name: &str, rows: usize, cols: usize) -> Result<Vec<f32>> {
        let t = self.get(name)?;
        if t.dims() != [rows, cols] {
            return Err(self.error(format!(
                "{name}: expected [{rows}, {cols}], got {:?}",
                t.dims()
            )));
        }
        Ok(t.flatten_all()?.to_vec1()?)
    }

    pub fn error(&self, message: String) -> Error {
        Error::weights(&self.path, message)
    }
}
