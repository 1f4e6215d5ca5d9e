//! The downloadable models and where their features-only file lives.

use std::fmt;
use std::path::PathBuf;

use crate::engine::arch::Arch;

/// A VGG the app knows how to download. VGG19 is the default (the classic style-transfer net).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Model {
    #[default]
    Vgg19,
    Vgg16,
}

impl Model {
    /// Every known model, default first.
    pub const ALL: [Model; 2] = [Model::Vgg19, Model::Vgg16];

    /// Hugging Face repo holding torchvision's ImageNet weights (torch preprocessing).
    pub fn repo(self) -> &'static str {
        match self {
            Model::Vgg19 => "timm/vgg19.tv_in1k",
            Model::Vgg16 => "timm/vgg16.tv_in1k",
        }
    }

    /// File inside the repo.
    pub fn file(self) -> &'static str {
        "model.safetensors"
    }

    pub fn arch(self) -> Arch {
        match self {
            Model::Vgg19 => Arch::Vgg19,
            Model::Vgg16 => Arch::Vgg16,
        }
    }

    pub fn from_arch(arch: Arch) -> Self {
        match arch {
            Arch::Vgg19 => Model::Vgg19,
            Arch::Vgg16 => Model::Vgg16,
        }
    }

    pub fn name(self) -> &'static str {
        self.arch().name()
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Arch::from_name(name).map(Self::from_arch)
    }

    /// Exact size of the F32 `features.*` data, i.e. roughly what `fetch` downloads.
    pub fn features_bytes(self) -> u64 {
        self.arch()
            .conv_shapes()
            .iter()
            .map(|&(_, out, inp)| ((out * inp * 9 + out) * 4) as u64)
            .sum()
    }

    /// SHA-256 of the features a hub download of this model must yield
    /// ([`crate::weights::Verified::features_sha256`]), checked before the file is installed.
    /// `None`: not measured yet. This value has to come from a real download of the hub file on
    /// a machine with network (`atelier weights fetch` prints it); until then a download is
    /// checked only against `HubConfig::expected_sha256` (`ATELIER_WEIGHTS_SHA256`) when set.
    pub fn features_sha256(self) -> Option<&'static str> {
        match self {
            Model::Vgg19 | Model::Vgg16 => None,
        }
    }

    /// Approximate size of the full hub file (classifier included), for the manual-download hint.
    pub fn full_file_bytes(self) -> u64 {
        match self {
            Model::Vgg19 => 574_700_000,
            Model::Vgg16 => 553_400_000,
        }
    }
}

impl fmt::Display for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One row of `atelier weights list`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelStatus {
    pub model: Model,
    pub repo: &'static str,
    pub is_default: bool,
    /// What `fetch` transfers (features only, F32).
    pub download_bytes: u64,
    /// Size of the full hub file, for a manual download.
    pub full_file_bytes: u64,
    /// Where `fetch` would put it.
    pub default_path: PathBuf,
    /// Valid local files of this architecture, in search order (empty = not present).
    pub local: Vec<PathBuf>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn features_sizes_match_the_real_networks() {
        // VGG19 features: 20,024,384 parameters; VGG16: 14,714,688.
        assert_eq!(Model::Vgg19.features_bytes(), 20_024_384 * 4);
        assert_eq!(Model::Vgg16.features_bytes(), 14_714_688 * 4);
    }
}
