//! The painting network as the studio knows it: loading, loaded (which one, on which device)
//! or missing (and why), the weights download the worker runs, and a generation number that a
//! run compares to tell that its network was swapped under it. No drawing here (the chip, the
//! section and the banner are `panels/network.rs`).

use super::run_plan::NetworkView;
use super::run_state::format_duration;
use crate::engine::arch::Arch;
use crate::weights::Model;
use crate::worker::NetworkInfo;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum NetworkState {
    /// `LoadNetwork` sent, no answer yet.
    Loading,
    Loaded(NetworkInfo),
    /// The worker's message says where it looked and how to get weights.
    Missing(String),
}

/// A weights download the worker is running, as the card shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct DownloadState {
    pub model: Model,
    /// Bytes present locally (resumed ones included).
    pub received: u64,
    /// `None` until the first progress report.
    pub total: Option<u64>,
    pub bytes_per_second: f64,
    pub eta_seconds: Option<f64>,
    /// Cancel was pressed; waiting for the worker to confirm.
    pub cancelling: bool,
}

impl DownloadState {
    pub(crate) fn new(model: Model) -> Self {
        Self {
            model,
            received: 0,
            total: None,
            bytes_per_second: 0.0,
            eta_seconds: None,
            cancelling: false,
        }
    }

    pub(crate) fn fraction(&self) -> f32 {
        self.total
            .map_or(0.0, |t| (self.received as f64 / t.max(1) as f64) as f32)
    }

    /// "VGG19 — 12.3 / 80.1 MB · 4.2 MB/s · 18 s left".
    pub(crate) fn describe(&self) -> String {
        let arch = self.model.name().to_uppercase();
        if self.cancelling {
            return format!("{arch} — cancelling…");
        }
        let Some(total) = self.total else {
            return format!("{arch} — connecting…");
        };
        let mut text = format!("{arch} — {} / {} MB", mb(self.received), mb(total));
        if self.bytes_per_second > 0.0 {
            text.push_str(&format!(
                " · {:.1} MB/s",
                self.bytes_per_second / 1_000_000.0
            ));
        }
        if let Some(eta) = self.eta_seconds.filter(|e| *e > 0.0) {
            text.push_str(&format!(" · {} left", format_duration(eta)));
        }
        text
    }
}

/// Megabytes with one decimal, as download sizes are quoted.
pub(crate) fn mb(bytes: u64) -> String {
    format!("{:.1}", bytes as f64 / 1_000_000.0)
}

/// The network and its download.
#[derive(Debug)]
pub(crate) struct Network {
    state: NetworkState,
    /// Bumped on every load, so a run knows its network was swapped under it.
    generation: u64,
    download: Option<DownloadState>,
}

impl Default for Network {
    fn default() -> Self {
        Self {
            state: NetworkState::Loading,
            generation: 0,
            download: None,
        }
    }
}

impl Network {
    pub(crate) fn state(&self) -> &NetworkState {
        &self.state
    }

    pub(crate) fn info(&self) -> Option<&NetworkInfo> {
        match &self.state {
            NetworkState::Loaded(info) => Some(info),
            _ => None,
        }
    }

    /// The worker's "weights missing" message, if that is the state.
    pub(crate) fn missing(&self) -> Option<&str> {
        match &self.state {
            NetworkState::Missing(m) => Some(m),
            _ => None,
        }
    }

    pub(crate) fn generation(&self) -> u64 {
        self.generation
    }

    pub(crate) fn download(&self) -> Option<&DownloadState> {
        self.download.as_ref()
    }

    /// As Start's rules see it.
    pub(crate) fn view(&self) -> NetworkView {
        match &self.state {
            NetworkState::Loading => NetworkView::Loading,
            NetworkState::Missing(_) => NetworkView::Missing,
            NetworkState::Loaded(info) => NetworkView::Loaded(Arch::from_name(&info.arch)),
        }
    }

    /// A load was asked of the worker.
    pub(crate) fn set_loading(&mut self) {
        self.state = NetworkState::Loading;
    }

    /// The worker found no weights.
    pub(crate) fn set_missing(&mut self, message: String) {
        self.state = NetworkState::Missing(message);
        self.generation += 1;
    }

    /// The worker loaded `info`. The same network again (the file named differently, relative
    /// vs absolute) is not a change that needs a restart.
    pub(crate) fn set_loaded(&mut self, info: NetworkInfo) {
        let same = self.info() == Some(&info);
        self.state = NetworkState::Loaded(info);
        if !same {
            self.generation += 1;
        }
    }

    /// A download begins; `false` when one is already running.
    pub(crate) fn begin_download(&mut self, model: Model) -> bool {
        if self.download.is_some() {
            return false;
        }
        self.download = Some(DownloadState::new(model));
        true
    }

    /// Cancel was pressed; `false` when there is nothing (more) to cancel.
    pub(crate) fn cancel_download(&mut self) -> bool {
        match self.download.as_mut().filter(|d| !d.cancelling) {
            Some(d) => {
                d.cancelling = true;
                true
            }
            None => false,
        }
    }

    /// The worker reported progress of the running download.
    pub(crate) fn set_download_progress(
        &mut self,
        received: u64,
        total: u64,
        bytes_per_second: f64,
        eta_seconds: Option<f64>,
    ) {
        if let Some(d) = &mut self.download {
            d.received = received;
            d.total = Some(total);
            d.bytes_per_second = bytes_per_second;
            d.eta_seconds = eta_seconds;
        }
    }

    /// The download ended (or its worker died): what it was.
    pub(crate) fn end_download(&mut self) -> Option<DownloadState> {
        self.download.take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(path: &str) -> NetworkInfo {
        NetworkInfo {
            arch: "vgg16".into(),
            path: path.into(),
            layers: vec!["relu1_1".into()],
            device: "CPU".into(),
            note: None,
        }
    }

    #[test]
    fn the_generation_moves_only_when_the_network_changes() {
        let mut n = Network::default();
        n.set_loaded(info("a.safetensors"));
        let g = n.generation();
        // A run naming the file differently makes the worker load it again: not a change.
        n.set_loaded(info("a.safetensors"));
        assert_eq!(n.generation(), g, "the same network again");
        n.set_loaded(info("b.safetensors"));
        assert_eq!(n.generation(), g + 1);
        n.set_missing("none here".into());
        assert_eq!(n.missing(), Some("none here"));
        assert!(matches!(n.view(), NetworkView::Missing));
    }

    #[test]
    fn a_download_is_cancelled_once() {
        let mut n = Network::default();
        assert!(n.begin_download(Model::default()));
        assert!(!n.begin_download(Model::default()), "one at a time");
        n.set_download_progress(40, 80, 1.0, None);
        assert_eq!(n.download().map(DownloadState::fraction), Some(0.5));
        assert!(n.cancel_download());
        assert!(!n.cancel_download());
        assert!(n.end_download().is_some_and(|d| d.cancelling));
        assert!(n.download().is_none());
    }
}
