//! Picking the compute device. `auto` prefers a GPU and falls back to the CPU out loud: candle's
//! `cuda_if_available` returns an error instead of falling back when built with cuda and no GPU is present.

use crate::error::{Error, Result};
use crate::settings::DeviceChoice;
use candle_core::Device;

/// The device a run uses, and why, for the log line and the studio's status bar.
#[derive(Debug, Clone)]
pub struct Selected {
    pub device: Device,
    pub label: String,
    /// Set when `auto` wanted a GPU and had to use the CPU.
    pub fallback_note: Option<String>,
}

/// Whether this binary was built with CUDA support.
pub const fn cuda_built() -> bool {
    cfg!(feature = "cuda")
}

/// Whether this binary was built with Metal support (macOS builds always are).
pub const fn metal_built() -> bool {
    cfg!(target_os = "macos")
}

fn try_cuda() -> std::result::Result<Device, String> {
    if !cuda_built() {
        return Err("this build has no CUDA support (rebuild with `--features cuda`)".into());
    }
    let device = Device::new_cuda(0).map_err(|e| format!("no usable CUDA GPU: {e}"))?;
    crate::gpu::configure_tf32();
    Ok(device)
}

/// The CUDA label, saying when TF32 products are on (see [`crate::gpu::TF32_VAR`]).
fn cuda_label() -> String {
    if crate::gpu::configure_tf32() {
        "CUDA GPU 0 (TF32)".into()
    } else {
        "CUDA GPU 0".into()
    }
}

fn try_metal() -> std::result::Result<Device, String> {
    if !metal_built() {
        return Err("Metal is only available on macOS".into());
    }
    Device::new_metal(0).map_err(|e| format!("no usable Metal GPU: {e}"))
}

/// `threads` is the engine's CPU thread count (passed in: devices sit below the engine).
fn cpu_label(threads: usize) -> String {
    format!("CPU ({threads} threads)")
}

/// Resolves a device choice; explicit choices fail loudly, `auto` falls back to the CPU with a note.
pub fn select(choice: DeviceChoice, threads: usize) -> Result<Selected> {
    let cpu = |note: Option<String>| Selected {
        device: Device::Cpu,
        label: cpu_label(threads),
        fallback_note: note,
    };
    match choice {
        DeviceChoice::Cpu => Ok(cpu(None)),
        DeviceChoice::Cuda => try_cuda()
            .map(|device| Selected {
                device,
                label: cuda_label(),
                fallback_note: None,
            })
            .map_err(|e| Error::Device(format!("{e}; choose --device cpu or auto"))),
        DeviceChoice::Metal => try_metal()
            .map(|device| Selected {
                device,
                label: "Metal GPU".into(),
                fallback_note: None,
            })
            .map_err(|e| Error::Device(format!("{e}; choose --device cpu or auto"))),
        DeviceChoice::Auto => {
            let mut notes = Vec::new();
            if cuda_built() {
                match try_cuda() {
                    Ok(device) => {
                        return Ok(Selected {
                            device,
                            label: cuda_label(),
                            fallback_note: None,
                        })
                    }
                    Err(e) => notes.push(e),
                }
            }
            if metal_built() {
                match try_metal() {
                    Ok(device) => {
                        return Ok(Selected {
                            device,
                            label: "Metal GPU".into(),
                            fallback_note: None,
                        })
                    }
                    Err(e) => notes.push(e),
                }
            }
            let note = (!notes.is_empty()).then(|| format!("using the CPU: {}", notes.join("; ")));
            Ok(cpu(note))
        }
    }
}

/// The selector's choices before the worker has probed the GPUs: the CPU works, the GPUs are
/// being checked.
pub fn unprobed_devices(threads: usize) -> Vec<(DeviceChoice, bool, String)> {
    vec![
        (
            DeviceChoice::Auto,
            true,
            "Auto (GPU if present, else CPU)".into(),
        ),
        (DeviceChoice::Cpu, true, cpu_label(threads)),
        (DeviceChoice::Cuda, false, "CUDA (checking…)".into()),
        (DeviceChoice::Metal, false, "Metal (checking…)".into()),
    ]
}

/// What the device selector offers: each choice, whether it can work here, and a label saying why not.
pub fn available_devices(threads: usize) -> Vec<(DeviceChoice, bool, String)> {
    let cuda = if cuda_built() {
        match try_cuda() {
            Ok(_) => (true, "CUDA GPU".to_string()),
            Err(e) => (false, format!("CUDA ({e})")),
        }
    } else {
        (
            false,
            "CUDA (not built: rebuild with --features cuda)".into(),
        )
    };
    let metal = if metal_built() {
        match try_metal() {
            Ok(_) => (true, "Metal GPU".to_string()),
            Err(e) => (false, format!("Metal ({e})")),
        }
    } else {
        (false, "Metal (macOS only)".into())
    };
    vec![
        (
            DeviceChoice::Auto,
            true,
            "Auto (GPU if present, else CPU)".into(),
        ),
        (DeviceChoice::Cpu, true, cpu_label(threads)),
        (DeviceChoice::Cuda, cuda.0, cuda.1),
        (DeviceChoice::Metal, metal.0, metal.1),
    ]
}
