//! Drives the real `StudioApp` headlessly with egui_kittest: clicks, typed paths, simulated file
//! drops, and a live run against whatever `Worker` the crate has (the stand-in here, the engine's
//! in the main crate). Nothing depends on the worker's exact numbers: only on the protocol.
//!
//! Weights: `ATELIER_TEST_WEIGHTS=/path/to/vgg.safetensors` selects a weights file; unset, a
//! VGG16-shaped random fixture is used.

use atelier::image_io;
use atelier::studio::{Level, RunPhase, SlotKind, StudioApp, StudioView};
use atelier::weights::{HubConfig, Model};
use atelier::worker::{Command, DownloadOutcome, Event, FinishReason, Worker, WorkerConfig};
use egui_kittest::kittest::Queryable;
use egui_kittest::Harness;
use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

mod common;

use common::studio::*;

fn has_error_mentioning(app: &StudioView<'_>, needle: &str) -> bool {
    has_notice(app, Level::Error, needle)
}

#[test]
fn opens_ready_with_samples_and_settles_when_idle() {
    let mut h = harness(options());
    wait_ready(&mut h);
    let app = h.state().view();
    let content = app.image_path(SlotKind::Content).expect("sample content");
    let style = app.image_path(SlotKind::Style).expect("sample style");
    assert!(content.starts_with(assets().join("samples")), "{content:?}");
    assert!(style.ends_with("starry_night.jpg"), "{style:?}");
    assert!(!app.network().expect("network").layers.is_empty());
    let expected = atelier::settings::Settings {
        content: Some(content.to_path_buf()),
        style: Some(style.to_path_buf()),
        ..Default::default()
    };
    assert_eq!(app.settings(), &expected, "starts from Settings::default()");
    assert!(!is_disabled(&h, "Start"));
    assert!(is_disabled(&h, "Pause"));
    assert!(is_disabled(&h, "Stop"));
    assert!(
        h.state()
            .view()
            .window_title()
            .starts_with("Atelier — ready"),
        "{}",
        h.state().view().window_title()
    );
    // An idle studio stops repainting (run() panics if it never settles) and every control
    // has an accessible name (run() checks that too).
    h.run();
}

#[test]
fn drop_loads_images_into_the_slot_under_the_pointer() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let photo = write_test_image(tmp.path(), "photo.png", 48, 32, 1);
    let painting = write_test_image(tmp.path(), "painting.png", 40, 40, 2);
    let mut h = harness(options());
    wait_ready(&mut h);

    let at = center_of(&h, &SlotKind::Style.drop_zone_name());
    let lit = drop_files(&mut h, at, &[&painting]);
    assert_eq!(
        lit,
        Some(SlotKind::Style),
        "hovering the style slot highlights it"
    );
    wait_until(&mut h, "style from drop", |a| {
        a.image_path(SlotKind::Style) == Some(&painting)
    });
    assert_eq!(h.state().view().image_size(SlotKind::Style), Some((40, 40)));
    assert_eq!(
        h.state().view().settings().style.as_deref(),
        Some(painting.as_path())
    );

    let at = center_of(&h, &SlotKind::Content.drop_zone_name());
    drop_files(&mut h, at, &[&photo]);
    wait_until(&mut h, "content from drop", |a| {
        a.image_path(SlotKind::Content) == Some(&photo)
    });
    assert_eq!(
        h.state().view().image_size(SlotKind::Content),
        Some((48, 32))
    );
    assert_eq!(
        h.state().view().drop_target(),
        None,
        "highlight gone after the drop"
    );

    // Dropped on the preview (no slot under the pointer): content first, then style.
    let a = write_test_image(tmp.path(), "a.png", 20, 20, 3);
    let b = write_test_image(tmp.path(), "b.png", 24, 24, 4);
    let at = center_of(&h, "Preview");
    let lit = drop_files(&mut h, at, &[&a, &b]);
    assert_eq!(lit, Some(SlotKind::Content));
    wait_until(&mut h, "both from one drop", |app| {
        app.image_path(SlotKind::Content) == Some(&a) && app.image_path(SlotKind::Style) == Some(&b)
    });
}

#[test]
fn path_field_loads_images() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let photo = write_test_image(tmp.path(), "typed photo.png", 30, 50, 5);
    let painting = write_test_image(tmp.path(), "typed painting.png", 50, 30, 6);
    let mut h = harness(options());
    wait_ready(&mut h);
    type_path(&mut h, "Content path", "Load content path", &photo);
    type_path(&mut h, "Style path", "Load style path", &painting);
    wait_until(&mut h, "typed paths", |a| {
        a.image_path(SlotKind::Content) == Some(&photo)
            && a.image_path(SlotKind::Style) == Some(&painting)
    });
    assert_eq!(
        h.state().view().image_size(SlotKind::Content),
        Some((30, 50))
    );

    // A path that doesn't exist: error in the window, image kept.
    type_path(
        &mut h,
        "Content path",
        "Load content path",
        &tmp.path().join("nope.png"),
    );
    wait_until(&mut h, "error for a missing file", |a| {
        has_error_mentioning(a, "nope.png")
    });
    assert_eq!(
        h.state().view().image_path(SlotKind::Content),
        Some(photo.as_path())
    );
}

#[test]
fn bad_image_dropped_shows_error_and_keeps_previous_image() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let broken = tmp.path().join("broken.png");
    std::fs::write(&broken, b"this is not a PNG at all").expect("write");
    let mut h = harness(options());
    wait_ready(&mut h);
    let before = h
        .state()
        .view()
        .image_path(SlotKind::Content)
        .map(Path::to_path_buf);
    let size_before = h.state().view().image_size(SlotKind::Content);

    let at = center_of(&h, &SlotKind::Content.drop_zone_name());
    drop_files(&mut h, at, &[&broken]);
    wait_until(&mut h, "decode error", |a| {
        has_error_mentioning(a, "broken.png")
    });
    h.step();
    assert!(
        screen_shows(&h, "broken.png"),
        "the error is visible in the window"
    );
    assert_eq!(
        h.state()
            .view()
            .image_path(SlotKind::Content)
            .map(Path::to_path_buf),
        before
    );
    assert_eq!(h.state().view().image_size(SlotKind::Content), size_before);
    assert!(!is_disabled(&h, "Start"), "the studio still works");
}

#[test]
fn sliders_and_typed_values_change_settings() {
    let mut h = harness(options());
    wait_ready(&mut h);
    set_value(&mut h, "Content weight α", 42.0);
    assert_eq!(h.state().view().settings().weights.content_weight, 42.0);
    set_value(&mut h, "Style weight β value", 2500.0);
    assert_eq!(h.state().view().settings().weights.style_weight, 2500.0);
    set_value(&mut h, "Smoothness (TV)", 0.001);
    assert!((h.state().view().settings().weights.tv_weight - 0.001).abs() < 1e-9);
    set_value(&mut h, "Output size value", 256.0);
    assert_eq!(h.state().view().settings().size, 256);
    set_value(&mut h, "Iterations value", 77.0);
    assert_eq!(h.state().view().settings().iterations, 77);

    // The alpha/beta sliders are logarithmic: one keyboard step from 42 is a ratio, not +1.
    let slider = h.get_by_label("Content weight α");
    slider.increment_accesskit();
    h.step();
    let after = h.state().view().settings().weights.content_weight;
    assert!(after > 42.0, "{after}");

    h.get_by_label("Adam").click_accesskit();
    h.step();
    assert_eq!(
        h.state().view().settings().optimizer,
        atelier::settings::OptimizerKind::Adam
    );
    h.get_by_label("Noise").click_accesskit();
    h.step();
    assert_eq!(
        h.state().view().settings().init,
        atelier::settings::InitKind::Noise
    );
}

#[test]
fn layer_checkboxes_follow_the_network() {
    let mut h = harness(options());
    wait_ready(&mut h);
    let layers = h.state().view().network().expect("network").layers.clone();
    assert!(layers.iter().any(|l| l == "relu3_2"));
    h.get_by_label("Layers").click_accesskit(); // may be scrolled out of view
    h.step();
    h.step();

    h.get_by_label("relu3_2 style").click_accesskit();
    h.step();
    let s = h.state().view().settings();
    let names: Vec<&str> = s
        .weights
        .style_layers
        .iter()
        .map(|l| l.layer.as_str())
        .collect();
    assert_eq!(
        names,
        ["relu1_1", "relu2_1", "relu3_1", "relu3_2", "relu4_1", "relu5_1"],
        "network order"
    );

    set_value(&mut h, "relu3_2 style weight", 0.5);
    let w = |app: &StudioView<'_>, l: &str| {
        app.settings()
            .weights
            .style_layers
            .iter()
            .find(|x| x.layer == l)
            .map(|x| x.weight)
    };
    assert_eq!(w(&h.state().view(), "relu3_2"), Some(0.5));

    // Unticking forgets nothing: ticking again restores the weight.
    h.get_by_label("relu3_2 style").click_accesskit();
    h.step();
    assert_eq!(w(&h.state().view(), "relu3_2"), None);
    h.get_by_label("relu3_2 style").click_accesskit();
    h.step();
    assert_eq!(w(&h.state().view(), "relu3_2"), Some(0.5));

    h.get_by_label("relu5_1 content").click_accesskit();
    h.step();
    h.get_by_label("relu4_2 content").click_accesskit();
    h.step();
    assert_eq!(
        h.state().view().settings().weights.content_layers,
        ["relu5_1"]
    );
}

#[test]
fn live_run_preview_pause_resume_steer_export_stop() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut h = harness(options());
    wait_ready(&mut h);
    set_value(&mut h, "Output size value", RUN_SIZE);
    set_value(&mut h, "Iterations value", 100_000.0);

    h.get_by_label("Start").click();
    h.step();
    wait_until(&mut h, "first frame", |a| a.preview_iteration().is_some());
    let first = h.state().view().preview_iteration();
    wait_until(&mut h, "a second, newer frame", |a| {
        a.frames_shown() >= 2 && a.preview_iteration() > first
    });
    assert_eq!(h.state().view().status().phase, RunPhase::Running);
    assert!(
        h.state().view().window_title().contains("running"),
        "{}",
        h.state().view().window_title()
    );
    assert!(
        !h.state().view().status().history.is_empty(),
        "loss curve has points"
    );
    let st = h.state().view().status();
    assert_eq!(st.width.max(st.height), RUN_SIZE as u32);

    // Pause: the count stops.
    h.get_by_label("Pause").click();
    h.step();
    wait_until(&mut h, "paused", |a| a.status().phase == RunPhase::Paused);
    let held = h.state().view().status().iteration;
    let held_frame = h.state().view().preview_iteration();
    step_for(&mut h, Duration::from_millis(400));
    assert_eq!(
        h.state().view().status().iteration,
        held,
        "no progress while paused"
    );
    assert_eq!(h.state().view().preview_iteration(), held_frame);
    assert!(h.state().view().window_title().contains("paused"));

    // Resume: it moves again.
    h.get_by_label("Resume").click();
    h.step();
    wait_until(&mut h, "progress after resume", |a| {
        a.status().phase == RunPhase::Running && a.status().iteration > held + 2
    });

    // Steer: beta ×1000 mid-run; the weighted style loss jumps from the next iterations on.
    let steer_at = h.state().view().status().iteration;
    let style_before = h
        .state()
        .view()
        .status()
        .latest_losses()
        .expect("losses")
        .style;
    let beta = f64::from(h.state().view().settings().weights.style_weight) * 1000.0;
    set_value(&mut h, "Style weight β value", beta);
    assert!(
        h.state().view().restart_reasons().is_empty(),
        "weights apply live, no restart"
    );
    wait_until(&mut h, "iterations with the new beta", |a| {
        a.status().iteration >= steer_at + 3
    });
    let after = h
        .state()
        .view()
        .status()
        .history
        .iter()
        .find(|p| p.iteration >= steer_at + 2)
        .expect("a loss point after the change")
        .losses
        .style;
    assert!(
        after > style_before * 10.0,
        "style loss should respond to beta: before {style_before}, after {after}"
    );
    assert!(!h.state().view().status().steer_marks.is_empty());

    // Export mid-run through the fallback path field.
    let out = tmp.path().join("mid-run export");
    type_path(&mut h, "Export path", "Save", &out);
    let expected = tmp.path().join("mid-run export.png");
    wait_until(&mut h, "export written", |a| {
        a.last_export() == Some(expected.as_path())
    });
    assert!(
        h.state().view().status().is_active(),
        "export didn't disturb the run"
    );
    let png = image::open(&expected).expect("a valid PNG");
    assert_eq!(png.width().max(png.height()), RUN_SIZE as u32);
    let saved = image_io::read_png_settings(&expected)
        .expect("readable")
        .expect("settings chunk present");
    let app = h.state().view();
    assert_eq!(
        f64::from(saved.weights.style_weight),
        beta,
        "live weights are recorded"
    );
    assert_eq!(saved.size, RUN_SIZE as u32);
    let name = |k| app.image_path(k).and_then(Path::file_name).map(Path::new);
    assert_eq!(saved.content.as_deref(), name(SlotKind::Content));
    assert_eq!(saved.style.as_deref(), name(SlotKind::Style));
    assert!(saved.iterations > 0 && saved.iterations <= app.status().iteration);

    // Stop: the run ends, the last frame stays.
    h.get_by_label("Stop").click();
    h.step();
    wait_until(&mut h, "stopped", |a| {
        a.status().phase == RunPhase::Finished(FinishReason::Stopped)
    });
    let stopped_at = h.state().view().status().iteration;
    step_for(&mut h, Duration::from_millis(200));
    assert_eq!(h.state().view().status().iteration, stopped_at);
    assert!(
        h.state().view().preview_iteration().is_some(),
        "last frame kept"
    );
    assert!(h.state().view().window_title().contains("stopped"));
    assert!(
        !is_disabled(&h, "Save"),
        "a stopped run's frame can still be exported"
    );
    // Nothing keeps repainting once the run is over.
    h.run();
}

#[test]
fn restart_only_settings_show_a_notice_and_restart_applies_them() {
    let mut h = harness(options());
    wait_ready(&mut h);
    set_value(&mut h, "Output size value", RUN_SIZE);
    set_value(&mut h, "Iterations value", 100_000.0);
    h.get_by_label("Start").click();
    h.step();
    wait_until(&mut h, "running", |a| {
        a.status().phase == RunPhase::Running && a.status().iteration > 0
    });

    set_value(&mut h, "Content weight α value", 20.0);
    assert!(
        h.state().view().restart_reasons().is_empty(),
        "alpha is live"
    );
    set_value(&mut h, "Output size value", RUN_SIZE + 8.0);
    set_value(&mut h, "Seed", 7.0);
    assert_eq!(h.state().view().restart_reasons(), ["output size", "seed"]);
    assert!(screen_shows(&h, "takes effect on restart"));

    h.get_by_label("Restart now").click();
    h.step();
    wait_until(&mut h, "restarted at the new size", |a| {
        a.status().phase == RunPhase::Running
            && a.status().width.max(a.status().height) == RUN_SIZE as u32 + 8
    });
    assert!(h.state().view().restart_reasons().is_empty());
    h.get_by_label("Stop").click();
    h.step();
    wait_until(&mut h, "stopped", |a| !a.status().is_active());
}

/// Item 4 of [8]: a worker thread that dies mid-run used to leave the status "running"
/// forever. Now the studio notices, says so, starts a fresh worker, and keeps the picture, the
/// history and the settings; Start works again.
#[test]
fn a_dead_worker_is_replaced_and_nothing_is_lost() {
    let mut h = harness(options());
    wait_ready(&mut h);
    set_value(&mut h, "Output size value", RUN_SIZE);
    set_value(&mut h, "Iterations value", 400.0);
    h.get_by_label("Start").click();
    h.step();
    wait_until(&mut h, "a few iterations", |a| a.status().iteration >= 3);
    let settings = h.state().view().settings().clone();
    h.state().end_worker_for_test();
    wait_until(&mut h, "the dead worker noticed", |a| {
        !a.status().is_active()
    });
    let app = h.state().view();
    assert!(
        has_notice(&app, Level::Error, "stopped unexpectedly"),
        "{:#?}",
        app.notices()
    );
    assert_eq!(app.status().phase, RunPhase::Finished(FinishReason::Failed));
    let shown = app.preview_iteration().expect("the picture stays");
    assert!(shown >= 3);
    let snapshots = app.snapshots().len();
    assert_eq!(app.settings(), &settings, "settings kept");
    wait_until(&mut h, "network loaded again", |a| {
        a.start_blocker().is_none()
    });
    assert_eq!(
        h.state().view().snapshots().len(),
        snapshots,
        "history kept"
    );
    assert_eq!(h.state().view().preview_iteration(), Some(shown));
    set_value(&mut h, "Iterations value", 3.0);
    h.get_by_label("Start").click();
    h.step();
    wait_until(&mut h, "the new worker's run", |a| {
        a.status().phase == RunPhase::Finished(FinishReason::Completed)
    });
}

/// Item 1 of [8]: two exports of the same frame through the path field used to overwrite each
/// other; item 3: what the PNG says about its inputs.
#[test]
fn exports_never_overwrite_and_name_inputs_without_their_folders() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut h = harness(options());
    wait_ready(&mut h);
    set_value(&mut h, "Output size value", RUN_SIZE);
    set_value(&mut h, "Iterations value", 2.0);
    h.get_by_label("Start").click();
    h.step();
    wait_until(&mut h, "done", |a| {
        a.status().phase == RunPhase::Finished(FinishReason::Completed)
    });
    let out = tmp.path().join("result.png");
    type_path(&mut h, "Export path", "Save", &out);
    wait_until(&mut h, "first export", |a| {
        a.last_export() == Some(out.as_path())
    });
    let first = std::fs::read(&out).expect("written");
    let second = tmp.path().join("result-2.png");
    type_path(&mut h, "Export path", "Save", &out);
    wait_until(&mut h, "second export", |a| {
        a.last_export() == Some(second.as_path())
    });
    assert_eq!(
        std::fs::read(&out).expect("kept"),
        first,
        "the first is kept"
    );
    assert!(has_notice(
        &h.state().view(),
        Level::Info,
        "already exists and was kept"
    ));

    let bytes = std::fs::read(&second).expect("written");
    let text = String::from_utf8_lossy(&bytes);
    let assets = common::studio::assets();
    let folder = assets.parent().expect("repo").display().to_string();
    assert!(!text.contains(&folder), "the PNG names {folder}");
    let saved = image_io::read_png_settings(&second)
        .expect("readable")
        .expect("settings");
    assert_eq!(saved.content.as_deref(), Some(Path::new("chelsea.png")));
    assert_eq!(saved.style.as_deref(), Some(Path::new("starry_night.jpg")));
}

#[test]
fn worker_error_is_shown_and_the_studio_survives() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dot = write_test_image(tmp.path(), "dot.png", 1, 1, 7);
    let mut h = harness(options());
    wait_ready(&mut h);
    let style = h
        .state()
        .view()
        .image_path(SlotKind::Style)
        .map(Path::to_path_buf);
    type_path(&mut h, "Content path", "Load content path", &dot);
    wait_until(&mut h, "1×1 content", |a| {
        a.image_size(SlotKind::Content) == Some((1, 1))
    });
    h.get_by_label("Start").click();
    h.step();
    wait_until(&mut h, "failed run", |a| {
        a.status().phase == RunPhase::Finished(FinishReason::Failed)
    });
    assert!(
        h.state()
            .view()
            .notices()
            .iter()
            .any(|n| n.level == Level::Error && n.title == "Run"),
        "{:#?}",
        h.state().view().notices()
    );
    assert_eq!(
        h.state().view().image_path(SlotKind::Content),
        Some(dot.as_path())
    );
    assert_eq!(
        h.state()
            .view()
            .image_path(SlotKind::Style)
            .map(Path::to_path_buf),
        style
    );
    assert!(h.state().view().window_title().contains("failed"));

    // Fix the input and go again.
    let photo = write_test_image(tmp.path(), "photo.png", 40, 30, 8);
    type_path(&mut h, "Content path", "Load content path", &photo);
    wait_until(&mut h, "good content", |a| {
        a.image_path(SlotKind::Content) == Some(&photo)
    });
    set_value(&mut h, "Output size value", RUN_SIZE);
    h.get_by_label("Start").click();
    h.step();
    wait_until(&mut h, "a frame", |a| a.preview_iteration().is_some());
    h.get_by_label("Stop").click();
    h.step();
    wait_until(&mut h, "stopped", |a| !a.status().is_active());
}

#[test]
fn missing_weights_say_what_to_do_and_a_file_can_be_chosen() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut opts = options();
    opts.weights = Some(tmp.path().join("missing"));
    let mut h = harness(opts);
    wait_until(&mut h, "weights missing", |a| a.weights_missing().is_some());
    h.step();
    assert!(is_disabled(&h, "Start"));
    assert!(h.state().view().window_title().contains("weights missing"));
    assert!(screen_shows(&h, "weights are missing"));
    // Both ways out are offered (the download itself is tested against a local hub below).
    let _ = h.get_by_label("Download VGG19");
    let _ = h.get_by_label("Open weights file…");

    // The path field always works.
    let weights = test_weights();
    type_path(&mut h, "Weights path", "Load weights path", &weights);
    wait_until(&mut h, "weights loaded", |a| a.network().is_some());
    assert_eq!(
        h.state().view().network().map(|n| n.path.clone()),
        Some(weights.clone())
    );
    assert_eq!(
        h.state().view().settings().weights_path.as_deref(),
        Some(weights.as_path())
    );
    wait_ready(&mut h);
    assert!(!is_disabled(&h, "Start"));
}

#[test]
fn split_compare_and_hold_to_compare() {
    let mut h = harness(options());
    wait_ready(&mut h);
    h.get_by_label("Split").click();
    h.step();
    assert_eq!(
        h.state().view().compare_mode(),
        atelier::studio::CompareMode::Split
    );
    h.get_by_label("Result").click();
    h.step();
    assert_eq!(
        h.state().view().compare_mode(),
        atelier::studio::CompareMode::Result
    );
}

/// Minimal in-memory eframe storage.
#[derive(Default)]
struct MemStorage(HashMap<String, String>);

impl eframe::Storage for MemStorage {
    fn get_string(&self, key: &str) -> Option<String> {
        self.0.get(key).cloned()
    }
    fn set_string(&mut self, key: &str, value: String) {
        self.0.insert(key.to_owned(), value);
    }
    fn remove_string(&mut self, key: &str) {
        self.0.remove(key);
    }
    fn flush(&mut self) {}
}

#[test]
fn settings_and_images_persist_between_launches() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let painting = write_test_image(tmp.path(), "kept painting.png", 36, 36, 9);
    let mut storage = MemStorage::default();
    {
        let mut opts = options();
        opts.persist = true;
        let mut h = harness(opts);
        wait_ready(&mut h);
        set_value(&mut h, "Content weight α value", 42.0);
        type_path(&mut h, "Style path", "Load style path", &painting);
        wait_until(&mut h, "style loaded", |a| {
            a.image_path(SlotKind::Style) == Some(&painting)
        });
        eframe::App::save(h.state_mut(), &mut storage);
    }
    assert!(!storage.0.is_empty(), "something was saved");

    let relaunch = |persist: bool, storage: &MemStorage| {
        let mut opts = options();
        opts.persist = persist;
        let mut h = Harness::builder()
            .with_size([1280.0, 800.0])
            .build_eframe(|cc| {
                cc.storage = Some(storage);
                StudioApp::new(cc, opts)
            });
        wait_ready(&mut h);
        (
            h.state().view().settings().weights.content_weight,
            h.state()
                .view()
                .image_path(SlotKind::Style)
                .map(Path::to_path_buf),
        )
    };
    assert_eq!(relaunch(true, &storage), (42.0, Some(painting.clone())));
    // With persistence off nothing is read.
    let (alpha, style) = relaunch(false, &storage);
    assert_eq!(
        alpha,
        atelier::settings::LossWeights::default().content_weight
    );
    assert_ne!(style, Some(painting));
}

#[test]
fn a_vanished_saved_image_falls_back_to_the_sample() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let gone = write_test_image(tmp.path(), "gone.png", 20, 20, 10);
    let mut storage = MemStorage::default();
    {
        let mut opts = options();
        opts.persist = true;
        let mut h = harness(opts);
        wait_ready(&mut h);
        type_path(&mut h, "Content path", "Load content path", &gone);
        wait_until(&mut h, "content loaded", |a| {
            a.image_path(SlotKind::Content) == Some(&gone)
        });
        eframe::App::save(h.state_mut(), &mut storage);
    }
    std::fs::remove_file(&gone).expect("remove");
    let mut opts = options();
    opts.persist = true;
    let mut h = Harness::builder()
        .with_size([1280.0, 800.0])
        .build_eframe(|cc| {
            cc.storage = Some(&storage);
            StudioApp::new(cc, opts)
        });
    wait_ready(&mut h);
    let content = h
        .state()
        .view()
        .image_path(SlotKind::Content)
        .expect("fallback");
    assert!(content.starts_with(assets().join("samples")), "{content:?}");
    assert!(
        has_error_mentioning(&h.state().view(), "gone.png"),
        "{:#?}",
        h.state().view().notices()
    );
}

// ---------------------------------------------------------------- weights download

/// A hub on 127.0.0.1 serving a generated VGG19 `model.safetensors` (features, a classifier gap
/// and a head, like timm's), with a pause after every 64 KB so a download is observable.
fn slow_hub(chunk_delay: Duration) -> common::Server {
    let server = common::Server::start(common::Served {
        data: common::hub_file(1),
        etag: "\"studio-v1\"".into(),
        commit: "0123456789abcdef0123456789abcdef01234567".into(),
    });
    server.behave(|b| b.chunk_delay = Some(chunk_delay));
    server
}

/// Downloads go to `cache` (never the user's), from `endpoint`; no retries, so failures are quick.
fn hub_config(endpoint: String, cache: &Path) -> HubConfig {
    HubConfig {
        endpoint,
        token: None,
        cache_dir: cache.to_path_buf(),
        offline: false,
        revision: "main".into(),
        timeout: Duration::from_secs(20),
        retries: 0,
        ..HubConfig::default()
    }
}

/// Weights missing (an explicit path that doesn't exist), downloads going to `hub`.
fn missing_weights_studio<'a>(tmp: &Path, hub: &HubConfig) -> Harness<'a, StudioApp> {
    let mut opts = options();
    opts.weights = Some(tmp.join("missing.safetensors"));
    opts.hub = Some(hub.clone());
    let mut h = harness(opts);
    wait_until(&mut h, "weights missing", |a| a.weights_missing().is_some());
    h.step();
    h
}

fn download_notice<'a>(app: &StudioView<'a>) -> Option<&'a atelier::studio::Notice> {
    app.notices().iter().find(|n| n.title == "Download")
}

#[test]
fn download_button_fetches_shows_progress_then_loads_vgg19() {
    let tmp = tempfile::tempdir().expect("tempdir");
    // ~1 ms per 64 KB: the ~80 MB of features take a second or two.
    let server = slow_hub(Duration::from_millis(1));
    let hub = hub_config(server.endpoint(), &tmp.path().join("hf"));
    let mut h = missing_weights_studio(tmp.path(), &hub);
    assert!(h.state().view().download().is_none());

    h.get_by_label("Download VGG19").click();
    h.step();
    assert!(
        h.state().view().download().is_some(),
        "the card switches to progress at once"
    );
    wait_until(&mut h, "download progress", |a| {
        a.download()
            .is_some_and(|d| d.received > 1_000_000 && d.total.is_some())
    });
    h.step();
    let d = h
        .state()
        .view()
        .download()
        .cloned()
        .expect("still downloading");
    let total = d.total.unwrap();
    assert!(
        total > Model::Vgg19.features_bytes() && total < Model::Vgg19.features_bytes() + 1_000_000,
        "only the features are planned: {total}"
    );
    assert!(d.bytes_per_second > 0.0, "{d:?}");
    // The card shows bytes and speed; the window title the percentage.
    assert!(screen_shows(&h, "VGG19 — "), "progress text on screen");
    assert!(screen_shows(&h, "MB/s"));
    let _ = h.get_by_label("Cancel download");
    assert!(
        h.state()
            .view()
            .window_title()
            .contains("downloading weights"),
        "{}",
        h.state().view().window_title()
    );
    assert!(is_disabled(&h, "Start"));

    wait_until(&mut h, "downloaded weights loaded", |a| {
        a.network().is_some()
    });
    let expected = atelier::weights::default_path(Model::Vgg19, &hub);
    let info = h.state().view().network().expect("network").clone();
    assert_eq!(info.arch, "vgg19");
    assert_eq!(info.path, expected);
    assert!(info.layers.iter().any(|l| l == "relu5_4"), "VGG19 layers");
    assert!(h.state().view().download().is_none());
    assert!(h.state().view().weights_missing().is_none());
    assert_eq!(
        h.state().view().settings().weights_path.as_deref(),
        Some(expected.as_path()),
        "the next launch finds it first"
    );
    assert!(
        !h.state()
            .view()
            .notices()
            .iter()
            .any(|n| n.level == Level::Error || n.title == "Download"),
        "{:#?}",
        h.state().view().notices()
    );
    wait_ready(&mut h);
    h.step();
    assert!(!is_disabled(&h, "Start"));
    assert!(screen_shows(&h, "VGG19"), "the chip names the network");
    assert!(screen_shows(&h, "features.safetensors"), "…and its file");
    common::assert_features_equal(&expected, &common::hub_file(1));
}

#[test]
fn cancelling_a_download_keeps_the_card_usable_and_the_next_one_resumes() {
    let tmp = tempfile::tempdir().expect("tempdir");
    // ~3 MB/s: far too slow to finish before Cancel.
    let server = slow_hub(Duration::from_millis(20));
    let hub = hub_config(server.endpoint(), &tmp.path().join("hf"));
    let mut h = missing_weights_studio(tmp.path(), &hub);

    h.get_by_label("Download VGG19").click();
    h.step();
    wait_until(&mut h, "some bytes", |a| {
        a.download().is_some_and(|d| d.received > 1_000_000)
    });
    h.get_by_label("Cancel download").click();
    h.step();
    assert!(h.state().view().download().is_some_and(|d| d.cancelling));
    // Responsive meanwhile: the UI keeps stepping while the worker winds down.
    wait_until(&mut h, "download cancelled", |a| a.download().is_none());
    let notice = download_notice(&h.state().view())
        .expect("a Download notice")
        .clone();
    assert!(notice.message.contains("cancelled"), "{notice:?}");
    assert!(notice.message.contains("resumes"), "{notice:?}");
    assert!(
        h.state().view().weights_missing().is_some(),
        "still missing"
    );
    assert!(h.state().view().network().is_none());
    h.step();
    assert!(
        !is_disabled(&h, "Download VGG19"),
        "the card is usable again"
    );
    let _ = h.get_by_label("Open weights file…");
    let _ = h.get_by_label("Weights path");
    assert!(h.state().view().window_title().contains("weights missing"));
    let dest = atelier::weights::default_path(Model::Vgg19, &hub);
    let (part, _) = atelier::weights::partial_paths(&dest);
    let kept = std::fs::metadata(&part).expect("partial data kept").len();
    assert!(kept > 1_000_000, "{kept}");

    // Again, at full speed: it resumes instead of starting over, and loads.
    let first = server.take_log();
    assert!(!first.is_empty());
    server.behave(|b| b.chunk_delay = None);
    h.get_by_label("Download VGG19").click();
    h.step();
    wait_until(&mut h, "resumed download loaded", |a| a.network().is_some());
    assert_eq!(h.state().view().network().unwrap().arch, "vgg19");
    let second = common::Server::bytes_sent(&server.log());
    assert!(
        second + kept <= Model::Vgg19.features_bytes() + 1_000_000,
        "resumed: {second} bytes after {kept} kept"
    );
    assert!(!part.exists(), "the partial file is gone once complete");
    wait_ready(&mut h);
}

#[test]
fn unreachable_hub_says_how_to_get_the_weights_by_hand() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let hub = hub_config(
        format!("http://127.0.0.1:{}", common::dead_port()),
        &tmp.path().join("hf"),
    );
    let mut h = missing_weights_studio(tmp.path(), &hub);
    h.get_by_label("Download VGG19").click();
    h.step();
    wait_until(&mut h, "download error", |a| {
        a.download().is_none() && download_notice(a).is_some()
    });
    let notice = download_notice(&h.state().view()).unwrap().clone();
    assert_eq!(notice.level, Level::Error);
    assert!(notice.message.contains("could not reach"), "{notice:?}");
    assert!(
        notice
            .message
            .contains(&atelier::weights::manual_hint(Model::Vgg19, &hub)),
        "names the manual alternative: {notice:?}"
    );
    assert!(notice.message.contains("Open weights file…"), "{notice:?}");
    assert!(h.state().view().weights_missing().is_some());
    h.step();
    assert!(!is_disabled(&h, "Download VGG19"), "try again is possible");
    assert!(is_disabled(&h, "Start"));

    // The path field still works after a failed download.
    type_path(
        &mut h,
        "Weights path",
        "Load weights path",
        &common::test_vgg16_file(),
    );
    wait_until(&mut h, "weights loaded", |a| a.network().is_some());
    assert_eq!(h.state().view().network().unwrap().arch, "vgg16");
}

/// The protocol itself, without a window: the engine thread answers other commands during a
/// download, a second request joins the first, progress is throttled and ends complete, and
/// `WeightsLoaded` follows `DownloadFinished(Done)`.
#[test]
fn worker_downloads_on_its_own_thread_with_throttled_progress() {
    let tmp = tempfile::tempdir().expect("tempdir");
    // Slow (over a minute for the whole file) until the engine has answered, then fast.
    let server = slow_hub(Duration::from_millis(50));
    let hub = hub_config(server.endpoint(), &tmp.path().join("hf"));
    let worker = Worker::spawn_with(
        Box::new(|| {}),
        WorkerConfig {
            hub: Some(hub.clone()),
            ..WorkerConfig::default()
        },
    );
    let started = Instant::now();
    worker.send(Command::DownloadWeights(Model::Vgg19));
    worker.send(Command::DownloadWeights(Model::Vgg19)); // ignored: one at a time
    let mut events = Vec::new();
    let mut asked_engine = false;
    let deadline = Instant::now() + TIMEOUT;
    let loaded = |e: &Event, arch: &str| matches!(e, Event::WeightsLoaded(i) if i.arch == arch);
    while !events.iter().any(|e| loaded(e, "vgg19")) {
        assert!(Instant::now() < deadline, "timed out: {events:#?}");
        let Some(e) = worker.try_recv() else {
            std::thread::sleep(Duration::from_millis(2));
            continue;
        };
        if !asked_engine && matches!(e, Event::DownloadProgress { .. }) {
            // Mid-download, the engine still loads weights.
            worker.send(Command::LoadNetwork(Some(common::test_vgg16_file())));
            asked_engine = true;
        }
        if loaded(&e, "vgg16") {
            server.behave(|b| b.chunk_delay = None);
        }
        events.push(e);
    }
    let elapsed = started.elapsed().as_secs_f64();
    let pos = |f: &dyn Fn(&Event) -> bool| events.iter().position(f);
    let vgg16 = pos(&|e| loaded(e, "vgg16")).expect("vgg16 loaded");
    let finished = pos(&|e| matches!(e, Event::DownloadFinished(_))).unwrap();
    let vgg19 = pos(&|e| loaded(e, "vgg19")).unwrap();
    assert!(vgg16 < finished, "the engine answered during the download");
    assert!(finished < vgg19, "finished, then loaded");
    assert!(matches!(
        &events[finished],
        Event::DownloadFinished(DownloadOutcome::Done(p))
            if *p == atelier::weights::default_path(Model::Vgg19, &hub)
    ));
    let finishes = events
        .iter()
        .filter(|e| matches!(e, Event::DownloadFinished(_)))
        .count();
    assert_eq!(finishes, 1, "the second request joined the first");
    let progress: Vec<(u64, u64)> = events
        .iter()
        .filter_map(|e| match e {
            Event::DownloadProgress {
                downloaded, total, ..
            } => Some((*downloaded, *total)),
            _ => None,
        })
        .collect();
    assert!(progress.len() >= 2, "{progress:?}");
    assert!(
        progress.len() as f64 <= elapsed * 10.0 + 4.0,
        "{} progress events in {elapsed:.2} s",
        progress.len()
    );
    let &(last, total) = progress.last().unwrap();
    assert_eq!(last, total, "the final report is never dropped");
    assert!(progress.windows(2).all(|w| w[0].0 <= w[1].0));
}

/// Waits for the worker's answer to a weights load.
fn weights_answer(worker: &Worker) -> Event {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        assert!(Instant::now() < deadline, "no answer to the weights load");
        match worker.try_recv() {
            Some(e @ (Event::WeightsLoaded(_) | Event::WeightsMissing { .. })) => return e,
            Some(_) => {}
            None => std::thread::sleep(Duration::from_millis(2)),
        }
    }
}

/// The saved settings name a weights file that has since been moved or deleted, while the
/// download cache holds good weights: the studio gets those, with a note saying so.
#[test]
fn worker_falls_back_to_the_cache_when_the_saved_weights_file_is_gone() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let hub = hub_config(
        format!("http://127.0.0.1:{}", common::dead_port()),
        &tmp.path().join("hf"),
    );
    let cached = atelier::weights::default_path(Model::Vgg16, &hub);
    std::fs::create_dir_all(cached.parent().unwrap()).unwrap();
    std::fs::copy(common::test_vgg16_file(), &cached).unwrap();
    let search = atelier::weights::SearchEnv {
        explicit: None,
        env_weights: None,
        cwd: Some(tmp.path().join("cwd")),
        exe_dir: Some(tmp.path().join("bin")),
        hub: hub.clone(),
    };
    let worker = Worker::spawn_with(
        Box::new(|| {}),
        WorkerConfig {
            hub: Some(hub),
            weights_search: Some(search),
            ..WorkerConfig::default()
        },
    );
    let gone = tmp.path().join("moved-away.safetensors");

    worker.send(Command::LoadSavedNetwork(gone.clone()));
    let info = match weights_answer(&worker) {
        Event::WeightsLoaded(info) => info,
        other => panic!("expected the cached weights, got {other:?}"),
    };
    assert_eq!(
        (info.arch.as_str(), info.path.as_path()),
        ("vgg16", cached.as_path())
    );
    let note = info.note.expect("a note about the fallback");
    assert!(
        note.contains(&gone.display().to_string()) && note.contains(&cached.display().to_string()),
        "{note}"
    );

    // A file named now (the Load button, `--weights`) is that file or nothing.
    worker.send(Command::LoadNetwork(Some(gone.clone())));
    match weights_answer(&worker) {
        Event::WeightsMissing { message } => {
            assert!(message.contains(&gone.display().to_string()), "{message}");
        }
        other => panic!("expected WeightsMissing, got {other:?}"),
    }
}
