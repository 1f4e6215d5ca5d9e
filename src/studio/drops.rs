//! Files dragged onto the window: which card they would land on while they hover (for the
//! highlight and the hint on the preview), and what a drop asks for. A file dropped on the
//! Settings file card restores settings; elsewhere the slot under the pointer takes it, or the
//! content slot first, and a second file goes to the style.

use super::command::Command;
use super::decode::Source;
use super::notices::{Level, Topic};
use super::slots::SlotKind;
use egui::{Pos2, Rect};
use std::sync::Arc;

/// The drag in progress, as of this frame.
#[derive(Debug, Default)]
pub(crate) struct Drops {
    hovering: bool,
    /// The slot that would receive the files (none while they hover over the settings card).
    target: Option<SlotKind>,
    on_settings: bool,
}

impl Drops {
    pub(crate) fn target(&self) -> Option<SlotKind> {
        self.target
    }

    /// Files hover over the Settings file card.
    pub(crate) fn over_settings(&self) -> bool {
        self.hovering && self.on_settings
    }

    /// What the preview says while files hover.
    pub(crate) fn hint(&self) -> Option<&'static str> {
        self.hovering.then_some(match self.target {
            Some(SlotKind::Style) => "Drop to use as the style painting",
            Some(SlotKind::ExtraStyle(_)) => "Drop to blend in as another style",
            Some(SlotKind::Mask) => "Drop to use as the mask",
            None if self.on_settings => "Drop to restore the settings it was made with",
            _ => "Drop to use as the content photo (a second file becomes the style)",
        })
    }

    /// Reads this frame's hover and drop. `slots`: each card and where it was drawn;
    /// `settings`: where the Settings file card was drawn.
    pub(crate) fn read(
        &mut self,
        ctx: &egui::Context,
        slots: &[(SlotKind, Option<Rect>)],
        settings: Option<Rect>,
    ) -> Vec<Command> {
        let (hovering, dropped, pointer) = ctx.input(|i| {
            (
                !i.raw.hovered_files.is_empty(),
                i.raw.dropped_files.clone(),
                i.pointer.hover_pos(),
            )
        });
        let on_settings = pointer.is_some_and(|p| settings.is_some_and(|r| r.contains(p)));
        self.hovering = hovering;
        self.on_settings = on_settings;
        self.target = (hovering && !on_settings)
            .then(|| slot_under(pointer, slots).unwrap_or(SlotKind::Content));
        let mut sent = Vec::new();
        let Some(first) = dropped.first() else {
            return sent;
        };
        if on_settings {
            let path = first.path().to_path_buf();
            sent.push(if path.as_os_str().is_empty() {
                Command::Notify(
                    Level::Error,
                    Topic::Settings,
                    "The dropped file has no path on disk: save it first, then drop or type its path."
                        .into(),
                )
            } else {
                Command::LoadSettingsFile(path)
            });
            return sent;
        }
        let targets = drop_targets(dropped.len(), pointer, slots);
        let used = targets.len();
        for (file, kind) in dropped.iter().zip(targets) {
            let path = file.path();
            if !path.as_os_str().is_empty() {
                sent.push(Command::LoadImage(kind, Source::Path(path.to_path_buf())));
                continue;
            }
            sent.push(match file.bytes() {
                Ok(bytes) => Command::LoadImage(
                    kind,
                    Source::Bytes {
                        name: "dropped file".into(),
                        bytes: Arc::new(bytes),
                    },
                ),
                Err(e) => Command::Notify(
                    Level::Error,
                    kind.notice_title(),
                    format!("couldn't read the dropped file: {e}"),
                ),
            });
        }
        if dropped.len() > used {
            let what = if used == 2 {
                "Only the first two files were used: one photo and one painting."
            } else {
                "Only the first file was used: this slot takes one image."
            };
            sent.push(Command::Notify(Level::Warning, Topic::Drop, what.into()));
        }
        sent
    }
}

/// Which slots dropped files go to: the slot under the pointer first, otherwise content first;
/// a second file goes to the other of content and style (extras and the mask take one file).
fn drop_targets(
    files: usize,
    pointer: Option<Pos2>,
    rects: &[(SlotKind, Option<Rect>)],
) -> Vec<SlotKind> {
    let first = slot_under(pointer, rects).unwrap_or(SlotKind::Content);
    std::iter::once(first)
        .chain(first.other())
        .take(files)
        .collect()
}

fn slot_under(pointer: Option<Pos2>, rects: &[(SlotKind, Option<Rect>)]) -> Option<SlotKind> {
    let p = pointer?;
    rects
        .iter()
        .find(|(_, r)| r.is_some_and(|r| r.contains(p)))
        .map(|(k, _)| *k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_go_under_the_pointer_else_content_first() {
        let c = Rect::from_min_size(Pos2::new(0.0, 0.0), egui::vec2(100.0, 100.0));
        let s = Rect::from_min_size(Pos2::new(0.0, 120.0), egui::vec2(100.0, 100.0));
        let m = Rect::from_min_size(Pos2::new(0.0, 240.0), egui::vec2(100.0, 100.0));
        let rects = [
            (SlotKind::Content, Some(c)),
            (SlotKind::Style, Some(s)),
            (SlotKind::Mask, Some(m)),
        ];
        assert_eq!(
            drop_targets(1, Some(Pos2::new(50.0, 150.0)), &rects),
            vec![SlotKind::Style]
        );
        assert_eq!(
            drop_targets(2, Some(Pos2::new(50.0, 150.0)), &rects),
            vec![SlotKind::Style, SlotKind::Content]
        );
        assert_eq!(
            drop_targets(1, Some(Pos2::new(500.0, 5.0)), &rects),
            vec![SlotKind::Content]
        );
        assert_eq!(
            drop_targets(3, None, &rects),
            vec![SlotKind::Content, SlotKind::Style]
        );
        assert_eq!(
            drop_targets(2, Some(Pos2::new(50.0, 250.0)), &rects),
            vec![SlotKind::Mask],
            "the mask takes one file"
        );
    }

    #[derive(Debug)]
    struct Dropped(&'static str);

    impl egui::DroppedFile for Dropped {
        fn path(&self) -> &std::path::Path {
            std::path::Path::new(self.0)
        }
        fn bytes(&self) -> Result<Vec<u8>, String> {
            Err("gone".into())
        }
    }

    /// Three files on the style card: style and content load, the third is reported.
    #[test]
    fn a_drop_becomes_loads_and_a_notice() {
        let ctx = egui::Context::default();
        let style = Rect::from_min_size(Pos2::new(0.0, 0.0), egui::vec2(100.0, 100.0));
        let mut input = egui::RawInput::default();
        input
            .events
            .push(egui::Event::PointerMoved(Pos2::new(10.0, 10.0)));
        input.dropped_files = ["/a.png", "/b.png", "/c.png"]
            .map(|p| Arc::new(Dropped(p)) as egui::DroppedFileHandle)
            .to_vec();
        let mut drops = Drops::default();
        let mut sent = Vec::new();
        let _ = ctx.run_ui(input, |ui| {
            sent = drops.read(ui.ctx(), &[(SlotKind::Style, Some(style))], None);
        });
        let kinds: Vec<_> = sent
            .iter()
            .map(|c| match c {
                Command::LoadImage(k, Source::Path(_)) => k.label(),
                Command::Notify(Level::Warning, Topic::Drop, m) => m.clone(),
                other => format!("{other:?}"),
            })
            .collect();
        assert_eq!(
            kinds,
            [
                "Style",
                "Content",
                "Only the first two files were used: one photo and one painting."
            ]
        );
    }
}
