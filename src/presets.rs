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
        let mut s = if head == PNG_SIGNATURE {
            read_png_settings(path)?.ok_or_else(|| PresetError::NoSettings {
                path: path.to_path_buf(),
            })?
        } else {
            Self::load_preset(path)?
        };
        s.find_files(path.parent().unwrap_or(Path::new("")));
        Ok(s)
    }

    /// What a picture shared with others should say about its inputs: file names, not where
    /// they sit on this computer (home folders carry user names). A file inside the picture's
    /// own folder keeps its path relative to it, so a project folder travels whole. The
    /// weights are named too, as a hint; [`Settings::find_files`] reverses this.
    pub fn for_sharing(&self, picture_dir: &Path) -> Settings {
        let share = |p: &Path| -> PathBuf {
            let inside = picture_dir
                .canonicalize()
                .ok()
                .zip(p.canonicalize().ok())
                .and_then(|(dir, file)| file.strip_prefix(dir).ok().map(Path::to_path_buf));
            match inside {
                Some(rel) if !rel.as_os_str().is_empty() => rel,
                _ => p.file_name().map_or_else(|| p.to_path_buf(), PathBuf::from),
            }
        };
        let mut s = self.clone();
        for p in [
            &mut s.content,
            &mut s.style,
            &mut s.mask,
            &mut s.weights_path,
        ]
        .into_iter()
        .flatten()
        {
            *p = share(p);
        }
        for e in &mut s.extra_styles {
            e.path = share(&e.path);
        }
        s
    }

    /// Finds the files a settings file names, for settings read from `base` (the folder of the
    /// picture or preset): as written next to it, as written from the working directory, or by
    /// file name in either. A file found nowhere keeps its name, so loading it says what is
    /// missing; the weights, only a hint, fall back to the usual search instead.
    pub fn find_files(&mut self, base: &Path) {
        let find = |p: &Path| -> Option<PathBuf> {
            let name = p.file_name().map(PathBuf::from);
            let mut candidates = Vec::new();
            if p.is_relative() {
                candidates.push(base.join(p));
            }
            candidates.push(p.to_path_buf());
            if let Some(n) = name {
                candidates.push(base.join(&n));
                candidates.push(n);
            }
            candidates.into_iter().find(|c| c.is_file())
        };
        for p in [&mut self.content, &mut self.style, &mut self.mask]
            .into_iter()
            .flatten()
        {
            if let Some(found) = find(p) {
                *p = found;
            }
        }
        for e in &mut self.extra_styles {
            if let Some(found) = find(&e.path) {
                e.path = found;
            }
        }
        if let Some(w) = &self.weights_path {
            self.weights_path = find(w);
        }
    }
}
