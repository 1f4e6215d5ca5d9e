//! Reading pictures people actually have (EXIF-rotated phone photos, 16-bit, grayscale, CMYK,
//! transparent PNGs) and writing results that never leave a half-written file behind.

use crate::settings::Settings;
use image::{DynamicImage, ImageDecoder, ImageReader, RgbImage, RgbaImage};
use std::io::{BufRead, BufReader, Cursor, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Largest side we decode; beyond this a header is more likely hostile than a photo.
pub const MAX_SIDE: u32 = 16_384;
/// Largest pixel count we decode (about 1 GB of 8-bit RGBA while decoding).
pub const MAX_PIXELS: u64 = 256 * 1024 * 1024;
/// Most bytes decoding one picture may take, the decoder's buffer and our RGB(A) copies
/// together: a 16384² 8-bit RGBA photo (1.75 GiB) fits, the same size at 16 bits or in float
/// does not, however few megabytes the file itself is.
pub const MAX_DECODE_BYTES: u64 = 2 << 30;
/// Atelier's settings are a few KB of JSON; a chunk that inflates beyond this is not ours.
pub const MAX_SETTINGS_TEXT: usize = 1 << 20;
/// The PNG iTXt keyword under which a result stores its settings.
pub const SETTINGS_KEYWORD: &str = "atelier:settings";

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("could not read {path}: {source}. Check that the file exists and is readable")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{what} is empty (0 bytes): choose a real image file")]
    Empty { what: String },
    #[error(
        "{what} is not an image Atelier can read (supported: PNG, JPEG, WebP, BMP, GIF, TIFF)"
    )]
    UnknownFormat { what: String },
    #[error("{what} is {width}×{height} pixels, larger than Atelier accepts ({MAX_SIDE} px per side, {} megapixels): scale it down first", MAX_PIXELS / 1_000_000)]
    TooLarge {
        what: String,
        width: u32,
        height: u32,
    },
    #[error("{what} is {width}×{height} pixels of {colour}: decoding it would take about {}, and Atelier decodes at most {} ({why}). Scale it down or save it as an 8-bit PNG or JPEG first", crate::sysmem::human(*need), crate::sysmem::human(*limit))]
    TooMuchMemory {
        what: String,
        width: u32,
        height: u32,
        colour: String,
        need: u64,
        limit: u64,
        why: &'static str,
    },
    #[error("{what} could not be decoded ({message}); the file may be truncated or corrupt: re-export or re-download it")]
    Decode { what: String, message: String },
    #[error("could not write {path}: {message}. Choose another folder or free some disk space; nothing was overwritten")]
    Write { path: PathBuf, message: String },
    #[error("{path} is not a PNG with Atelier settings: {message}")]
    Metadata { path: PathBuf, message: String },
}

/// Loads an image file as 8-bit RGB, upright, with transparency flattened onto white. Only
/// the first bytes are read to tell the format, and the decoded size is checked (in bytes)
/// before anything large is allocated.
pub fn load_image(path: &Path) -> Result<RgbImage, ImageError> {
    let what = path.display().to_string();
    decode(open_reader(path)?, &what)
}

/// Checks that `path` is an image Atelier could decode within its memory budget, from its
/// header alone; returns its size.
pub fn probe_image(path: &Path) -> Result<(u32, u32), ImageError> {
    let what = path.display().to_string();
    let decoder = checked_decoder(open_reader(path)?, &what)?;
    Ok(decoder.dimensions())
}

/// Loads an image from memory (drag and drop from a browser gives bytes, not a path).
pub fn load_image_bytes(bytes: &[u8]) -> Result<RgbImage, ImageError> {
    let what = "the dropped image".to_string();
    if bytes.is_empty() {
        return Err(ImageError::Empty { what });
    }
    let format =
        image::guess_format(bytes).map_err(|_| ImageError::UnknownFormat { what: what.clone() })?;
    // The decoders want an owned reader; a dropped file is a few MB.
    decode(
        ImageReader::with_format(Cursor::new(bytes.to_vec()), format),
        &what,
    )
}

type FileReader = ImageReader<BufReader<std::fs::File>>;

/// Opens `path` with its format told from the first bytes, so a multi-GB file that is no
/// image is refused without being read.
fn open_reader(path: &Path) -> Result<FileReader, ImageError> {
    let read_err = |source| ImageError::Read {
        path: path.to_path_buf(),
        source,
    };
    let what = path.display().to_string();
    let mut file = std::fs::File::open(path).map_err(read_err)?;
    let mut head = [0u8; 64];
    let mut n = 0;
    while n < head.len() {
        match file.read(&mut head[n..]).map_err(read_err)? {
            0 => break,
            k => n += k,
        }
    }
    if n == 0 {
        return Err(ImageError::Empty { what });
    }
    let format = image::guess_format(&head[..n]).map_err(|_| ImageError::UnknownFormat { what })?;
    file.seek(SeekFrom::Start(0)).map_err(read_err)?;
    Ok(ImageReader::with_format(BufReader::new(file), format))
}

/// The decoder, once its header passed the side, pixel and byte limits.
fn checked_decoder<R: BufRead + Seek + 'static>(
    reader: ImageReader<R>,
    what: &str,
) -> Result<impl ImageDecoder, ImageError> {
    let what = what.to_string();
    let decode_err = |e: image::ImageError| match e {
        image::ImageError::Unsupported(_) => ImageError::UnknownFormat { what: what.clone() },
        e => ImageError::Decode {
            what: what.clone(),
            message: e.to_string(),
        },
    };
    let mut decoder = reader.into_decoder().map_err(decode_err)?;
    let (width, height) = decoder.dimensions();
    if width == 0 || height == 0 {
        return Err(ImageError::Decode {
            what,
            message: "the image has no pixels".into(),
        });
    }
    if width > MAX_SIDE || height > MAX_SIDE || u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(ImageError::TooLarge {
            what,
            width,
            height,
        });
    }
    let need = decode_bytes(&decoder);
    let (limit, why) = match crate::sysmem::available_bytes() {
        Some(a) if (a as f64 * crate::sysmem::HEADROOM) < MAX_DECODE_BYTES as f64 => (
            (a as f64 * crate::sysmem::HEADROOM) as u64,
            "what this computer has available now",
        ),
        _ => (MAX_DECODE_BYTES, "its limit per picture"),
    };
    if need > limit {
        return Err(ImageError::TooMuchMemory {
            what,
            width,
            height,
            colour: format!("{:?}", decoder.original_color_type()),
            need,
            limit,
            why,
        });
    }
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(limit);
    decoder.set_limits(limits).map_err(decode_err)?;
    Ok(decoder)
}

/// The decoder's buffer plus the copies [`flatten`] and a rotation make.
fn decode_bytes(decoder: &impl ImageDecoder) -> u64 {
    let (w, h) = decoder.dimensions();
    let pixels = u64::from(w) * u64::from(h);
    let colour = decoder.color_type();
    let copies = match colour {
        image::ColorType::Rgb8 => 0,
        image::ColorType::Rgba8 => 3,
        c if c.has_alpha() => 4 + 3,
        _ => 3,
    };
    // EXIF rotations make one more RGB copy; counted always (the header may not say yet).
    decoder.total_bytes() + pixels * (copies + 3)
}

fn decode<R: BufRead + Seek + 'static>(
    reader: ImageReader<R>,
    what: &str,
) -> Result<RgbImage, ImageError> {
    let mut decoder = checked_decoder(reader, what)?;
    let orientation = decoder.orientation().ok();
    let mut img = DynamicImage::from_decoder(decoder).map_err(|e| ImageError::Decode {
        what: what.to_string(),
        message: e.to_string(),
    })?;
    if let Some(o) = orientation {
        img.apply_orientation(o);
    }
    Ok(flatten(img))
}

/// Converts any colour type to RGB8; transparent areas become white, as an artist would expect.
fn flatten(img: DynamicImage) -> RgbImage {
    if !img.color().has_alpha() {
        return img.into_rgb8();
    }
    let rgba: RgbaImage = img.into_rgba8();
    RgbImage::from_fn(rgba.width(), rgba.height(), |x, y| {
        let p = rgba.get_pixel(x, y).0;
        let a = u32::from(p[3]);
        let mix = |c: u8| ((u32::from(c) * a + 255 * (255 - a) + 127) / 255) as u8;
        image::Rgb([mix(p[0]), mix(p[1]), mix(p[2])])
    })
}

/// Scales so the longest side is `longest` (the other side floored, at least 1), bilinear.
/// An image already at that size is returned untouched so exact inputs stay exact.
pub fn resize_longest(img: &RgbImage, longest: u32) -> RgbImage {
    let (w, h) = img.dimensions();
    if w.max(h) == longest {
        return img.clone();
    }
    let (nw, nh) = scaled_dims(w, h, longest);
    image::imageops::resize(img, nw, nh, image::imageops::FilterType::Triangle)
}

/// Scales to exactly `w`×`h` with a Lanczos filter (sharper than [`resize_longest`]'s bilinear,
/// for pictures the network or optimizer made); an image already that size is returned as is.
pub fn resize_to(img: &RgbImage, w: u32, h: u32) -> RgbImage {
    if img.dimensions() == (w, h) {
        return img.clone();
    }
    image::imageops::resize(img, w, h, image::imageops::FilterType::Lanczos3)
}

/// The size [`resize_longest`] produces.
pub fn scaled_dims(w: u32, h: u32, longest: u32) -> (u32, u32) {
    let s = f64::from(longest) / f64::from(w.max(h));
    if w >= h {
        (longest, ((f64::from(h) * s) as u32).max(1))
    } else {
        (((f64::from(w) * s) as u32).max(1), longest)
    }
}

/// Writes a PNG atomically (temporary file in the same folder, then rename), with the run's
/// settings as an iTXt chunk so the result can be reproduced or reopened; the chunk names the
/// input files without revealing where they sit ([`Settings::for_sharing`]).
pub fn save_png(
    path: &Path,
    img: &RgbImage,
    settings: Option<&Settings>,
) -> Result<(), ImageError> {
    write_atomic(path, &encode_png(path, img, settings)?)
}

/// [`save_png`] that never replaces a file: when `path` exists, the picture goes to the first
/// free `name-2.png`, `name-3.png`…; returns the path written.
pub fn save_png_new(
    path: &Path,
    img: &RgbImage,
    settings: Option<&Settings>,
) -> Result<PathBuf, ImageError> {
    write_new(path, &encode_png(path, img, settings)?)
}

fn encode_png(
    path: &Path,
    img: &RgbImage,
    settings: Option<&Settings>,
) -> Result<Vec<u8>, ImageError> {
    let write_err = |message: String| ImageError::Write {
        path: path.to_path_buf(),
        message,
    };
    let mut buf = Vec::with_capacity(img.as_raw().len() / 2 + 1024);
    {
        let mut enc = png::Encoder::new(&mut buf, img.width(), img.height());
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        if let Some(s) = settings {
            let dir = match path.parent() {
                Some(d) if !d.as_os_str().is_empty() => d,
                _ => Path::new("."),
            };
            let json =
                serde_json::to_string(&s.for_sharing(dir)).map_err(|e| write_err(e.to_string()))?;
            enc.add_itxt_chunk(SETTINGS_KEYWORD.to_string(), json)
                .map_err(|e| write_err(e.to_string()))?;
        }
        let mut w = enc.write_header().map_err(|e| write_err(e.to_string()))?;
        w.write_image_data(img.as_raw())
            .map_err(|e| write_err(e.to_string()))?;
        w.finish().map_err(|e| write_err(e.to_string()))?;
    }
    Ok(buf)
}

/// `name.png`, then `name-2.png`, `name-3.png`… in the same folder.
pub fn numbered(path: &Path, n: u32) -> PathBuf {
    if n < 2 {
        return path.to_path_buf();
    }
    let stem = path
        .file_stem()
        .map_or_else(String::new, |s| s.to_string_lossy().into_owned());
    let name = match path.extension() {
        Some(e) => format!("{stem}-{n}.{}", e.to_string_lossy()),
        None => format!("{stem}-{n}"),
    };
    path.with_file_name(name)
}

/// Writes `bytes` to `path`, or to the first free [`numbered`] sibling if `path` exists; never
/// replaces a file, even one that appears meanwhile (the finished temporary file is linked in,
/// which fails on an existing name). Returns the path written.
pub fn write_new(path: &Path, bytes: &[u8]) -> Result<PathBuf, ImageError> {
    let write_err = |message: String| ImageError::Write {
        path: path.to_path_buf(),
        message,
    };
    let tmp = temp_sibling(path).map_err(write_err)?;
    let result = (|| -> std::io::Result<PathBuf> {
        write_synced(&tmp, bytes)?;
        for n in 1..10_000 {
            let candidate = numbered(path, n);
            match std::fs::hard_link(&tmp, &candidate) {
                Ok(()) => return Ok(candidate),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                // No hard links here (FAT, some network shares): check, then rename.
                Err(_) if !candidate.exists() => {
                    std::fs::rename(&tmp, &candidate)?;
                    return Ok(candidate);
                }
                Err(_) => continue,
            }
        }
        Err(std::io::Error::other("no free file name left"))
    })();
    let _ = std::fs::remove_file(&tmp);
    result.map_err(|e| write_err(e.to_string()))
}

fn temp_sibling(path: &Path) -> Result<PathBuf, String> {
    if path.is_dir() {
        return Err("that path is a folder, not a file name".into());
    }
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| "the path has no file name".to_string())?;
    Ok(dir.join(format!(
        ".{}.{}.tmp",
        name.to_string_lossy(),
        std::process::id()
    )))
}

fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut f = std::fs::File::create(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// Writes bytes to `path` through a temporary sibling and a rename, so a crash, a full disk or a
/// permission problem never leaves a truncated file where a good one was.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ImageError> {
    let write_err = |message: String| ImageError::Write {
        path: path.to_path_buf(),
        message,
    };
    let tmp = temp_sibling(path).map_err(write_err)?;
    let result = write_synced(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, path));
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(write_err(e.to_string()));
    }
    Ok(())
}

/// Reads the settings an Atelier PNG carries; `Ok(None)` for a PNG without them.
pub fn read_png_settings(path: &Path) -> Result<Option<Settings>, ImageError> {
    let meta_err = |message: String| ImageError::Metadata {
        path: path.to_path_buf(),
        message,
    };
    let file = std::fs::File::open(path).map_err(|source| ImageError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    // Text chunks count against this; ours are a few KB.
    let limits = png::Limits { bytes: 16 << 20 };
    let decoder = png::Decoder::new_with_limits(BufReader::new(file), limits);
    let reader = decoder.read_info().map_err(|e| meta_err(e.to_string()))?;
    let info = reader.info();
    let too_big = || {
        meta_err(format!(
            "its settings chunk inflates to more than {} MiB, and Atelier's are a few KB: the \
             file was not saved by Atelier or is damaged",
            MAX_SETTINGS_TEXT >> 20
        ))
    };
    let text = info
        .utf8_text
        .iter()
        .find(|c| c.keyword == SETTINGS_KEYWORD)
        .map(|c| {
            let mut c = c.clone();
            c.decompress_text_with_limit(MAX_SETTINGS_TEXT)
                .map_err(|_| too_big())?;
            c.get_text().map_err(|e| meta_err(e.to_string()))
        })
        .transpose()?
        .or_else(|| {
            info.uncompressed_latin1_text
                .iter()
                .find(|c| c.keyword == SETTINGS_KEYWORD)
                .map(|c| c.text.clone())
        });
    match text {
        None => Ok(None),
        Some(t) => serde_json::from_str(&t)
            .map(Some)
            .map_err(|e| meta_err(format!("the settings chunk is not valid: {e}"))),
    }
}
