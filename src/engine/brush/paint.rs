//! Painting with a trained brush: the fast CPU kernels on f32 CPU, the training graph on other
//! devices. Fully convolutional: any size, padded to a multiple of 4 and cropped back. Memory:
//! 357 MiB peak RSS at 1920×1080 (`atelier bench --brush`), under the instant networks'
//! estimate (`instant::check_memory`), which callers use for brushes too.

use super::file::Brush;
use super::generator::{Fast, Generator, STRIDE};
use crate::engine::instant::{MAX_SIZE, MIN_SIDE, MIN_SIZE};
use crate::error::Result;
use candle_core::{DType, Device, Tensor};
use image::RgbImage;

enum Net {
    Fast(Box<Fast>),
    Graph(Generator),
}

/// A brush ready to paint.
pub struct BrushNet {
    net: Net,
    device: Device,
}

impl BrushNet {
    pub fn new(brush: &Brush, device: &Device) -> Result<Self> {
        let net = if device.is_cpu() {
            Net::Fast(Box::new(Fast::new(brush.info.arch, &brush.weights)?))
        } else {
            let mut g = Generator::new(brush.info.arch, 0, DType::F32, device)?;
            g.params.load(&brush.weights)?;
            Net::Graph(g)
        };
        Ok(Self {
            net,
            device: device.clone(),
        })
    }

    /// The same, from a generator being trained (previews).
    pub fn from_generator(g: &Generator) -> Result<Self> {
        Ok(Self {
            net: Net::Fast(Box::new(g.fast()?)),
            device: Device::Cpu,
        })
    }

    /// Paints `content` at longest side `size` (the output's size).
    pub fn stylize(&self, content: &RgbImage, size: u32) -> Result<RgbImage> {
        if !(MIN_SIZE..=MAX_SIZE).contains(&size) {
            return Err(crate::engine::instant::InstantError::Size(size).into());
        }
        let img = crate::image_io::resize_longest(content, size);
        let (w, h) = img.dimensions();
        if w.min(h) < MIN_SIDE {
            return Err(crate::engine::instant::InstantError::Thin {
                width: w,
                height: h,
            }
            .into());
        }
        let s = STRIDE as u32;
        let (pw, ph) = (w.div_ceil(s) * s, h.div_ceil(s) * s);
        let x = (crate::engine::pixels::to_tensor(&img, &self.device)? / 255.0)?;
        let x = pad_reflect_end(&x, 2, (ph - h) as usize)?;
        let x = pad_reflect_end(&x, 3, (pw - w) as usize)?;
        let y = match &self.net {
            Net::Fast(f) => f.forward(&x)?,
            Net::Graph(g) => g.forward(&x)?,
        };
        let y = y.narrow(2, 0, h as usize)?.narrow(3, 0, w as usize)?;
        crate::engine::pixels::to_image(&(y * 255.0)?)
    }
}

/// Mirrors the last `n` rows/columns past the end of `dim` (n < its size).
fn pad_reflect_end(x: &Tensor, dim: usize, n: usize) -> Result<Tensor> {
    if n == 0 {
        return Ok(x.clone());
    }
    let len = x.dim(dim)?;
    let tail = x.narrow(dim, len - 1 - n, n)?.contiguous()?.flip(&[dim])?;
    Ok(Tensor::cat(&[x, &tail], dim)?)
}
