//! The image slots as data: content, style, the extra styles with their blend weights, and the
//! mask; what each holds (path, decoded picture, its textures), what is loading, and where a
//! finished decode belongs. No drawing here (the cards are `panels/images.rs`).
//!
//! Decoding runs on a short-lived thread so a 40-megapixel JPEG never freezes the window; a newer
//! request for the same slot wins, and a failed one leaves the previous image in place.

use super::decode::{LoadResult, Loader, Source};
use super::run_plan::SlotView;
use crate::settings::{Settings, StyleRef};
use egui::{TextureHandle, TextureOptions};
use image::{GrayImage, RgbImage};
use std::path::PathBuf;
use std::sync::Arc;

/// Which input an image is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SlotKind {
    /// The photo whose shapes are kept.
    Content,
    /// The painting whose brushwork is borrowed.
    Style,
    /// One more painting blended with the main style; the index is its position among the extras
    /// (shown as "Style 2" for index 0).
    ExtraStyle(usize),
    /// Where the style applies: white gets the style, black keeps the photo.
    Mask,
}

impl SlotKind {
    pub fn label(self) -> String {
        match self {
            SlotKind::Content => "Content".into(),
            SlotKind::Style => "Style".into(),
            SlotKind::ExtraStyle(i) => format!("Style {}", i + 2),
            SlotKind::Mask => "Mask".into(),
        }
    }

    /// Where a second dropped file goes: content and style pair up; extras and the mask take one.
    pub fn other(self) -> Option<SlotKind> {
        match self {
            SlotKind::Content => Some(SlotKind::Style),
            SlotKind::Style => Some(SlotKind::Content),
            SlotKind::ExtraStyle(_) | SlotKind::Mask => None,
        }
    }

    /// Title used for this slot's notices, so a good load can clear an old error.
    pub(crate) fn notice_title(self) -> super::notices::Topic {
        super::notices::Topic::Image(self)
    }

    /// Accessible name of the slot's drop zone (tests find the slot by it).
    pub fn drop_zone_name(self) -> String {
        format!("{} image drop zone", self.label())
    }

    /// Accessible name of the slot's path field.
    pub fn path_field_name(self) -> String {
        format!("{} path", self.label())
    }

    /// What the slot is for, as its card says it.
    pub(crate) fn hint(self) -> &'static str {
        match self {
            SlotKind::Content => "the photo to repaint",
            SlotKind::Style => "the painting to borrow from",
            SlotKind::ExtraStyle(_) => "another painting to blend in",
            SlotKind::Mask => "a black-and-white mask (white = style)",
        }
    }
}

/// One input image: where it came from, the decoded picture and its textures, and whether a
/// decode is on its way.
pub(crate) struct Slot {
    pub(crate) kind: SlotKind,
    /// Stable while the slot lives (extra styles renumber; this doesn't), so a card's own
    /// state (its path field) stays with its slot.
    id: u64,
    pub(crate) path: Option<PathBuf>,
    pub(crate) name: Option<String>,
    pub(crate) image: Option<Arc<RgbImage>>,
    pub(crate) thumb: Option<TextureHandle>,
    /// Screen-sized copy (content: the "before" of the compare view).
    pub(crate) display: Option<TextureHandle>,
    /// File name being decoded right now.
    pub(crate) loading: Option<String>,
    generation: u64,
    /// Counts the images that landed here, so a card knows when to show the new path.
    loads: u64,
    /// Loaded instead when the first request fails and the slot is still empty (a saved path
    /// that has gone away falls back to the sample).
    fallback: Option<PathBuf>,
}

impl Slot {
    fn new(kind: SlotKind, id: u64) -> Self {
        Self {
            kind,
            id,
            path: None,
            name: None,
            image: None,
            thumb: None,
            display: None,
            loading: None,
            generation: 0,
            loads: 0,
            fallback: None,
        }
    }

    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    pub(crate) fn loads(&self) -> u64 {
        self.loads
    }

    /// A decode was asked for: the slot waits for request `generation`.
    pub(crate) fn await_load(&mut self, generation: u64, name: String) {
        self.generation = generation;
        self.loading = Some(name);
    }

    /// The result of this request is still awaited by this slot.
    fn awaits(&self, generation: u64) -> bool {
        self.loading.is_some() && self.generation == generation
    }

    /// The slot as Start's rules see it.
    pub(crate) fn view(&self) -> SlotView {
        SlotView {
            label: self.kind.label(),
            loading: self.loading.is_some(),
            loaded: self.image.is_some(),
        }
    }
}

/// One more style slot and its blend weight.
pub(crate) struct ExtraStyle {
    pub(crate) slot: Slot,
    pub(crate) weight: f32,
    /// Came from saved or restored settings: if its file is gone, the slot goes too.
    restored: bool,
}

/// Where a finished decode landed, for the app to tell the settings and the notices.
pub(crate) enum Landed {
    /// Superseded by a newer request, or its slot was removed.
    Stale,
    Loaded {
        kind: SlotKind,
        path: Option<PathBuf>,
    },
    Failed {
        kind: SlotKind,
        /// The file's name, for the notice.
        name: String,
        message: String,
        /// The slot still shows its previous image.
        kept: bool,
        /// What to load instead (the sample, for a remembered file that is gone).
        fallback: Option<PathBuf>,
        /// A remembered extra style whose file is gone: the slot should go too.
        gone_extra: Option<usize>,
    },
}

/// Every image slot, and the decoder that fills them.
pub(crate) struct Slots {
    content: Slot,
    style: Slot,
    extras: Vec<ExtraStyle>,
    mask: Slot,
    /// The mask as the worker wants it, converted once per load.
    mask_gray: Option<Arc<GrayImage>>,
    loader: Loader,
    next_id: u64,
}

impl Default for Slots {
    fn default() -> Self {
        Self::with_loader(Loader::default())
    }
}

impl Slots {
    fn with_loader(loader: Loader) -> Self {
        Self {
            content: Slot::new(SlotKind::Content, 1),
            style: Slot::new(SlotKind::Style, 2),
            extras: Vec::new(),
            mask: Slot::new(SlotKind::Mask, 3),
            mask_gray: None,
            loader,
            next_id: 4,
        }
    }

    fn fresh(&mut self, kind: SlotKind) -> Slot {
        self.next_id += 1;
        Slot::new(kind, self.next_id)
    }

    pub(crate) fn get(&self, kind: SlotKind) -> Option<&Slot> {
        match kind {
            SlotKind::Content => Some(&self.content),
            SlotKind::Style => Some(&self.style),
            SlotKind::ExtraStyle(i) => self.extras.get(i).map(|e| &e.slot),
            SlotKind::Mask => Some(&self.mask),
        }
    }

    fn get_mut(&mut self, kind: SlotKind) -> Option<&mut Slot> {
        match kind {
            SlotKind::Content => Some(&mut self.content),
            SlotKind::Style => Some(&mut self.style),
            SlotKind::ExtraStyle(i) => self.extras.get_mut(i).map(|e| &mut e.slot),
            SlotKind::Mask => Some(&mut self.mask),
        }
    }

    /// Every slot in the order the panel shows them: content, style, extras, mask.
    pub(crate) fn all(&self) -> impl Iterator<Item = &Slot> {
        [&self.content, &self.style]
            .into_iter()
            .chain(self.extras.iter().map(|e| &e.slot))
            .chain([&self.mask])
    }

    pub(crate) fn extras(&self) -> &[ExtraStyle] {
        &self.extras
    }

    pub(crate) fn mask_gray(&self) -> Option<&Arc<GrayImage>> {
        self.mask_gray.as_ref()
    }

    /// Starts decoding `source` for `kind`; a slot removed meanwhile (a file dialog was open)
    /// asks for nothing.
    pub(crate) fn load(&mut self, kind: SlotKind, source: Source, ctx: &egui::Context) {
        let Some(slot) = (match kind {
            SlotKind::Content => Some(&mut self.content),
            SlotKind::Style => Some(&mut self.style),
            SlotKind::ExtraStyle(i) => self.extras.get_mut(i).map(|e| &mut e.slot),
            SlotKind::Mask => Some(&mut self.mask),
        }) else {
            return;
        };
        self.loader.request(slot, source, ctx);
    }

    /// A finished decode, if one arrived.
    pub(crate) fn poll(&self) -> Option<LoadResult> {
        self.loader.poll()
    }

    /// Puts a finished decode in the slot that asked for it (by request number: extra slots
    /// may have been renumbered meanwhile) and says what happened.
    pub(crate) fn apply(&mut self, r: LoadResult, ctx: &egui::Context) -> Landed {
        let Some(kind) = self.all().find(|s| s.awaits(r.generation)).map(|s| s.kind) else {
            return Landed::Stale;
        };
        let name = r.name.clone();
        let Some(slot) = self.get_mut(kind) else {
            return Landed::Stale;
        };
        slot.loading = None;
        let decoded = match r.result {
            Ok(d) => d,
            Err(message) => {
                let kept = slot.image.is_some();
                let fallback = slot.fallback.take().filter(|_| slot.image.is_none());
                let gone_extra = match kind {
                    SlotKind::ExtraStyle(i) => self
                        .extras
                        .get(i)
                        .filter(|e| e.restored && e.slot.image.is_none())
                        .map(|_| i),
                    _ => None,
                };
                return Landed::Failed {
                    kind,
                    name,
                    message,
                    kept,
                    fallback,
                    gone_extra,
                };
            }
        };
        let label = kind.label().to_lowercase();
        let opts = TextureOptions::LINEAR;
        slot.thumb = Some(ctx.load_texture(format!("{label}-thumb"), decoded.thumb, opts));
        slot.display = Some(ctx.load_texture(format!("{label}-display"), decoded.display, opts));
        slot.image = Some(decoded.image);
        slot.name = Some(r.name);
        slot.path = r.path.clone();
        slot.fallback = None;
        slot.loads += 1;
        if kind == SlotKind::Mask {
            self.mask_gray =
                self.mask.image.as_ref().map(|img| {
                    Arc::new(image::DynamicImage::ImageRgb8((**img).clone()).to_luma8())
                });
        }
        Landed::Loaded { kind, path: r.path }
    }

    /// The slots as a session starts: saved images first, the sample pair filling empty slots
    /// and standing in for saved files that have gone; extra styles and the mask from the
    /// saved settings.
    pub(crate) fn restore(
        &mut self,
        saved: &Settings,
        samples: [Option<PathBuf>; 2],
        ctx: &egui::Context,
    ) {
        let [sample_content, sample_style] = samples;
        for (kind, saved, fallback) in [
            (SlotKind::Content, saved.content.clone(), sample_content),
            (SlotKind::Style, saved.style.clone(), sample_style),
        ] {
            let first = saved.clone().or_else(|| fallback.clone());
            if let Some(slot) = self.get_mut(kind) {
                if saved.is_some() {
                    slot.fallback = fallback;
                }
            }
            if let Some(p) = first {
                self.load(kind, Source::Path(p), ctx);
            }
        }
        self.set_extras(&saved.extra_styles, ctx);
        if let Some(p) = saved.mask.clone() {
            self.load(SlotKind::Mask, Source::Path(p), ctx);
        }
    }

    /// The decoded extra styles, in the order of [`Self::extra_refs`].
    pub(crate) fn loaded_extras(&self) -> Vec<Arc<RgbImage>> {
        self.extras
            .iter()
            .filter_map(|e| e.slot.image.clone())
            .collect()
    }

    /// `settings.extra_styles` as the slots have it: those that hold an image, in order.
    pub(crate) fn extra_refs(&self) -> Vec<StyleRef> {
        self.extras
            .iter()
            .filter(|e| e.slot.image.is_some())
            .map(|e| StyleRef {
                path: e.slot.path.clone().unwrap_or_else(|| {
                    PathBuf::from(e.slot.name.clone().unwrap_or_else(|| "dropped file".into()))
                }),
                weight: e.weight,
            })
            .collect()
    }

    /// A new, empty extra style slot at the end.
    pub(crate) fn add_extra(&mut self) -> SlotKind {
        let kind = SlotKind::ExtraStyle(self.extras.len());
        let slot = self.fresh(kind);
        self.extras.push(ExtraStyle {
            slot,
            weight: 1.0,
            restored: false,
        });
        kind
    }

    /// Removes extra style `index`; the ones after it move up a number.
    pub(crate) fn remove_extra(&mut self, index: usize) -> bool {
        if index >= self.extras.len() {
            return false;
        }
        self.extras.remove(index);
        for (i, e) in self.extras.iter_mut().enumerate() {
            e.slot.kind = SlotKind::ExtraStyle(i);
        }
        true
    }

    /// An extra style's blend weight.
    pub(crate) fn set_extra_weight(&mut self, index: usize, weight: f32) {
        if let Some(e) = self.extras.get_mut(index) {
            e.weight = weight;
        }
    }

    /// Replaces the extra style slots by `refs`, keeping slots that already hold the same file
    /// and loading the others; files that don't exist are skipped and returned.
    pub(crate) fn set_extras(&mut self, refs: &[StyleRef], ctx: &egui::Context) -> Vec<PathBuf> {
        let mut old = std::mem::take(&mut self.extras);
        let mut missing = Vec::new();
        for r in refs {
            let kind = SlotKind::ExtraStyle(self.extras.len());
            if let Some(pos) = old
                .iter()
                .position(|e| e.slot.path.as_ref() == Some(&r.path))
            {
                let mut e = old.remove(pos);
                e.slot.kind = kind;
                e.weight = r.weight;
                self.extras.push(e);
            } else if r.path.is_file() {
                let slot = self.fresh(kind);
                self.extras.push(ExtraStyle {
                    slot,
                    weight: r.weight,
                    restored: true,
                });
                self.load(kind, Source::Path(r.path.clone()), ctx);
            } else {
                missing.push(r.path.clone());
            }
        }
        missing
    }

    /// Empties the mask slot (a decode in flight is ignored when it lands).
    pub(crate) fn clear_mask(&mut self) {
        self.mask = self.fresh(SlotKind::Mask);
        self.mask_gray = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wait(slots: &Slots) -> LoadResult {
        let t0 = std::time::Instant::now();
        loop {
            if let Some(r) = slots.poll() {
                return r;
            }
            assert!(
                t0.elapsed().as_secs() < 30,
                "the decode never reported back"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }

    /// A panic while decoding used to leave the slot "loading" and Start blocked for good.
    #[test]
    fn a_crashed_decode_ends_the_loading_with_an_error() {
        let ctx = egui::Context::default();
        let mut slots = Slots::with_loader(Loader::with_decoder(|_| panic!("decoder bug")));
        slots.load(SlotKind::Content, Source::Path("cat.png".into()), &ctx);
        assert!(slots
            .get(SlotKind::Content)
            .is_some_and(|s| s.loading.is_some()));
        let result = wait(&slots);
        let Landed::Failed { message: err, .. } = slots.apply(result, &ctx) else {
            panic!("an error");
        };
        assert!(
            err.contains("crashed") && err.contains("decoder bug"),
            "{err}"
        );
        assert!(
            slots
                .get(SlotKind::Content)
                .is_some_and(|s| s.loading.is_none()),
            "the slot no longer waits"
        );
    }

    /// Removing an extra style while the one after it decodes: the picture still lands in
    /// that slot, now one number lower.
    #[test]
    fn a_decode_finds_its_slot_after_renumbering() {
        let ctx = egui::Context::default();
        let mut slots = Slots::with_loader(Loader::with_decoder(|_| Ok(RgbImage::new(3, 2))));
        slots.add_extra();
        let second = slots.add_extra();
        let id = slots.get(second).map(Slot::id);
        slots.load(second, Source::Path("b.png".into()), &ctx);
        assert!(slots.remove_extra(0));
        let landed = slots.apply(wait(&slots), &ctx);
        assert!(matches!(
            landed,
            Landed::Loaded {
                kind: SlotKind::ExtraStyle(0),
                ..
            }
        ));
        let slot = slots.get(SlotKind::ExtraStyle(0)).expect("the slot");
        assert_eq!((slot.id(), slot.loads()), (id.unwrap_or_default(), 1));
        assert_eq!(slots.extra_refs()[0].path, PathBuf::from("b.png"));
        assert_eq!(slots.loaded_extras().len(), 1);
    }

    /// Restored settings name files that may be gone: those are reported, not slotted.
    #[test]
    fn extras_keep_same_files_and_skip_missing_ones() {
        let ctx = egui::Context::default();
        let tmp = tempfile::tempdir().expect("tempdir");
        let here = tmp.path().join("here.png");
        std::fs::write(&here, b"x").expect("write");
        let gone = tmp.path().join("gone.png");
        let mut slots = Slots::with_loader(Loader::with_decoder(|_| Ok(RgbImage::new(2, 2))));
        let refs = [
            StyleRef {
                path: gone.clone(),
                weight: 1.0,
            },
            StyleRef {
                path: here.clone(),
                weight: 2.0,
            },
        ];
        assert_eq!(slots.set_extras(&refs, &ctx), vec![gone]);
        assert_eq!(slots.extras().len(), 1);
        assert_eq!(slots.extras()[0].weight, 2.0);
    }
}
