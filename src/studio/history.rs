//! The history: snapshots taken during and between runs (at the end of each run, every
//! [`AUTO_EVERY`] iterations while painting, and on demand), each with the settings that painted
//! it, and which one is being compared with the picture on screen. The strip that shows them is
//! `panels/history.rs`.

use super::picture::{to_color_image, FRAME_TEXTURE};
use crate::settings::Settings;
use egui::{TextureHandle, TextureOptions};
use image::RgbImage;
use std::collections::VecDeque;
use std::sync::Arc;

/// At most this many snapshots are kept; the oldest goes first.
pub(crate) const CAPACITY: usize = 24;
/// A snapshot is taken automatically this many iterations apart while a run paints.
pub(crate) const AUTO_EVERY: u32 = 50;
const THUMB_SIDE: u32 = 96;

/// Why a snapshot was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotKind {
    /// Every [`AUTO_EVERY`] iterations.
    Auto,
    /// The Snapshot button.
    Manual,
    /// The run ended (completed or stopped).
    End,
}

impl SnapshotKind {
    pub(crate) fn describe(self) -> &'static str {
        match self {
            SnapshotKind::Auto => "during the run",
            SnapshotKind::Manual => "taken by hand",
            SnapshotKind::End => "end of the run",
        }
    }
}

pub(crate) struct Snapshot {
    /// Stable number, shown and used as the accessible name ("Snapshot 3").
    pub(crate) id: u64,
    pub(crate) kind: SnapshotKind,
    pub(crate) iteration: u32,
    pub(crate) image: Arc<RgbImage>,
    /// The settings that painted it (live weight changes included).
    pub(crate) settings: Settings,
    pub(crate) thumb: TextureHandle,
}

#[derive(Default)]
pub(crate) struct History {
    items: VecDeque<Snapshot>,
    next_id: u64,
    /// The snapshot drawn left of the split divider, and its full-size texture.
    comparing: Option<(u64, TextureHandle)>,
    /// Iteration of the last automatic snapshot in the current run.
    last_auto: u32,
}

impl History {
    /// A run starts: its automatic snapshots count from iteration 0.
    pub(crate) fn run_started(&mut self) {
        self.last_auto = 0;
    }

    /// Whether a frame at `iteration` is due for an automatic snapshot (and from now on, the
    /// last one taken).
    pub(crate) fn auto_due(&mut self, iteration: u32) -> bool {
        let due = iteration >= self.last_auto + AUTO_EVERY;
        if due {
            self.last_auto = iteration;
        }
        due
    }

    pub(crate) fn items(&self) -> impl Iterator<Item = &Snapshot> {
        self.items.iter()
    }

    pub(crate) fn get(&self, id: u64) -> Option<&Snapshot> {
        self.items.iter().find(|s| s.id == id)
    }

    /// Keeps `image` unless it is the newest snapshot already (then only its kind is updated, so
    /// a run's last frame isn't stored twice).
    pub(crate) fn push(
        &mut self,
        ctx: &egui::Context,
        image: Arc<RgbImage>,
        iteration: u32,
        settings: Settings,
        kind: SnapshotKind,
    ) {
        if let Some(last) = self.items.back_mut() {
            if Arc::ptr_eq(&last.image, &image) {
                if kind != SnapshotKind::Auto {
                    last.kind = kind;
                }
                return;
            }
        }
        self.next_id += 1;
        let thumb = ctx.load_texture(
            format!("snapshot-{}", self.next_id),
            to_color_image(&image, THUMB_SIDE),
            TextureOptions::LINEAR,
        );
        self.items.push_back(Snapshot {
            id: self.next_id,
            kind,
            iteration,
            image,
            settings,
            thumb,
        });
        while self.items.len() > CAPACITY {
            if let Some(old) = self.items.pop_front() {
                if self.comparing.as_ref().is_some_and(|c| c.0 == old.id) {
                    self.comparing = None;
                }
            }
        }
    }

    /// The snapshot texture and its label while comparing.
    pub(crate) fn compare_texture(&self) -> Option<(&TextureHandle, String)> {
        let (id, tex) = self.comparing.as_ref()?;
        let snap = self.get(*id)?;
        Some((tex, format!("Snapshot {} · it {}", snap.id, snap.iteration)))
    }

    pub(crate) fn comparing(&self) -> Option<u64> {
        self.comparing.as_ref().map(|c| c.0)
    }

    pub(crate) fn toggle_compare(&mut self, ctx: &egui::Context, id: u64) {
        if self.comparing() == Some(id) {
            self.comparing = None;
            return;
        }
        let Some(snap) = self.get(id) else { return };
        let side = ctx.input(|i| i.max_texture_side) as u32;
        let tex = ctx.load_texture(
            "snapshot-compare",
            to_color_image(&snap.image, side),
            FRAME_TEXTURE,
        );
        self.comparing = Some((id, tex));
    }

    pub(crate) fn stop_comparing(&mut self) {
        self.comparing = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn automatic_snapshots_come_every_fifty_iterations_of_a_run() {
        let mut h = History::default();
        h.run_started();
        let due: Vec<u32> = (1..=120).filter(|&i| h.auto_due(i)).collect();
        assert_eq!(due, [AUTO_EVERY, 2 * AUTO_EVERY]);
        h.run_started();
        assert!(!h.auto_due(10));
        assert!(h.auto_due(AUTO_EVERY));
    }

    #[test]
    fn the_newest_picture_is_kept_once_and_the_oldest_go() {
        let ctx = egui::Context::default();
        let mut h = History::default();
        let picture = Arc::new(RgbImage::new(4, 4));
        let s = Settings::default();
        h.push(&ctx, picture.clone(), 5, s.clone(), SnapshotKind::Auto);
        h.push(&ctx, picture, 5, s.clone(), SnapshotKind::End);
        assert_eq!(h.items().count(), 1);
        assert_eq!(h.items().next().map(|x| x.kind), Some(SnapshotKind::End));
        h.toggle_compare(&ctx, 1);
        assert_eq!(h.comparing(), Some(1));
        for i in 0..CAPACITY as u32 {
            h.push(
                &ctx,
                Arc::new(RgbImage::new(2, 2)),
                i,
                s.clone(),
                SnapshotKind::Manual,
            );
        }
        assert_eq!(h.items().count(), CAPACITY);
        assert_eq!(h.comparing(), None, "the compared one was dropped");
    }
}
