//! One error type for the whole module. Every message names the file/URL and tensor involved and
//! says what the user can do, because the CLI and the studio show these strings as they are.

use std::fmt;
use std::io;
use std::path::PathBuf;

use crate::engine::arch::Arch;

/// Where `locate` looked and what it found there (for the "not found" message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Searched {
    /// Human label of the place: `--weights`, `ATELIER_WEIGHTS`, `./weights`, ….
    pub place: String,
    pub path: PathBuf,
    /// What was there: "does not exist", "no .safetensors files", the reason a file was skipped….
    pub outcome: String,
}

#[derive(Debug, thiserror::Error)]
pub enum WeightsError {
    #[error("could not {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("{file} is not a safetensors file: {reason}. Atelier needs VGG16/VGG19 weights in .safetensors format; get them with `atelier weights fetch`")]
    NotSafetensors { file: String, reason: String },

    #[error("{file} is truncated: {detail}. It was probably cut short while downloading or copying; get it again with `atelier weights fetch`")]
    Truncated {
        file: String,
        tensor: Option<String>,
        detail: String,
    },

    #[error("{file} is not VGG16/VGG19 weights: {reason}. Atelier needs the plain torchvision-layout VGG16 or VGG19 (e.g. timm/vgg19.tv_in1k); get them with `atelier weights fetch`")]
    NotVgg { file: String, reason: String },

    #[error("{file}: tensor {tensor} is missing, but every {arch} file has it. The file is incomplete; get a fresh one with `atelier weights fetch`")]
    MissingTensor {
        file: String,
        tensor: String,
        arch: Arch,
    },

    #[error("{file}: tensor {tensor} has shape {found:?} but {arch} needs {expected:?}. This is not a standard {arch} file; get one with `atelier weights fetch`")]
    WrongShape {
        file: String,
        tensor: String,
        arch: Arch,
        expected: Vec<usize>,
        found: Vec<usize>,
    },

    #[error("{file}: tensor {tensor} has dtype {dtype}; only F32, F16 and BF16 weights are supported. Use the float weights, e.g. `atelier weights fetch`")]
    WrongDtype {
        file: String,
        tensor: String,
        dtype: String,
    },

    #[error("{file}: metadata {key}={value:?} is invalid: {reason}")]
    BadMetadata {
        file: String,
        key: String,
        value: String,
        reason: String,
    },

    #[error("{file}: tensor {tensor} holds {value} at element {index}, so the data is corrupted. Get the weights again with `atelier weights fetch`")]
    NonFinite {
        file: String,
        tensor: String,
        index: u64,
        value: String,
    },

    #[error("offline mode (HF_HUB_OFFLINE) forbids downloading and {} does not exist yet. {manual}", path.display())]
    Offline { path: PathBuf, manual: String },

    #[error("could not reach {endpoint} ({reason}). {manual}")]
    Unreachable {
        endpoint: String,
        reason: String,
        manual: String,
    },

    #[error("{url} answered HTTP {status}: {hint}")]
    Http {
        url: String,
        status: u16,
        hint: String,
    },

    #[error("bad response from {url}: {reason}. Nothing was saved. {manual}")]
    BadResponse {
        url: String,
        reason: String,
        manual: String,
    },

    #[error("the download from {url} was interrupted after {received} of {expected} bytes of a request ({reason}). What arrived is kept; run the same command again to resume")]
    Interrupted {
        url: String,
        received: u64,
        expected: u64,
        reason: String,
    },

    #[error("{url} changed on the server during the download ({detail}); the partial data was discarded. Run the command again")]
    SourceChanged { url: String, detail: String },

    #[error("download cancelled; the partial data is kept in {} and the next run resumes from it", part.display())]
    Cancelled { part: PathBuf },

    #[error("another download of {} is running ({holder}); wait for it or cancel it. If no download is running, delete {}", dest.display(), lock.display())]
    Busy {
        dest: PathBuf,
        lock: PathBuf,
        /// "pid 1234", as the lock file tells.
        holder: String,
    },

    #[error("{url} sent only {bytes} bytes in {seconds} s, far too slow to finish. What arrived is kept: try again later and it resumes. {manual}")]
    TooSlow {
        url: String,
        bytes: u64,
        seconds: u64,
        manual: String,
    },

    #[error("{url} delivered weights whose features SHA-256 is {found}, but {expected} is expected ({pin}). Nothing was installed and the partial data was discarded: the server (HF_ENDPOINT?) may hand out other weights. Use a file you trust with `--weights FILE` or `atelier weights fetch --from FILE`; if you trust this server, setting ATELIER_WEIGHTS_SHA256 to the digest it delivered accepts it")]
    DigestMismatch {
        url: String,
        expected: String,
        found: String,
        /// Where the expected value came from.
        pin: String,
    },

    #[error("ATELIER_WEIGHTS_SHA256={value:?} is not a SHA-256: give the 64 hex digits `atelier weights verify FILE` prints as features_sha256, or unset it")]
    BadPin { value: String },

    #[error("{}", NotFoundMessage(searched))]
    NotFound { searched: Vec<Searched> },
}

impl WeightsError {
    /// Worth an automatic retry within the same call (the partial data is kept).
    pub fn is_transient(&self) -> bool {
        match self {
            WeightsError::Interrupted { .. } => true,
            WeightsError::Http { status, .. } => *status == 429 || *status >= 500,
            _ => false,
        }
    }

    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        WeightsError::Io {
            action,
            path: path.into(),
            source,
        }
    }
}

struct NotFoundMessage<'a>(&'a [Searched]);

impl fmt::Display for NotFoundMessage<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "no VGG weights found. Looked in:")?;
        for s in self.0 {
            writeln!(f, "  - {} ({}): {}", s.path.display(), s.place, s.outcome)?;
        }
        write!(
            f,
            "Get weights with `atelier weights fetch` (downloads ~80 MB of VGG19 from huggingface.co), \
             or pass `--weights PATH` / set ATELIER_WEIGHTS to a VGG16/VGG19 .safetensors file, \
             or put one in ./weights/"
        )
    }
}
