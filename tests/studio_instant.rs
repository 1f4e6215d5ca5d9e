//! Instant mode in the studio, driven headlessly with egui_kittest (tiny random VGG for Refine,
//! the real instant networks from assets/instant at 128 px), and the worker's coalescing of
//! stale instant requests.

use atelier::engine::instant::Blend;
use atelier::settings::InitKind;
use atelier::studio::{RunPhase, SlotKind, StudioApp};
use atelier::worker::{Command, Event, InstantRequest, InstantSource, Worker};
use egui_kittest::kittest::Queryable;
use egui_kittest::Harness;
use image::RgbImage;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod common;

use common::studio::*;

const SIZE: u32 = 128;

fn write_image(dir: &Path, name: &str, seed: u8) -> PathBuf {
    let img = RgbImage::from_fn(80, 60, |x, y| {
        image::Rgb([
            ((x * 3) as u8).wrapping_mul(seed),
            ((x + y) * 7 % 256) as u8 ^ seed,
            if (x / 8 + y / 8) % 2 == 0 {
                220
            } else {
                seed.wrapping_mul(40)
            },
        ])
    });
    let p = dir.join(name);
    img.save(&p).expect("test image written");
    p
}

/// Starts the app in Instant mode at `SIZE` and waits for the first instant picture.
fn instant_ready(h: &mut Harness<'_, StudioApp>) -> Arc<RgbImage> {
    wait_until(h, "images and network", |a| {
        a.start_blocker().is_none() && a.network().is_some()
    });
    h.state_mut().set_instant_size(SIZE);
    click(h, "Instant mode");
    assert!(h.state().view().instant_mode());
    wait_until(h, "first instant picture", |a| a.instant_image().is_some());
    h.state().view().instant_image().cloned().expect("picture")
}

#[track_caller]
fn wait_for_new_picture(h: &mut Harness<'_, StudioApp>, old: &Arc<RgbImage>) -> Arc<RgbImage> {
    wait_until(h, "a new instant picture", |a| {
        a.instant_image().is_some_and(|i| !Arc::ptr_eq(i, old))
    });
    h.state().view().instant_image().cloned().expect("picture")
}

#[test]
fn changing_the_style_repaints_the_instant_preview_without_a_run() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let painting = write_image(tmp.path(), "painting.png", 3);
    let mut h = harness(options());
    let first = instant_ready(&mut h);
    assert_eq!(
        first.width().max(first.height()),
        SIZE,
        "runs at the instant size"
    );
    let shown = h.state().view().frames_shown();
    assert!(shown >= 1, "the instant picture is in the preview");

    h.get_by_label("Style path")
        .set_text_value_accesskit(&painting.display().to_string());
    h.step();
    click(&mut h, "Load style path");
    wait_until(&mut h, "the new style", |a| {
        a.image_path(SlotKind::Style) == Some(painting.as_path())
    });
    let second = wait_for_new_picture(&mut h, &first);
    assert_ne!(
        *first, *second,
        "a different style paints a different picture"
    );
    assert!(
        h.state().view().frames_shown() > shown,
        "the preview shows the new picture"
    );
    assert_eq!(h.state().view().preview_iteration(), Some(0));
    assert_eq!(
        h.state().view().status().phase,
        RunPhase::Idle,
        "instant pictures never start an optimization"
    );
    assert!(h.state().view().instant_latency().is_some());

    // Strength: same style, a picture closer to the photo's own.
    h.step();
    h.get_by_label("Instant strength").set_value_accesskit(0.3);
    h.step();
    let third = wait_for_new_picture(&mut h, &second);
    assert_ne!(*second, *third, "strength changes the picture");
    assert_eq!(h.state().view().status().phase, RunPhase::Idle);
}

#[test]
fn the_palette_selects_built_in_styles_and_refine_starts_from_the_instant_picture() {
    let mut h = harness(options());
    let first = instant_ready(&mut h);
    click(&mut h, "Built-in");
    let builtin = wait_for_new_picture(&mut h, &first);
    assert_ne!(
        *first, *builtin,
        "built-in style 1 differs from the style image's"
    );

    click(&mut h, "Built-in style 9");
    let ninth = wait_for_new_picture(&mut h, &builtin);
    assert_ne!(*builtin, *ninth, "another swatch paints another picture");
    assert_eq!(h.state().view().status().phase, RunPhase::Idle);

    h.step();
    h.get_by_label("Output size value")
        .set_value_accesskit(64.0);
    h.step();
    h.step();
    click(&mut h, "Refine");
    assert!(!h.state().view().instant_mode(), "Refine shows the run");
    assert_eq!(h.state().view().settings().init, InitKind::Instant);
    wait_until(&mut h, "the refine run", |a| {
        matches!(a.status().phase, RunPhase::Running | RunPhase::Finished(_))
    });
    // The run's first frame is the instant picture itself, at the run's size.
    assert!(h.state().view().preview_iteration().is_some());
    click(&mut h, "Instant mode");
    assert!(h.state().view().instant_mode());
}

#[test]
fn the_worker_runs_only_the_newest_of_queued_instant_requests() {
    let worker = Worker::spawn(Box::new(|| {}));
    let content = Arc::new(RgbImage::from_fn(64, 48, |x, y| {
        image::Rgb([(x * 4) as u8, (y * 5) as u8, ((x ^ y) * 9) as u8])
    }));
    const N: u64 = 20;
    for id in 1..=N {
        let blend = Blend::single((id as usize) % 26).expect("blend");
        worker.send(Command::PaintInstant(Box::new(InstantRequest {
            id,
            content: content.clone(),
            source: InstantSource::Builtin {
                blend,
                strength: 1.0,
            },
            size: 64,
        })));
    }
    let deadline = Instant::now() + TIMEOUT;
    let mut answered = Vec::new();
    while !answered.contains(&N) {
        assert!(Instant::now() < deadline, "no answer to the newest request");
        match worker.try_recv() {
            Some(Event::InstantReady { id, image, .. }) => {
                assert_eq!(image.dimensions(), (64, 48));
                answered.push(id);
            }
            Some(Event::InstantFailed { message, .. }) => panic!("instant failed: {message}"),
            Some(Event::Started { .. }) => panic!("an instant request started a run"),
            _ => std::thread::sleep(Duration::from_millis(5)),
        }
    }
    // The worker may have taken the first before the rest arrived; the others are stale.
    assert!(answered.len() <= 2, "stale requests were run: {answered:?}");
    std::thread::sleep(Duration::from_millis(200));
    while let Some(e) = worker.try_recv() {
        assert!(
            !matches!(e, Event::InstantReady { .. }),
            "an answer after the newest"
        );
    }
}

/// [9]'s first launch: without VGG weights the studio opens on what works, the sample painted by
/// the instant network in the preview, with a one-line offer to download the painting network.
#[test]
fn a_first_launch_without_weights_opens_in_instant_mode_with_the_sample_painted() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut opts = options();
    opts.weights = Some(tmp.path().join("no-weights-yet.safetensors"));
    let mut h = harness(opts);
    wait_until(&mut h, "weights missing", |a| a.weights_missing().is_some());
    assert!(h.state().view().instant_mode(), "opens in Instant mode");
    wait_until(&mut h, "the sample painted", |a| {
        a.instant_image().is_some() && a.preview_iteration() == Some(0)
    });
    h.step();
    assert!(screen_shows(&h, "weights are missing"));
    let _ = h.get_by_label("Download VGG19");
    let _ = h.get_by_label("Open weights file…");
    let _ = h.get_by_label("Weights path");

    // With weights the studio opens in Paint mode, as before.
    let mut h = harness(options());
    wait_until(&mut h, "network", |a| a.network().is_some());
    h.step();
    assert!(!h.state().view().instant_mode());
}
