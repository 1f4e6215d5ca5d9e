//! The worker's instant mode: the feed-forward networks, loaded on first use and kept, plus the
//! caches that make a slider drag cheap (style vectors per image, the content's own vector, the
//! built-in swatches).

use super::protocol::{BrushEntry, BrushList, InstantRequest, InstantSource};
use crate::engine::brush::{Brush, BrushNet};
use crate::engine::instant::{self, Arbitrary, Multistyle, StyleVector};
use crate::error::Result;
use candle_core::Device;
use image::RgbImage;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Style vectors kept, newest last: enough for flipping between a few paintings.
const VECTOR_CACHE: usize = 8;

/// Instant-mode state on the worker thread.
#[derive(Default)]
pub(super) struct InstantEngine {
    dir: Option<PathBuf>,
    arbitrary: Option<Arbitrary>,
    multistyle: Option<Multistyle>,
    /// Keyed by the image's `Arc` identity; holding the `Arc` keeps the address from being
    /// reused by another image. Content images share it (for the "own" vector).
    vectors: Vec<(Arc<RgbImage>, StyleVector)>,
    thumbnails: Option<(PathBuf, u32, Vec<Arc<RgbImage>>)>,
    /// The brush last painted with, and the file's modification time when it was loaded.
    brush: Option<(PathBuf, Option<std::time::SystemTime>, BrushNet)>,
}

impl InstantEngine {
    /// An engine that finds its networks in `assets/instant` (the studio's folder), or by the
    /// usual search when `None`.
    pub(super) fn in_assets(assets: Option<PathBuf>) -> Self {
        Self {
            dir: assets.map(|a| a.join("instant")),
            ..Self::default()
        }
    }

    /// Paints the request's picture.
    pub(super) fn render(&mut self, req: &InstantRequest) -> Result<RgbImage> {
        match &req.source {
            InstantSource::Style { image, strength } => {
                let style = self.vector(image)?;
                let v = if *strength >= 1.0 {
                    style
                } else {
                    let own = self.vector(&req.content)?;
                    style.towards(&own, *strength)?
                };
                self.arbitrary()?.stylize(&req.content, &v, req.size)
            }
            InstantSource::Builtin { blend, strength } => {
                let out = self.multistyle()?.stylize(&req.content, blend, req.size)?;
                mixed(out, &req.content, *strength)
            }
            InstantSource::Brush { path, strength } => {
                let out = self.brush(path)?.stylize(&req.content, req.size)?;
                mixed(out, &req.content, *strength)
            }
        }
    }

    /// The brush at `path`, loaded again when the file changed since (a checkpoint, a retrain).
    fn brush(&mut self, path: &Path) -> Result<&BrushNet> {
        let modified = std::fs::metadata(path).and_then(|m| m.modified()).ok();
        let fresh = self
            .brush
            .as_ref()
            .is_some_and(|(p, m, _)| p == path && *m == modified && modified.is_some());
        if !fresh {
            let brush = Brush::load(path)?;
            self.brush = Some((
                path.to_path_buf(),
                modified,
                BrushNet::new(&brush, &Device::Cpu)?,
            ));
        }
        Ok(&self.brush.as_ref().expect("loaded above").2)
    }

    /// The 26 swatches of `sample` at `size`, rendered once per sample and size.
    pub(super) fn thumbnails(&mut self, sample: &Path, size: u32) -> Result<Vec<Arc<RgbImage>>> {
        if let Some((s, z, t)) = &self.thumbnails {
            if s == sample && *z == size {
                return Ok(t.clone());
            }
        }
        let picture = crate::image_io::load_image(sample)?;
        let t: Vec<Arc<RgbImage>> = self
            .multistyle()?
            .thumbnails(&picture, size)?
            .into_iter()
            .map(Arc::new)
            .collect();
        self.thumbnails = Some((sample.to_path_buf(), size, t.clone()));
        Ok(t)
    }

    /// The user's brush collection with decoded thumbnails (file work: on this thread, never
    /// the UI's).
    pub(super) fn brushes(&self, dir: Option<PathBuf>) -> BrushList {
        let Some(dir) = dir.or_else(crate::brushes::dir) else {
            return BrushList {
                problem: Some(
                    "no data folder for brushes: set HOME, XDG_DATA_HOME or ATELIER_DATA_DIR"
                        .into(),
                ),
                ..BrushList::default()
            };
        };
        let (good, damaged) = crate::brushes::list_in(&dir);
        let brushes = good
            .into_iter()
            .map(|e| BrushEntry {
                thumbnail: e
                    .thumbnail
                    .as_deref()
                    .and_then(|t| crate::image_io::load_image(t).ok())
                    .map(Arc::new),
                painting: e.info.painting,
                steps: e.info.steps,
                seconds: e.info.seconds,
                name: e.name,
                path: e.path,
            })
            .collect();
        BrushList {
            brushes,
            damaged,
            dir: Some(dir),
            problem: None,
        }
    }

    /// How many style vectors the predictor has computed so far (for tests of the cache).
    #[cfg(test)]
    fn cached_vectors(&self) -> usize {
        self.vectors.len()
    }

    fn vector(&mut self, image: &Arc<RgbImage>) -> Result<StyleVector> {
        if let Some((_, v)) = self.vectors.iter().find(|(i, _)| Arc::ptr_eq(i, image)) {
            return Ok(v.clone());
        }
        let v = self.arbitrary()?.style_vector(image)?;
        if self.vectors.len() >= VECTOR_CACHE {
            self.vectors.remove(0);
        }
        self.vectors.push((image.clone(), v.clone()));
        Ok(v)
    }

    fn dir(&mut self) -> Result<PathBuf> {
        if let Some(d) = &self.dir {
            // The studio's folder, checked (a missing file is named) on first use.
            return Ok(instant::locate(Some(d))?);
        }
        let d = instant::locate(None)?;
        self.dir = Some(d.clone());
        Ok(d)
    }

    pub(super) fn arbitrary(&mut self) -> Result<&Arbitrary> {
        if self.arbitrary.is_none() {
            let dir = self.dir()?;
            self.arbitrary = Some(Arbitrary::load(&dir, &Device::Cpu)?);
        }
        Ok(self.arbitrary.as_ref().expect("loaded above"))
    }

    /// A fresh copy of the arbitrary network on `device` (a brush training's teacher owns one).
    pub(super) fn load_arbitrary(&mut self, device: &Device) -> Result<Arbitrary> {
        let dir = self.dir()?;
        Arbitrary::load(&dir, device)
    }

    fn multistyle(&mut self) -> Result<&Multistyle> {
        if self.multistyle.is_none() {
            let dir = self.dir()?;
            self.multistyle = Some(Multistyle::load(&dir, &Device::Cpu)?);
        }
        Ok(self.multistyle.as_ref().expect("loaded above"))
    }
}

/// `strength`·painted + (1 − `strength`)·content: how the built-in styles and brushes, which
/// have no "content's own style", go part of the way.
fn mixed(painted: RgbImage, content: &RgbImage, strength: f32) -> Result<RgbImage> {
    if strength >= 1.0 {
        Ok(painted)
    } else {
        instant::mix_with_content(&painted, content, strength)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn picture(seed: u8) -> Arc<RgbImage> {
        Arc::new(RgbImage::from_fn(64, 48, |x, y| {
            image::Rgb([
                (x * 4) as u8 ^ seed,
                (y * 5) as u8,
                seed.wrapping_mul(31).wrapping_add((x ^ y) as u8),
            ])
        }))
    }

    #[test]
    fn strength_changes_reuse_the_style_vector() {
        let mut e = InstantEngine::default();
        let (content, style) = (picture(1), picture(2));
        let req = |strength| InstantRequest {
            id: 0,
            content: content.clone(),
            source: InstantSource::Style {
                image: style.clone(),
                strength,
            },
            size: 32,
        };
        let full = e
            .render(&req(1.0))
            .expect("instant assets in assets/instant");
        assert_eq!(e.cached_vectors(), 1);
        let half = e.render(&req(0.5)).expect("half strength");
        // The content's own vector joins; the style's is not recomputed.
        assert_eq!(e.cached_vectors(), 2);
        e.render(&req(0.25)).expect("quarter strength");
        assert_eq!(e.cached_vectors(), 2);
        assert_eq!(full.dimensions(), (32, 24));
        assert_ne!(full, half, "strength changes the picture");
    }
}
