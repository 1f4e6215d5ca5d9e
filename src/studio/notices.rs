//! Errors and hints for the artist, each saying what to do next, by [`Topic`]: a newer notice on
//! a topic replaces or clears the older ones. They never end the run or unload an image: the
//! artist reads, dismisses and carries on. The banners are drawn by `panels/notices.rs`.

use super::slots::SlotKind;
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
    /// Brushes: training them, the collection.
    Training,
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
            Topic::Training => "Brush".into(),
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

impl Notice {
    /// Stable while the notice lives: what Dismiss names.
    pub(crate) fn id(&self) -> u64 {
        self.id
    }
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

    /// Drops the notice the artist dismissed.
    pub(crate) fn dismiss(&mut self, id: u64) {
        self.items.retain(|n| n.id != id);
    }

    /// Lets info notices that are old enough go; returns when the next one will, so the window
    /// can wake up for it.
    pub(crate) fn expire(&mut self) -> Option<Duration> {
        let now = Instant::now();
        self.items
            .retain(|n| n.level != Level::Info || now.duration_since(n.created) < INFO_LIFETIME);
        self.items
            .iter()
            .filter(|n| n.level == Level::Info)
            .map(|n| INFO_LIFETIME.saturating_sub(now.duration_since(n.created)))
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_notice_counts_up_and_dismissing_removes_it() {
        let mut n = Notices::default();
        n.error(Topic::Export, "disk full");
        n.error(Topic::Export, "disk full");
        assert_eq!(n.items().len(), 1);
        assert_eq!(n.items()[0].repeats, 2);
        assert!(n.items()[0].title == "Export");
        n.info(Topic::Run, "done");
        assert!(
            n.expire().is_some_and(|d| d <= INFO_LIFETIME),
            "the info fades"
        );
        let id = n.items()[0].id();
        n.dismiss(id);
        assert_eq!(n.items().len(), 1);
        n.clear_title(Topic::Run);
        assert!(n.items().is_empty());
    }
}
