//! The rules about a run, free of the UI: what blocks Start, which edits only a restart applies,
//! and how much memory the run needs next to what is free. The app describes its state in a
//! [`Readiness`] or a [`Current`]; tests build them by hand, no window needed.

use super::memory;
use crate::engine::arch::Arch;
use crate::settings::{DeviceChoice, OptimizerKind, Settings};
use crate::worker::RunRequest;
use image::{GrayImage, RgbImage};
use std::sync::Arc;

/// An image slot as the rules see it.
#[derive(Default)]
pub(crate) struct SlotView {
    /// "Content", "Style", "Style 2", "Mask".
    pub(crate) label: String,
    pub(crate) loading: bool,
    pub(crate) loaded: bool,
}

/// The painting network, as far as Start cares.
pub(crate) enum NetworkView {
    Loading,
    Missing,
    Loaded(Option<Arch>),
}

/// Everything Start depends on.
pub(crate) struct Readiness<'a> {
    pub(crate) content: SlotView,
    pub(crate) style: SlotView,
    pub(crate) extras: Vec<SlotView>,
    pub(crate) mask: SlotView,
    /// The content's size, once decoded.
    pub(crate) content_size: Option<(u32, u32)>,
    pub(crate) network: NetworkView,
    /// `(device, usable, label)` as the worker reported them.
    pub(crate) devices: &'a [(DeviceChoice, bool, String)],
    pub(crate) settings: &'a Settings,
    pub(crate) free_memory: Option<u64>,
}

/// Why Start can't run now, in words that say what to do; `None` when it can.
pub(crate) fn start_blocker(r: &Readiness<'_>) -> Option<String> {
    for slot in [&r.content, &r.style] {
        if slot.loading {
            return Some("Wait a moment: the images are still loading.".into());
        }
        if !slot.loaded {
            return Some(format!(
                "Load a {} image first: drop a file on its slot or type its path.",
                slot.label.to_lowercase()
            ));
        }
    }
    if r.extras.iter().chain([&r.mask]).any(|s| s.loading) {
        return Some("Wait a moment: the images are still loading.".into());
    }
    if let Some(e) = r.extras.iter().find(|e| !e.loaded) {
        return Some(format!(
            "{} is empty: drop a painting on it, or remove the slot.",
            e.label
        ));
    }
    match r.network {
        NetworkView::Loading => return Some("The network is still loading.".into()),
        NetworkView::Missing => {
            return Some("Load the network weights first (see the card above the preview).".into())
        }
        NetworkView::Loaded(_) => {}
    }
    if let Some((_, false, label)) = r.devices.iter().find(|d| d.0 == r.settings.device) {
        return Some(format!("{label}: choose another device."));
    }
    if let Some(why) = r.settings.validate().err() {
        return Some(why);
    }
    let (need, free) = memory_need(r)?;
    memory::blocker(need, free)
}

/// The run's estimated peak memory and the free memory to compare it with (system memory, so
/// only when the run will be on the CPU); `None` while the output size is unknown.
pub(crate) fn memory_need(r: &Readiness<'_>) -> Option<(u64, Option<u64>)> {
    let (w, h) = r.content_size?;
    let (w, h) = crate::image_io::scaled_dims(w, h, r.settings.size);
    let arch = match r.network {
        NetworkView::Loaded(a) => a,
        _ => None,
    };
    let need = memory::estimate(r.settings, w, h, arch);
    let gpu = r
        .devices
        .iter()
        .any(|(d, usable, _)| *usable && matches!(d, DeviceChoice::Cuda | DeviceChoice::Metal));
    let on_cpu =
        r.settings.device == DeviceChoice::Cpu || (r.settings.device == DeviceChoice::Auto && !gpu);
    // GPU memory isn't measured here; the device reports its own errors.
    Some((need, r.free_memory.filter(|_| on_cpu)))
}

/// What the studio holds now, to compare with what a run was started with.
pub(crate) struct Current<'a> {
    pub(crate) content: Option<&'a Arc<RgbImage>>,
    pub(crate) style: Option<&'a Arc<RgbImage>>,
    pub(crate) extras: Vec<Arc<RgbImage>>,
    pub(crate) mask: Option<&'a Arc<GrayImage>>,
    pub(crate) settings: &'a Settings,
    pub(crate) network_generation: u64,
}

/// The edits since `was` started (with the network of `was_network`) that only a restart
/// applies ("output size", "seed", …): the rest steer the running picture live.
pub(crate) fn restart_reasons(
    was: &RunRequest,
    was_network: u64,
    now: &Current<'_>,
) -> Vec<&'static str> {
    let (ws, ns) = (&was.settings, now.settings);
    let same = |a: Option<&Arc<RgbImage>>, b: &Arc<RgbImage>| a.is_some_and(|a| Arc::ptr_eq(a, b));
    let mut r = Vec::new();
    let mut check = |changed: bool, what: &'static str| {
        if changed {
            r.push(what);
        }
    };
    check(!same(now.content, &was.content), "content image");
    check(!same(now.style, &was.style), "style image");
    let extras_same = now.extras.len() == was.extra_styles.len()
        && now
            .extras
            .iter()
            .zip(&was.extra_styles)
            .all(|(a, b)| Arc::ptr_eq(a, b));
    check(
        !extras_same
            || ws.extra_styles != ns.extra_styles
            || ws.style_blend_weight != ns.style_blend_weight,
        "styles to blend",
    );
    let mask_same = match (now.mask, &was.mask) {
        (None, None) => true,
        (Some(a), Some(b)) => Arc::ptr_eq(a, b),
        _ => false,
    };
    check(!mask_same, "mask");
    check(ws.colour != ns.colour, "colours");
    check(ws.multiscale_start != ns.multiscale_start, "coarse to fine");
    check(now.network_generation != was_network, "network");
    check(ws.size != ns.size, "output size");
    check(ws.iterations != ns.iterations, "iterations");
    check(ws.optimizer != ns.optimizer, "optimizer");
    check(
        ns.optimizer == OptimizerKind::Adam && ws.learning_rate != ns.learning_rate,
        "learning rate",
    );
    check(ws.init != ns.init, "start image");
    check(ws.seed != ns.seed, "seed");
    check(ws.device != ns.device, "device");
    check(ws.style_scale != ns.style_scale, "style scale");
    check(ws.pooling != ns.pooling, "pooling");
    check(ws.lbfgs_history != ns.lbfgs_history, "L-BFGS history");
    check(ws.threads != ns.threads, "CPU threads");
    check(ws.preprocess != ns.preprocess, "preprocessing");
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot(label: &str, loading: bool, loaded: bool) -> SlotView {
        SlotView {
            label: label.into(),
            loading,
            loaded,
        }
    }

    fn ready<'a>(settings: &'a Settings, free: Option<u64>) -> Readiness<'a> {
        Readiness {
            content: slot("Content", false, true),
            style: slot("Style", false, true),
            extras: Vec::new(),
            mask: slot("Mask", false, false),
            content_size: Some((640, 480)),
            network: NetworkView::Loaded(Some(Arch::Vgg16)),
            devices: &[],
            settings,
            free_memory: free,
        }
    }

    #[test]
    fn start_waits_for_images_network_and_memory() {
        let s = Settings::default();
        assert_eq!(start_blocker(&ready(&s, None)), None);
        let mut r = ready(&s, None);
        r.style = slot("Style", true, false);
        assert!(start_blocker(&r).is_some_and(|w| w.contains("still loading")));
        let mut r = ready(&s, None);
        r.content = slot("Content", false, false);
        assert!(start_blocker(&r).is_some_and(|w| w.contains("content image")));
        let mut r = ready(&s, None);
        r.extras = vec![slot("Style 2", false, false)];
        assert!(start_blocker(&r).is_some_and(|w| w.contains("Style 2 is empty")));
        let mut r = ready(&s, None);
        r.network = NetworkView::Missing;
        assert!(start_blocker(&r).is_some_and(|w| w.contains("weights")));
        // Memory: the engine's rule (90 % of free), not "less than free".
        let (need, _) = memory_need(&ready(&s, None)).expect("a need");
        let tight = (need as f64 / 0.95) as u64;
        assert!(start_blocker(&ready(&s, Some(tight))).is_some());
        assert_eq!(start_blocker(&ready(&s, Some(2 * need))), None);
        let bad = Settings {
            iterations: 0,
            ..Settings::default()
        };
        assert!(start_blocker(&ready(&bad, None)).is_some_and(|w| w.contains("iterations")));
    }

    #[test]
    fn only_some_edits_need_a_restart() {
        let picture = Arc::new(RgbImage::new(8, 8));
        let was = RunRequest {
            settings: Settings::default(),
            content: picture.clone(),
            style: picture.clone(),
            extra_styles: Vec::new(),
            mask: None,
            init_image: None,
        };
        let mut s = Settings::default();
        let now = |s: &Settings| {
            restart_reasons(
                &was,
                1,
                &Current {
                    content: Some(&picture),
                    style: Some(&picture),
                    extras: Vec::new(),
                    mask: None,
                    settings: s,
                    network_generation: 1,
                },
            )
        };
        assert!(now(&s).is_empty());
        s.weights.style_weight *= 2.0; // steered live
        assert!(now(&s).is_empty());
        s.size = 256;
        s.seed = 3;
        assert_eq!(now(&s), vec!["output size", "seed"]);
    }
}
