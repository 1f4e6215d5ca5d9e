//! The one set-up of a run, shared by `atelier render` and the studio's worker: the checks that
//! need the pictures or the network (the settings themselves were checked where they entered),
//! the memory check, then the schedule's first stage.

use super::config::TransferConfig;
use super::memory::{self, MemoryEstimate};
use super::schedule::{stage_dims, RunImages, Schedule, Start};
use super::vgg::Vgg;
use crate::error::{Error, Result};
use std::sync::Arc;

/// A run ready to step, and what it was estimated to need.
pub struct Prepared {
    pub schedule: Schedule,
    pub estimate: MemoryEstimate,
}

/// The smallest content side worth painting (the deepest layers need a few pixels).
pub const MIN_CONTENT_SIDE: u32 = 16;

/// Checks the inputs against the network and the memory `available` (`None` skips that check),
/// then sets the run up.
pub fn prepare(
    vgg: Arc<Vgg>,
    config: &TransferConfig,
    images: RunImages,
    start: Start<'_>,
    available: Option<u64>,
) -> Result<Prepared> {
    let (cw, ch) = images.content.dimensions();
    if cw < MIN_CONTENT_SIDE || ch < MIN_CONTENT_SIDE {
        return Err(Error::Input(format!(
            "the content image is only {cw}×{ch} pixels, too small to paint: use a photo at least {MIN_CONTENT_SIDE} pixels on each side."
        )));
    }
    vgg.check_layers(&config.weights)?;
    let (w, h) = stage_dims(&images.content, config.size);
    let estimate = memory::check(config, images.styles.len(), w, h, vgg.arch(), available)?;
    let schedule = Schedule::starting_from(vgg, config, images, start)?;
    Ok(Prepared { schedule, estimate })
}
