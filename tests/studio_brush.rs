//! Style brushes in the studio, driven as an artist would: train a brush on the painting in the
//! Style slot, watch it train, find it in the Instant palette and paint with it.

mod common;

use atelier::engine::brush::{GenArch, TrainConfig};
use atelier::worker::TrainBudget;
use common::studio::*;
use egui_kittest::kittest::Queryable;

/// Small enough to train a few steps in seconds on the test's random VGG.
fn tiny() -> TrainConfig {
    TrainConfig {
        size: 32,
        distill: 0.0,
        adversarial: 0.0,
        photo_scale: 48,
        style_size: 64,
        arch: GenArch {
            channels: [2, 3, 4],
            blocks: 1,
            ..GenArch::default()
        },
        ..TrainConfig::default()
    }
}

#[test]
fn a_brush_trained_in_the_studio_joins_the_palette_and_paints() {
    let tmp = tempfile::tempdir().unwrap();
    // A first brush: its folder doesn't exist yet.
    let dir = tmp.path().join("brushes");
    let mut opts = options();
    opts.brushes_dir = Some(dir.clone());
    let mut h = harness(opts);
    h.state_mut().set_instant_size(64);
    h.state_mut().set_training(tiny(), TrainBudget::Steps(3));
    wait_ready(&mut h);
    click(&mut h, "Train a brush");
    click(&mut h, "Train brush");
    wait_until(&mut h, "the training to end", |v| {
        v.training_finished().is_some()
    });
    let (completed, saved) = h.state().view().training_finished().unwrap();
    assert!(completed, "notices: {:#?}", h.state().view().notices());
    let saved = saved.expect("a saved brush").to_path_buf();
    // Named after the painting, in the brush folder, with its thumbnail beside it.
    assert_eq!(saved, dir.join("starry_night.safetensors"));
    assert!(saved.with_extension("png").is_file(), "thumbnail");
    wait_until(&mut h, "the brush in the palette", |v| {
        v.brush_names() == ["starry_night"]
    });
    assert!(screen_shows(&h, "Saved \"starry_night\""));

    // The new brush is picked: Instant mode paints with it.
    click(&mut h, "Instant mode");
    wait_until(&mut h, "an instant picture from the brush", |v| {
        v.instant_image().is_some() || v.instant_error().is_some()
    });
    assert_eq!(h.state().view().instant_error(), None);
    assert!(h.get_by_label("Brush starry_night").rect().width() > 0.0);

    // A second brush from the same painting never replaces the first.
    click(&mut h, "Train brush");
    wait_until(&mut h, "the second training to end", |v| {
        v.training_finished()
            .is_some_and(|(_, p)| p.is_some_and(|p| p.ends_with("starry_night-2.safetensors")))
    });
    wait_until(&mut h, "both brushes in the palette", |v| {
        let mut names = v.brush_names();
        names.sort();
        names == ["starry_night", "starry_night-2"]
    });
    assert!(saved.is_file());
}

/// Without a painting there is nothing to learn: Train says why and sends nothing.
#[test]
fn training_needs_a_painting_and_a_network() {
    let mut opts = options();
    opts.weights = Some(std::path::PathBuf::from("/no/such/weights.safetensors"));
    let mut h = harness(opts);
    wait_until(&mut h, "weights missing and the painting in", |v| {
        v.weights_missing().is_some() && v.image_size(atelier::studio::SlotKind::Style).is_some()
    });
    let why = h.state().view().train_blocker().expect("blocked");
    assert!(why.contains("VGG network"), "{why}");
}
