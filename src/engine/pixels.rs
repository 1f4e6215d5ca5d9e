//! Converting between 8-bit RGB images and `[1,3,H,W]` pixel tensors in 0..255.

use crate::error::Result;
use candle_core::{DType, Device, Tensor};
use image::RgbImage;

/// `[1,3,H,W]` f32 tensor with values 0..255.
pub fn to_tensor(img: &RgbImage, device: &Device) -> Result<Tensor> {
    let (w, h) = img.dimensions();
    let data: Vec<f32> = img.as_raw().iter().map(|&v| f32::from(v)).collect();
    let t = Tensor::from_vec(data, (h as usize, w as usize, 3), &Device::Cpu)?
        .permute((2, 0, 1))?
        .contiguous()?
        .unsqueeze(0)?;
    Ok(t.to_device(device)?)
}

/// Rounds and clamps a `[1,3,H,W]` (or `[3,H,W]`) pixel tensor back to an image.
pub fn to_image(t: &Tensor) -> Result<RgbImage> {
    let t = if t.rank() == 4 {
        t.squeeze(0)?
    } else {
        t.clone()
    };
    let (_, h, w) = t.dims3()?;
    let v: Vec<u8> = super::host::vec1(
        &t.clamp(0f32, 255f32)?
            .round()?
            .permute((1, 2, 0))?
            .to_dtype(DType::U8)?
            .flatten_all()?,
    )?;
    Ok(RgbImage::from_raw(w as u32, h as u32, v)
        .ok_or_else(|| candle_core::Error::Msg("image buffer has the wrong size".into()))?)
}

/// Resamples a `[1,3,H,W]` pixel tensor to `width`×`height` with a Lanczos-3 filter, in f32 so
/// no precision is lost between multi-scale stages (values are clamped to 0..255).
pub fn resize(t: &Tensor, width: u32, height: u32) -> Result<Tensor> {
    let device = t.device().clone();
    let t = if t.rank() == 4 {
        t.squeeze(0)?
    } else {
        t.clone()
    };
    let (_, h, w) = t.dims3()?;
    if (w as u32, h as u32) == (width, height) {
        return Ok(t.unsqueeze(0)?);
    }
    // The image crate clamps f32 pixels to 0..1 when it filters: work in that range.
    let v: Vec<f32> = super::host::vec1(
        &(t.to_dtype(DType::F32)? / 255.0)?
            .permute((1, 2, 0))?
            .flatten_all()?,
    )?;
    let img = image::ImageBuffer::<image::Rgb<f32>, Vec<f32>>::from_raw(w as u32, h as u32, v)
        .ok_or_else(|| candle_core::Error::Msg("image buffer has the wrong size".into()))?;
    let r = image::imageops::resize(&img, width, height, image::imageops::FilterType::Lanczos3);
    let out = Tensor::from_vec(
        r.into_raw()
            .into_iter()
            .map(|v| v * 255.0)
            .collect::<Vec<f32>>(),
        (height as usize, width as usize, 3),
        &Device::Cpu,
    )?
    .permute((2, 0, 1))?
    .contiguous()?
    .unsqueeze(0)?;
    Ok(out.to_device(&device)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_is_exact() -> Result<()> {
        let img = RgbImage::from_fn(5, 3, |x, y| image::Rgb([x as u8 * 40, y as u8 * 80, 7]));
        let t = to_tensor(&img, &Device::Cpu)?;
        assert_eq!(t.dims(), &[1, 3, 3, 5]);
        // channel 0 at (y=0, x=2) is 80
        let v: f32 = t.get(0)?.get(0)?.get(0)?.get(2)?.to_scalar()?;
        assert_eq!(v, 80.0);
        assert_eq!(to_image(&t)?, img);
        Ok(())
    }

    #[test]
    fn resize_keeps_the_pixel_range() -> Result<()> {
        let img = RgbImage::from_fn(8, 6, |x, y| {
            image::Rgb([200, (x * 30) as u8, (y * 40) as u8])
        });
        let t = resize(&to_tensor(&img, &Device::Cpu)?, 16, 12)?;
        assert_eq!(t.dims(), &[1, 3, 12, 16]);
        let up = to_image(&t)?;
        let want = image::imageops::resize(&img, 16, 12, image::imageops::FilterType::Triangle);
        let worst = up
            .as_raw()
            .iter()
            .zip(want.as_raw())
            .map(|(a, b)| (i32::from(*a) - i32::from(*b)).abs())
            .max()
            .unwrap_or(0);
        assert!(
            worst < 40,
            "upsampled image strays from the original: {worst}"
        );
        assert_eq!(up.get_pixel(5, 5)[0], 200);
        Ok(())
    }
}
