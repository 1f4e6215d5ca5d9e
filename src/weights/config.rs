//! Hugging Face hub configuration: the usual `HF_*` variables, URLs, and the words every
//! network error ends with.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::model::Model;

pub const DEFAULT_ENDPOINT: &str = "https://huggingface.co";
/// About 1 KB/s over the default 30 s window: slower than that, 80 MB would take a day.
pub const DEFAULT_MIN_BYTES_PER_WINDOW: u64 = 32 * 1024;

/// Where and how to talk to the hub. Build it with [`HubConfig::from_env`] in the app; tests
/// build it explicitly so they never touch process-wide environment variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubConfig {
    /// `HF_ENDPOINT`, default `https://huggingface.co` (no trailing slash).
    pub endpoint: String,
    /// `HF_TOKEN`, else the token file `huggingface-cli login` writes (`HF_TOKEN_PATH` or `$HF_HOME/token`).
    pub token: Option<String>,
    /// `HF_HOME`: the hub cache root; Atelier's files go in `<cache_dir>/atelier/`.
    pub cache_dir: PathBuf,
    /// `HF_HUB_OFFLINE=1`: never touch the network.
    pub offline: bool,
    /// Branch, tag or commit; default `main`.
    pub revision: String,
    /// Connect and idle-read timeout (`HF_HUB_DOWNLOAD_TIMEOUT` seconds, default 30).
    pub timeout: Duration,
    /// Automatic resumes within one `fetch` after a dropped connection or a 5xx (default 3).
    pub retries: u32,
    /// A response that delivers fewer than `min_bytes_per_window` bytes within any
    /// `rate_window` fails with [`WeightsError::TooSlow`]: the per-read timeout alone never
    /// fires on a server that trickles a byte now and then. Default: the timeout, 32 KiB
    /// (about 1 KB/s); `min_bytes_per_window = 0` turns the check off.
    pub rate_window: Duration,
    pub min_bytes_per_window: u64,
    /// SHA-256 (hex) the downloaded features must have ([`crate::weights::Verified::features_sha256`]),
    /// overriding the model's built-in pin (`ATELIER_WEIGHTS_SHA256`). Applies to hub downloads
    /// only, never to `--from`/`--weights` files.
    pub expected_sha256: Option<String>,
}

impl Default for HubConfig {
    fn default() -> Self {
        Self::from_vars(|_| None)
    }
}

impl HubConfig {
    pub fn from_env() -> Self {
        Self::from_vars(|k| std::env::var(k).ok())
    }

    /// `from_env` with an injected lookup (so tests and the studio can override variables).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Self {
        let get = |k: &str| {
            var(k)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let endpoint = get("HF_ENDPOINT")
            .map(|e| e.trim_end_matches('/').to_string())
            .unwrap_or_else(|| DEFAULT_ENDPOINT.to_string());
        let cache_dir = get("HF_HOME").map(PathBuf::from).unwrap_or_else(|| {
            let cache = get("XDG_CACHE_HOME").map(PathBuf::from).or_else(|| {
                get("HOME")
                    .or_else(|| get("USERPROFILE"))
                    .map(|h| Path::new(&h).join(".cache"))
            });
            cache
                .unwrap_or_else(|| PathBuf::from(".cache"))
                .join("huggingface")
        });
        let token = get("HF_TOKEN").or_else(|| {
            let path = get("HF_TOKEN_PATH")
                .map(PathBuf::from)
                .unwrap_or_else(|| cache_dir.join("token"));
            std::fs::read_to_string(path)
                .ok()
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty())
        });
        let offline = get("HF_HUB_OFFLINE").is_some_and(|v| {
            matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on")
        });
        let timeout = get("HF_HUB_DOWNLOAD_TIMEOUT")
            .and_then(|t| t.parse::<f64>().ok())
            .filter(|t| t.is_finite() && *t > 0.0)
            .map(Duration::from_secs_f64)
            .unwrap_or(Duration::from_secs(30));
        HubConfig {
            endpoint,
            token,
            cache_dir,
            offline,
            revision: "main".into(),
            timeout,
            retries: 3,
            rate_window: timeout,
            min_bytes_per_window: DEFAULT_MIN_BYTES_PER_WINDOW,
            expected_sha256: get("ATELIER_WEIGHTS_SHA256"),
        }
    }

    /// `{endpoint}/{repo}/resolve/{revision}/{file}`.
    pub fn file_url(&self, model: Model) -> String {
        format!(
            "{}/{}/resolve/{}/{}",
            self.endpoint,
            model.repo(),
            encode_revision(&self.revision),
            model.file()
        )
    }

    /// The repo's web page, for humans.
    pub fn repo_url(&self, model: Model) -> String {
        format!("{}/{}", self.endpoint, model.repo())
    }
}

/// What to do without network, in the words every network error ends with.
pub fn manual_hint(model: Model, cfg: &HubConfig) -> String {
    format!(
        "Download {} (~{} MB) from {} on a machine with internet, then run \
         `atelier weights fetch --from FILE` (keeps the ~{} MB Atelier needs) or pass `--weights FILE`; \
         or put a VGG16/VGG19 .safetensors file in ./weights/",
        model.file(),
        model.full_file_bytes() / 1_000_000,
        cfg.repo_url(model),
        model.features_bytes() / 1_000_000
    )
}

/// Revisions like `refs/pr/1` must be one path segment.
fn encode_revision(rev: &str) -> String {
    let mut out = String::new();
    for b in rev.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Where `fetch` stores a model by default:
/// `$HF_HOME/atelier/<repo with "/" as "--">/features.safetensors`
/// (`features@<revision>.safetensors` for a revision other than `main`).
/// Kept beside the hub's own cache so users find and clear it in the usual place.
pub fn default_path(model: Model, cfg: &HubConfig) -> PathBuf {
    let file = if cfg.revision == "main" {
        "features.safetensors".to_string()
    } else {
        let rev: String = cfg
            .revision
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        format!("features@{rev}.safetensors")
    };
    cfg.cache_dir
        .join("atelier")
        .join(model.repo().replace('/', "--"))
        .join(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_path_layout() {
        let mut cfg = HubConfig::from_vars(|k| (k == "HF_HOME").then(|| "/hf".to_string()));
        assert_eq!(
            default_path(Model::Vgg19, &cfg),
            PathBuf::from("/hf/atelier/timm--vgg19.tv_in1k/features.safetensors")
        );
        cfg.revision = "refs/pr/1".into();
        assert_eq!(
            default_path(Model::Vgg16, &cfg),
            PathBuf::from("/hf/atelier/timm--vgg16.tv_in1k/features@refs_pr_1.safetensors")
        );
    }

    #[test]
    fn config_from_vars() {
        let vars = |k: &str| match k {
            "HF_ENDPOINT" => Some("http://127.0.0.1:9/".to_string()),
            "HF_HOME" => Some("/nonexistent-hf-home".to_string()),
            "HF_TOKEN" => Some(" tok ".to_string()),
            "HF_HUB_OFFLINE" => Some("1".to_string()),
            "HF_HUB_DOWNLOAD_TIMEOUT" => Some("7".to_string()),
            "ATELIER_WEIGHTS_SHA256" => Some(" AB12 ".to_string()),
            _ => None,
        };
        let cfg = HubConfig::from_vars(vars);
        assert_eq!(cfg.endpoint, "http://127.0.0.1:9");
        assert_eq!(cfg.token.as_deref(), Some("tok"));
        assert!(cfg.offline);
        assert_eq!(
            cfg.rate_window,
            Duration::from_secs(7),
            "the window follows the timeout"
        );
        assert_eq!(cfg.min_bytes_per_window, DEFAULT_MIN_BYTES_PER_WINDOW);
        assert_eq!(
            cfg.expected_sha256.as_deref(),
            Some("AB12"),
            "checked when used"
        );
        assert_eq!(
            cfg.file_url(Model::Vgg19),
            "http://127.0.0.1:9/timm/vgg19.tv_in1k/resolve/main/model.safetensors"
        );
        let home = HubConfig::from_vars(|k| (k == "HOME").then(|| "/home/u".to_string()));
        assert_eq!(home.cache_dir, PathBuf::from("/home/u/.cache/huggingface"));
        assert_eq!(home.endpoint, DEFAULT_ENDPOINT);
        assert!(!home.offline);
        assert_eq!(encode_revision("refs/pr/1"), "refs%2Fpr%2F1");
    }
}
