//! VGG weights: find them, check them, and download just the part style transfer needs.
//!
//! The engine only uses the convolutional `features.*` tensors: about 80 MB of VGG19's 575 MB
//! hub file. [`fetch`] reads the safetensors header of `timm/vgg19.tv_in1k` (or vgg16) with
//! HTTP Range requests and downloads only those byte ranges; [`convert_local`] does the same
//! from a full file already on disk (the offline route).
//!
//! Files:
//! - `$HF_HOME/atelier/timm--vgg19.tv_in1k/features.safetensors` ([`default_path`]; `HF_HOME`
//!   defaults to `~/.cache/huggingface`), beside the hub's own cache so users find it there.
//! - while downloading: `<dest>.part` (header + planned ranges) and `<dest>.part.json`
//!   (source, ETag, size, checkpoints: length + SHA-256 of the synced bytes); a rerun resumes
//!   after the last checkpoint that still matches, a changed ETag starts over.
//! - the result: safetensors, F32 only (F16/BF16 sources are widened), metadata
//!   `{"arch": "vgg19", "preprocess": "torch", "source": "timm/vgg19.tv_in1k@<commit or etag>"}`.
//!
//! The library never prints: progress goes to a callback, failures to [`WeightsError`].

mod config;
mod digest;
mod dtype;
mod error;
mod fetch;
mod file_source;
mod hub;
mod inspect;
mod locate;
mod lock;
mod model;
mod resume;
mod source;
mod write;

pub use config::default_path;
pub use config::{manual_hint, HubConfig, DEFAULT_ENDPOINT, DEFAULT_MIN_BYTES_PER_WINDOW};
pub use error::{Searched, WeightsError};
pub use fetch::{convert_local, fetch, partial_paths, FetchProgress};
pub use inspect::{inspect, inspect_bytes, verify, Verified, WeightsInfo, MAX_HEADER_BYTES};
pub use locate::{
    list, list_in, locate, locate_in, locate_saved, locate_saved_in, search_locations,
    search_locations_in, Located, Place, PlaceKind, SearchEnv,
};
pub use lock::lock_path;
pub use model::{Model, ModelStatus};
