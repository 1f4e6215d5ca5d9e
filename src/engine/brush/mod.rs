//! Style brushes: a small feed-forward generator trained once per painting (Johnson et al. 2016,
//! Ulyanov et al. 2016) with the VGG content and Gram style losses, optionally sharpened by a
//! patch discriminator, then used like the instant networks: one fast pass per picture.
//!
//! No threads, no files searched: the caller hands in decoded pictures, the VGG, the teacher,
//! and decides when to step, checkpoint and stop (see [`Trainer::step`]).

pub mod data;
pub mod discriminator;
pub mod file;
pub mod generator;
pub mod nn;
pub mod optim;
pub mod paint;
pub mod train;

pub use file::{state_path, Brush, BrushError, BrushInfo, TrainState};
pub use generator::{Fast, GenArch, Generator};
pub use nn::Border;
pub use paint::BrushNet;
pub use train::{LossPoint, StepKind, Teacher, TrainConfig, TrainCounters, Trainer};
