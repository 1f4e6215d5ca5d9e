//! Atelier: neural style transfer with a live studio, a headless CLI, one native binary.

pub mod assets;
pub mod brushes;
pub mod device;
pub mod engine;
pub mod error;
pub mod gpu;
pub mod image_io;
pub mod network;
pub mod presets;
pub mod settings;
pub mod studio;
pub mod sysmem;
pub mod weights;
pub mod worker;

pub use error::{Error, Result};
pub use settings::Settings;
