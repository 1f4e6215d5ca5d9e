//! Decoding pictures off the UI thread: a file or dropped bytes become the picture, its
//! thumbnail and its screen-sized copy on a short-lived thread that always answers (a panic in
//! a decoder becomes an error), tagged with a request number so stale answers can be dropped.

use super::picture::to_color_image;
use super::slots::Slot;
use crate::image_io;
use egui::ColorImage;
use image::RgbImage;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;

/// Where an image comes from.
#[derive(Debug, Clone)]
pub(crate) enum Source {
    Path(PathBuf),
    /// A drop that carried no path (e.g. from a browser).
    Bytes {
        name: String,
        bytes: Arc<Vec<u8>>,
    },
}

impl Source {
    pub(crate) fn name(&self) -> String {
        match self {
            Source::Path(p) => p.file_name().map_or_else(
                || p.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            ),
            Source::Bytes { name, .. } => name.clone(),
        }
    }
}

/// The decoded image plus what the UI uploads as textures.
pub(crate) struct Decoded {
    pub(crate) image: Arc<RgbImage>,
    pub(crate) thumb: ColorImage,
    pub(crate) display: ColorImage,
}

/// A finished decode, tagged so stale ones can be dropped.
pub(crate) struct LoadResult {
    pub(crate) generation: u64,
    pub(crate) path: Option<PathBuf>,
    pub(crate) name: String,
    pub(crate) result: Result<Decoded, String>,
}

/// Thumbnails are small; the display copy is what the preview compares against.
const THUMB_SIDE: u32 = 256;
const DISPLAY_SIDE: u32 = 2048;

/// Runs decodes off the UI thread and hands results back through a channel.
pub(crate) struct Loader {
    tx: Sender<LoadResult>,
    rx: Receiver<LoadResult>,
    /// Request numbers are unique across slots, so a result finds its slot even after extra
    /// style slots were removed and renumbered.
    last_generation: u64,
    /// Reads and decodes a source.
    decode: fn(&Source) -> Result<RgbImage, String>,
}

impl Default for Loader {
    fn default() -> Self {
        let (tx, rx) = mpsc::channel();
        Self {
            tx,
            rx,
            last_generation: 0,
            decode: decode_source,
        }
    }
}

fn decode_source(source: &Source) -> Result<RgbImage, String> {
    match source {
        Source::Path(p) => image_io::load_image(p),
        Source::Bytes { bytes, .. } => image_io::load_image_bytes(bytes),
    }
    .map_err(|e| e.to_string())
}

impl Loader {
    /// A loader that decodes with `decode` (tests put in one that panics or makes a picture).
    #[cfg(test)]
    pub(crate) fn with_decoder(decode: fn(&Source) -> Result<RgbImage, String>) -> Self {
        Self {
            decode,
            ..Self::default()
        }
    }

    pub(crate) fn request(&mut self, slot: &mut Slot, source: Source, ctx: &egui::Context) {
        self.last_generation += 1;
        let generation = self.last_generation;
        let source_name = source.name();
        slot.await_load(generation, source_name.clone());
        let (tx, ctx) = (self.tx.clone(), ctx.clone());
        let decode = self.decode;
        let max_side = ctx.input(|i| i.max_texture_side).min(DISPLAY_SIDE as usize) as u32;
        let spawned = std::thread::Builder::new()
            .name("atelier-decode".into())
            .spawn(move || {
                let name = source.name();
                let path = match &source {
                    Source::Path(p) => Some(p.clone()),
                    Source::Bytes { .. } => None,
                };
                // A panic in a decoder must still answer, or the slot would stay "loading"
                // and Start blocked.
                let result = catch_unwind(AssertUnwindSafe(|| {
                    decode(&source).map(|img| Decoded {
                        thumb: to_color_image(&img, THUMB_SIDE),
                        display: to_color_image(&img, max_side.max(64)),
                        image: Arc::new(img),
                    })
                }))
                .unwrap_or_else(|panic| Err(super::task::crashed("decoding it", panic.as_ref())));
                let _ = tx.send(LoadResult {
                    generation,
                    path,
                    name,
                    result,
                });
                ctx.request_repaint();
            });
        if let Err(e) = spawned {
            let _ = self.tx.send(LoadResult {
                generation,
                path: None,
                name: source_name,
                result: Err(format!("couldn't start a decoding thread ({e}); try again")),
            });
        }
    }

    pub(crate) fn poll(&self) -> Option<LoadResult> {
        self.rx.try_recv().ok()
    }
}
