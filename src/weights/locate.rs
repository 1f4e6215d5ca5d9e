//! Finding weights on disk for the CLI and the studio.
//!
//! Order: `--weights`, `ATELIER_WEIGHTS`, `./weights/`, `weights/` next to the executable, the
//! download cache. An explicit path (flag or variable) is authoritative: if it is wrong that is
//! an error, never a silent fall-back to other weights. Only a path remembered from an earlier
//! session ([`locate_saved_in`]) falls back when its file is gone, and says so. The process environment is read only by
//! [`SearchEnv::from_process`], so tests inject their own.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::config::default_path;
use super::config::HubConfig;
use super::error::{Searched, WeightsError};
use super::inspect::{inspect, WeightsInfo};
use super::model::{Model, ModelStatus};
use crate::engine::arch::Arch;

type Result<T> = std::result::Result<T, WeightsError>;

/// Everything `locate` depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchEnv {
    /// `--weights PATH` (file or folder).
    pub explicit: Option<PathBuf>,
    /// `ATELIER_WEIGHTS` (file or folder).
    pub env_weights: Option<PathBuf>,
    pub cwd: Option<PathBuf>,
    pub exe_dir: Option<PathBuf>,
    pub hub: HubConfig,
}

impl SearchEnv {
    pub fn from_process(explicit: Option<&Path>) -> Self {
        SearchEnv {
            explicit: explicit.map(Path::to_path_buf),
            env_weights: std::env::var_os("ATELIER_WEIGHTS")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from),
            cwd: std::env::current_dir().ok(),
            exe_dir: std::env::current_exe()
                .ok()
                .and_then(|p| p.parent().map(Path::to_path_buf)),
            hub: HubConfig::from_env(),
        }
    }

    fn absolute(&self, p: &Path) -> PathBuf {
        match &self.cwd {
            Some(cwd) if p.is_relative() => cwd.join(p),
            _ => p.to_path_buf(),
        }
    }

    /// The places `locate_in` examines, in order.
    pub fn places(&self) -> Vec<Place> {
        if let Some(p) = &self.explicit {
            return vec![Place {
                kind: PlaceKind::Explicit,
                path: self.absolute(p),
            }];
        }
        if let Some(p) = &self.env_weights {
            return vec![Place {
                kind: PlaceKind::EnvVar,
                path: self.absolute(p),
            }];
        }
        let mut places = Vec::new();
        let cwd_weights = self.cwd.as_ref().map(|c| c.join("weights"));
        if let Some(p) = &cwd_weights {
            places.push(Place {
                kind: PlaceKind::WorkingDir,
                path: p.clone(),
            });
        }
        if let Some(p) = self.exe_dir.as_ref().map(|d| d.join("weights")) {
            if Some(&p) != cwd_weights.as_ref() {
                places.push(Place {
                    kind: PlaceKind::ExeDir,
                    path: p,
                });
            }
        }
        for model in Model::ALL {
            places.push(Place {
                kind: PlaceKind::Cache,
                path: default_path(model, &self.hub),
            });
        }
        places
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlaceKind {
    Explicit,
    EnvVar,
    WorkingDir,
    ExeDir,
    Cache,
}

impl PlaceKind {
    pub fn label(self) -> &'static str {
        match self {
            PlaceKind::Explicit => "--weights",
            PlaceKind::EnvVar => "ATELIER_WEIGHTS",
            PlaceKind::WorkingDir => "weights/ in the working directory",
            PlaceKind::ExeDir => "weights/ next to the executable",
            PlaceKind::Cache => "download cache",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    pub kind: PlaceKind,
    pub path: PathBuf,
}

/// Where `locate(explicit)` looks, in order.
pub fn search_locations(explicit: Option<&Path>) -> Vec<PathBuf> {
    search_locations_in(&SearchEnv::from_process(explicit))
}

pub fn search_locations_in(env: &SearchEnv) -> Vec<PathBuf> {
    env.places().into_iter().map(|p| p.path).collect()
}

/// Finds usable weights (see the module doc for the order).
pub fn locate(explicit: Option<&Path>) -> Result<WeightsInfo> {
    locate_in(&SearchEnv::from_process(explicit))
}

pub fn locate_in(env: &SearchEnv) -> Result<WeightsInfo> {
    locate_place(env).map(|(info, _)| info)
}

/// `locate_in`, also saying which kind of place the file came from.
fn locate_place(env: &SearchEnv) -> Result<(WeightsInfo, PlaceKind)> {
    let mut searched = Vec::new();
    for place in env.places() {
        let note = |outcome: String| Searched {
            place: place.kind.label().to_string(),
            path: place.path.clone(),
            outcome,
        };
        let path = &place.path;
        match place.kind {
            PlaceKind::Explicit | PlaceKind::EnvVar => {
                if path.is_dir() {
                    return scan_dir(path)
                        .map(|info| (info, place.kind))
                        .map_err(|outcome| WeightsError::NotFound {
                            searched: vec![note(outcome)],
                        });
                }
                if path.exists() {
                    // The specific reason (wrong shape, truncated, …) is the useful message here.
                    return inspect(path).map(|info| (info, place.kind));
                }
                return Err(WeightsError::NotFound {
                    searched: vec![note("does not exist".into())],
                });
            }
            PlaceKind::WorkingDir | PlaceKind::ExeDir => {
                if !path.is_dir() {
                    searched.push(note("no such folder".into()));
                    continue;
                }
                match scan_dir(path) {
                    Ok(info) => return Ok((info, place.kind)),
                    Err(outcome) => searched.push(note(outcome)),
                }
            }
            PlaceKind::Cache => {
                if !path.exists() {
                    searched.push(note("not downloaded".into()));
                    continue;
                }
                match inspect(path) {
                    Ok(info) => return Ok((info, place.kind)),
                    Err(e) => searched.push(note(format!("unusable: {e}"))),
                }
            }
        }
    }
    Err(WeightsError::NotFound { searched })
}

/// What [`locate_saved_in`] found, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    pub info: WeightsInfo,
    /// Set when the saved file was gone and the search found another: says which, for the user.
    pub note: Option<String>,
}

/// [`locate_saved_in`] in the process's environment.
pub fn locate_saved(saved: &Path) -> Result<Located> {
    locate_saved_in(saved, &SearchEnv::from_process(None))
}

/// Finds weights starting from a path remembered from an earlier session (the studio's saved
/// settings); `env.explicit` is ignored.
///
/// Unlike `--weights` (a path the user names now, which is that file or an error), a saved
/// path may have been moved or deleted since, while the download cache holds good weights: if
/// it no longer exists, the usual search runs and the note says what is used instead. A saved
/// file that exists but is unusable is still an error: the user should learn it is broken.
pub fn locate_saved_in(saved: &Path, env: &SearchEnv) -> Result<Located> {
    let path = env.absolute(saved);
    if path.exists() {
        let env = SearchEnv {
            explicit: Some(saved.to_path_buf()),
            ..env.clone()
        };
        return locate_in(&env).map(|info| Located { info, note: None });
    }
    let standard = SearchEnv {
        explicit: None,
        ..env.clone()
    };
    match locate_place(&standard) {
        Ok((info, kind)) => Ok(Located {
            note: Some(format!(
                "The weights file saved in your settings, {}, is gone; using {} ({}) instead.",
                path.display(),
                info.path.display(),
                kind.label()
            )),
            info,
        }),
        Err(WeightsError::NotFound { mut searched }) => {
            searched.insert(
                0,
                Searched {
                    place: "saved in the settings".into(),
                    path,
                    outcome: "does not exist".into(),
                },
            );
            Err(WeightsError::NotFound { searched })
        }
        Err(e) => Err(e),
    }
}

/// `*.safetensors` files of a folder, sorted by name for a deterministic choice.
fn safetensors_in(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_file()
                && p.extension()
                    .is_some_and(|x| x.eq_ignore_ascii_case("safetensors"))
        })
        .collect();
    files.sort();
    files
}

/// First valid VGG19 of a folder, else first VGG16; `Err` says what was there instead.
fn scan_dir(dir: &Path) -> std::result::Result<WeightsInfo, String> {
    let files = safetensors_in(dir);
    if files.is_empty() {
        return Err("no .safetensors files".into());
    }
    let mut vgg16 = None;
    let mut skipped = Vec::new();
    for p in files {
        match inspect(&p) {
            Ok(info) if info.arch == Arch::Vgg19 => return Ok(info),
            Ok(info) => {
                vgg16.get_or_insert(info);
            }
            Err(e) => skipped.push(e.to_string()),
        }
    }
    vgg16.ok_or_else(|| format!("no usable VGG file; skipped {}", skipped.join("; ")))
}

/// The known models and where each is present locally.
pub fn list(cfg: &HubConfig) -> Vec<ModelStatus> {
    let mut env = SearchEnv::from_process(None);
    env.hub = cfg.clone();
    list_in(&env)
}

pub fn list_in(env: &SearchEnv) -> Vec<ModelStatus> {
    // Every valid file in the search places (the explicit flag is a `locate` thing).
    let mut valid: Vec<WeightsInfo> = Vec::new();
    let mut seen = BTreeSet::new();
    let mut consider = |p: PathBuf| {
        if seen.insert(p.clone()) {
            if let Ok(info) = inspect(&p) {
                valid.push(info);
            }
        }
    };
    let mut paths: Vec<PathBuf> = env.env_weights.iter().map(|p| env.absolute(p)).collect();
    let standard = SearchEnv {
        explicit: None,
        env_weights: None,
        ..env.clone()
    };
    paths.extend(standard.places().into_iter().map(|p| p.path));
    for path in paths {
        if path.is_dir() {
            safetensors_in(&path).into_iter().for_each(&mut consider);
        } else if path.is_file() {
            consider(path);
        }
    }
    Model::ALL
        .into_iter()
        .map(|model| ModelStatus {
            model,
            repo: model.repo(),
            is_default: model == Model::default(),
            download_bytes: model.features_bytes(),
            full_file_bytes: model.full_file_bytes(),
            default_path: default_path(model, &env.hub),
            local: valid
                .iter()
                .filter(|i| i.arch == model.arch())
                .map(|i| i.path.clone())
                .collect(),
        })
        .collect()
}
