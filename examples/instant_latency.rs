//! Measures the studio's instant-mode latency: from sending an `Instant` command (what the
//! studio does on the frame a style, blend or strength changes) to its `InstantReady`, through
//! the real worker. `cargo run --release --example instant_latency -- [SIZE] [THREADS]`

use atelier::engine::instant::Blend;
use atelier::worker::{Command, Event, InstantRequest, InstantSource, Worker};
use image::RgbImage;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let size: u32 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(512);
    let threads: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(0);
    atelier::engine::set_threads(threads);
    let samples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/samples");
    let load = |n: &str| -> anyhow::Result<Arc<RgbImage>> {
        Ok(Arc::new(atelier::image_io::load_image(&samples.join(n))?))
    };
    let content = load("chelsea.png")?;
    let styles = [
        load("starry_night.jpg")?,
        load("the_scream.jpg")?,
        load("woman-with-hat-matisse.jpg")?,
        load("shipwreck.jpg")?,
    ];
    let worker = Worker::spawn(Box::new(|| {}));
    let mut id = 0;
    let mut ask = |source: InstantSource| -> anyhow::Result<(Duration, u64)> {
        id += 1;
        let t0 = Instant::now();
        worker.send(Command::PaintInstant(Box::new(InstantRequest {
            id,
            content: content.clone(),
            source,
            size,
        })));
        loop {
            match worker.try_recv() {
                Some(Event::InstantReady {
                    id: got, millis, ..
                }) if got == id => return Ok((t0.elapsed(), millis)),
                Some(Event::InstantFailed { message, .. }) => anyhow::bail!(message),
                Some(_) => {}
                None if t0.elapsed() > Duration::from_secs(120) => anyhow::bail!("timed out"),
                None => std::thread::sleep(Duration::from_micros(200)),
            }
        }
    };
    let style = |i: usize, strength: f32| InstantSource::Style {
        image: styles[i].clone(),
        strength,
    };
    let report = |what: &str, (d, m): (Duration, u64)| {
        println!(
            "{what:<44} {:>7.0} ms  (worker {m} ms)",
            d.as_secs_f64() * 1e3
        );
    };
    println!("size {size}, threads {}", atelier::engine::threads());
    report("first picture (loads the networks)", ask(style(0, 1.0))?);
    for i in 1..4 {
        report(
            "style changed (predictor + transformer)",
            ask(style(i, 1.0))?,
        );
    }
    report(
        "strength 0.5 (+ the content's own vector)",
        ask(style(3, 0.5))?,
    );
    for s in [0.6, 0.7, 0.8] {
        report(
            &format!("strength {s} (transformer only)"),
            ask(style(3, s))?,
        );
    }
    let builtin = |b: Blend| InstantSource::Builtin {
        blend: b,
        strength: 1.0,
    };
    report(
        "first built-in (loads the network)",
        ask(builtin(Blend::single(0)?))?,
    );
    for i in [5, 9, 17] {
        report(
            &format!("built-in style {i}"),
            ask(builtin(Blend::single(i)?))?,
        );
    }
    report(
        "blend 3:0.5,12:0.5",
        ask(builtin(Blend::parse("3:0.5,12:0.5")?))?,
    );
    Ok(())
}
