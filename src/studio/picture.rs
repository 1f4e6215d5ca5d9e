//! Pictures as egui sees them: downscaled copies for textures, and the texture options the
//! preview uses. Shared by the slots, the history strip and the canvas, so a picture is
//! converted one way everywhere.

use egui::{ColorImage, TextureOptions};
use image::RgbImage;

/// Crisp pixels when zoomed in, smooth when zoomed out.
pub(crate) const FRAME_TEXTURE: TextureOptions = TextureOptions {
    magnification: egui::TextureFilter::Nearest,
    minification: egui::TextureFilter::Linear,
    wrap_mode: egui::TextureWrapMode::ClampToEdge,
    mipmap_mode: Some(egui::TextureFilter::Linear),
};

/// Downscales (never upscales) to fit `max_side` and converts for egui.
pub(crate) fn to_color_image(img: &RgbImage, max_side: u32) -> ColorImage {
    let (w, h) = img.dimensions();
    let long = w.max(h).max(1);
    if long <= max_side {
        return ColorImage::from_rgb([w as usize, h as usize], img.as_raw());
    }
    let scale = max_side as f32 / long as f32;
    let (tw, th) = (
        ((w as f32 * scale).round() as u32).max(1),
        ((h as f32 * scale).round() as u32).max(1),
    );
    let small = image::imageops::thumbnail(img, tw, th);
    ColorImage::from_rgb([tw as usize, th as usize], small.as_raw())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pictures_shrink_to_fit_and_never_grow() {
        let img = RgbImage::new(400, 100);
        assert_eq!(to_color_image(&img, 200).size, [200, 50]);
        assert_eq!(to_color_image(&img, 1000).size, [400, 100]);
    }
}
