//! Measures the studio's first-frame latency: from Start to the first optimized preview frame,
//! through the real worker, as the studio sees it.
//! `cargo run --release --example first_frame -- WEIGHTS [SIZE]`

use atelier::settings::Settings;
use atelier::worker::{Command, Event, RunRequest, Worker};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let weights = args.next().map(std::path::PathBuf::from);
    let size: u32 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(256);
    let assets = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/samples");
    let content = Arc::new(atelier::image_io::load_image(&assets.join("chelsea.png"))?);
    let style = Arc::new(atelier::image_io::load_image(
        &assets.join("starry_night.jpg"),
    )?);
    let worker = Worker::spawn(Box::new(|| {}));
    worker.send(Command::LoadNetwork(weights.clone()));
    let wait = |pred: &dyn Fn(&Event) -> bool| -> anyhow::Result<Event> {
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(120) {
            match worker.try_recv() {
                Some(Event::Error { message }) => eprintln!("error: {message}"),
                Some(Event::WeightsMissing { message }) => anyhow::bail!(message),
                Some(e) if pred(&e) => return Ok(e),
                Some(_) => {}
                None => std::thread::sleep(Duration::from_millis(1)),
            }
        }
        anyhow::bail!("timed out")
    };
    wait(&|e| matches!(e, Event::WeightsLoaded(_)))?;
    let settings = Settings {
        size,
        weights_path: weights,
        ..Settings::default()
    };
    let t0 = Instant::now();
    worker.send(Command::Start(Box::new(RunRequest {
        settings,
        content,
        style,
        extra_styles: Vec::new(),
        mask: None,
        init_image: None,
    })));
    wait(&|e| matches!(e, Event::FrameReady { iteration: 0 }))?;
    let first_preview = t0.elapsed();
    wait(&|e| matches!(e, Event::FrameReady { iteration } if *iteration >= 1))?;
    let first_iteration = t0.elapsed();
    wait(&|e| matches!(e, Event::FrameReady { iteration } if *iteration >= 2))?;
    let second = t0.elapsed();
    println!(
        "{{\"size\": {size}, \"start_frame_s\": {:.3}, \"first_optimized_frame_s\": {:.3}, \"second_frame_s\": {:.3}}}",
        first_preview.as_secs_f64(),
        first_iteration.as_secs_f64(),
        second.as_secs_f64()
    );
    worker.send(Command::Stop);
    Ok(())
}
