//! Errors and hints shown in the window, each saying what to do next. They never end the run or
//! unload an image: the artist reads, dismisses and carries on.

use super::image_slot::SlotKind;
use egui::{Color32, RichText};
use std::time::{Duration, Instant};

/// How serious a notice is; decides its colour and whether it fades.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Confirmations ("Saved …"); they disappear by themselves after a while.
    Info,
    Warning,
    Error,
}

/// What a notice is about: its heading, and what a later notice on the same topic replaces or
/// clears (a good load clears that slot's old error).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topic {
    Run,
    CantStart,
    Export,
    Settings,
    Download,
    Weights,
    Layers,
    Samples,
    /// Files remembered from the last session that are gone.
    LastSession,
    FileDialog,
    Drop,
    /// An image slot ("Content image", "Style 2 image").
    Image(SlotKind),
}

impl Topic {
    /// The heading shown on the notice.
    pub fn label(self) -> String {
        match self {
            Topic::Run => "Run".into(),
            Topic::CantStart => "Can't start".into(),
            Topic::Export => "Export".into(),
            Topic::Settings => "Settings".into(),
            Topic::Download => "Download".into(),
            Topic::Weights => "Weights".into(),
            Topic::Layers => "Layers".into(),
            Topic::Samples => "Samples".into(),
            Topic::LastSession => "Last session".into(),
            Topic::FileDialog => "File dialog".into(),
            Topic::Drop => "Drop".into(),
            Topic::Image(kind) => format!("{} image", kind.label()),
        }
    }
}

/// Tests and logs may name a topic by its heading.
impl PartialEq<&str> for Topic {
    fn eq(&self, other: &&str) -> bool {
        self.label() == *other
    }
}

/// One message for the artist.
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    pub level: Level,
    /// What it is about ("Content image", "Export", "Run").
    pub title: Topic,
    pub message: String,
    /// How many times the same message arrived (shown as ×N instead of stacking copies).
    pub repeats: u32,
    id: u64,
    created: Instant,
}

/// Info notices fade after this long; errors stay until dismissed.
const INFO_LIFETIME: Duration = Duration::from_secs(8);
/// Older notices are dropped beyond this many so the preview stays visible.
const MAX_NOTICES: usize = 5;

#[derive(Debug, Default)]
pub(crate) struct Notices {
    items: Vec<Notice>,
    next_id: u64,
}

impl Notices {
    pub(crate) fn push(&mut self, level: Level, title: Topic, message: impl Into<String>) {
        let message = message.into();
        if let Some(pos) = self
            .items
            .iter()
            .position(|n| n.title == title && n.message == message)
        {
            let mut n = self.items.remove(pos);
            n.repeats += 1;
            n.created = Instant::now();
            self.items.push(n);
            return;
        }
        self.next_id += 1;
        self.items.push(Notice {
            level,
            title,
            message,
            repeats: 1,
            id: self.next_id,
            created: Instant::now(),
        });
        while self.items.len() > MAX_NOTICES {
            let drop_at = self
                .items
                .iter()
                .position(|n| n.level == Level::Info)
                .unwrap_or(0);
            self.items.remove(drop_at);
        }
    }

    pub(crate) fn error(&mut self, title: Topic, message: impl Into<String>) {
        self.push(Level::Error, title, message);
    }

    pub(crate) fn info(&mut self, title: Topic, message: impl Into<String>) {
        self.push(Level::Info, title, message);
    }

    pub(crate) fn items(&self) -> &[Notice] {
        &self.items
    }

    /// Drops notices about `title` (e.g. a slot's old error once a good image loads).
    pub(crate) fn clear_title(&mut self, title: Topic) {
        self.items.retain(|n| n.title != title);
    }

    /// Banners, newest last; expired infos go, and one delayed repaint is booked for the next.
    pub(crate) fn show(&mut self, ui: &mut egui::Ui) {
        let now = Instant::now();
        self.items
            .retain(|n| n.level != Level::Info || now.duration_since(n.created) < INFO_LIFETIME);
        if let Some(next) = self
            .items
            .iter()
            .filter(|n| n.level == Level::Info)
            .map(|n| INFO_LIFETIME.saturating_sub(now.duration_since(n.created)))
            .min()
        {
            ui.ctx()
                .request_repaint_after(next + Duration::from_millis(50));
        }
        let mut dismiss = None;
        for n in &self.items {
            let (fill, accent, icon) = match n.level {
                Level::Error => (
                    Color32::from_rgb(72, 30, 32),
                    Color32::from_rgb(255, 130, 120),
                    "!",
                ),
                Level::Warning => (
                    Color32::from_rgb(66, 54, 26),
                    Color32::from_rgb(240, 200, 110),
                    "!",
                ),
                Level::Info => (
                    Color32::from_rgb(28, 52, 44),
                    Color32::from_rgb(140, 220, 170),
                    "●",
                ),
            };
            egui::Frame::new()
                .fill(fill)
                .stroke(egui::Stroke::new(1.0, accent.gamma_multiply(0.5)))
                .corner_radius(6.0)
                .inner_margin(egui::Margin::symmetric(10, 6))
                .show(ui, |ui| {
                    ui.set_width(ui.available_width());
                    ui.horizontal(|ui| {
                        ui.label(RichText::new(icon).color(accent).strong());
                        let mut head = n.title.label();
                        if n.repeats > 1 {
                            head.push_str(&format!(" (×{})", n.repeats));
                        }
                        ui.label(RichText::new(head).color(accent).strong());
                        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                            if ui
                                .small_button("×")
                                .on_hover_text("Dismiss")
                                .accessible_name(format!("Dismiss {}", n.title.label()))
                                .clicked()
                            {
                                dismiss = Some(n.id);
                            }
                            ui.add(egui::Label::new(&n.message).wrap());
                        });
                    });
                });
            ui.add_space(4.0);
        }
        if let Some(id) = dismiss {
            self.items.retain(|n| n.id != id);
        }
    }
}
