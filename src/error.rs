//! The library's error type. Every message says what went wrong and what to do about it,
//! because these strings end up in front of an artist, not a developer.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Image(#[from] crate::image_io::ImageError),

    #[error(transparent)]
    Preset(#[from] crate::presets::PresetError),

    #[error(transparent)]
    WeightsFile(#[from] crate::weights::WeightsError),

    #[error("invalid settings: {0}")]
    Settings(String),

    /// A picture the run can't use; the message says which and what to do.
    #[error("{0}")]
    Input(String),

    #[error("weights file {path}: {message}")]
    Weights { path: PathBuf, message: String },

    #[error("layer {layer:?} does not exist in {arch}; available layers: {available}")]
    UnknownLayer {
        layer: String,
        arch: String,
        available: String,
    },

    #[error(transparent)]
    Instant(#[from] crate::engine::instant::InstantError),

    #[error(transparent)]
    Brush(#[from] crate::engine::brush::BrushError),

    #[error("device: {0}")]
    Device(String),

    #[error(
        "the optimization produced NaN or infinite values at iteration {iteration}; \
         the last good image was kept. Lower the learning rate or the style weight and try again"
    )]
    NotFinite { iteration: u32 },

    /// The memory estimate exceeds what is available; `message` has both numbers and the fixes.
    #[error("{message}")]
    OutOfMemory { message: String },

    #[error("run cancelled")]
    Cancelled,

    #[error("compute error: {0}")]
    Candle(#[from] candle_core::Error),

    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    pub fn weights(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Error::Weights {
            path: path.into(),
            message: message.into(),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
