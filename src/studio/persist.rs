//! What survives a restart: the run settings (images by path) and a few view preferences.

use super::panels::CompareMode;
use crate::settings::Settings;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// eframe storage key; bump the version when the stored shape changes incompatibly.
pub(crate) const STORAGE_KEY: &str = "atelier.studio.v1";

/// UI-only state that `Settings` deliberately doesn't describe.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct UiPrefs {
    pub(crate) compare: CompareMode,
    pub(crate) export_dir: Option<PathBuf>,
    /// Weights of unticked style layers, restored when ticked again.
    pub(crate) style_weight_memory: BTreeMap<String, f32>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct Persisted {
    pub(crate) settings: Settings,
    pub(crate) prefs: UiPrefs,
}

pub(crate) fn load(storage: Option<&dyn eframe::Storage>) -> Option<Persisted> {
    eframe::get_value(storage?, STORAGE_KEY)
}

pub(crate) fn save(storage: &mut dyn eframe::Storage, state: &Persisted) {
    eframe::set_value(storage, STORAGE_KEY, state);
}
