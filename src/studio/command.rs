//! Everything that changes the studio, as one [`Command`] type: what the artist asks for through
//! a panel, a shortcut or a drop, and what other threads report (the worker's events and frames,
//! finished decodes, dialogs and exports). Panels only return commands; `StudioApp::execute`
//! (app/execute.rs) is the one place that carries them out, so every change to shared state and
//! every message to the worker can be found there.

use super::decode::{LoadResult, Source};
use super::dialogs::{Outcome, Purpose};
use super::export::Saved;
use super::notices::{Level, Topic};
use super::slots::SlotKind;
use super::training::{Gathered, TrainPlan};
use crate::settings::Settings;
use crate::weights::Model;
use crate::worker::{Event, Frame, InstantRequest};
use image::RgbImage;
use std::path::PathBuf;
use std::sync::Arc;

/// One thing to do. The artist's requests come first, then the reports from other threads.
pub(crate) enum Command {
    // ----- the run ------------------------------------------------------------------------------
    /// Start (or restart) painting with the current settings.
    Start,
    /// Start painting from the instant picture (the Instant panel's Refine).
    Refine,
    /// Pause a running run, resume a paused one.
    TogglePause,
    Stop,

    // ----- settings -----------------------------------------------------------------------------
    /// The controls edited the settings; this is the whole new value.
    EditSettings(Box<Settings>),
    /// A built-in preset (index into `presets::BUILT_IN`) adjusts the settings.
    ApplyPreset(usize),
    /// Open the settings of an Atelier PNG or a preset.
    LoadSettingsFile(PathBuf),
    /// Write the settings as a preset; `confirmed`: the save dialog asked before replacing.
    SavePreset {
        path: PathBuf,
        confirmed: bool,
    },

    // ----- images -------------------------------------------------------------------------------
    LoadImage(SlotKind, Source),
    AddStyleSlot,
    /// Remove an extra style slot, or empty the mask.
    RemoveSlot(SlotKind),
    /// A style's blend weight (the main style's or an extra's).
    SetBlendWeight(SlotKind, f32),

    // ----- the network --------------------------------------------------------------------------
    LoadNetwork(PathBuf),
    DownloadWeights(Model),
    CancelDownload,

    // ----- files --------------------------------------------------------------------------------
    OpenDialog(Purpose),
    /// Save the picture on screen; `confirmed`: the save dialog asked before replacing.
    Export {
        path: PathBuf,
        confirmed: bool,
    },

    // ----- history ------------------------------------------------------------------------------
    TakeSnapshot,
    /// Start or end comparing a snapshot with the picture on screen.
    CompareSnapshot(u64),
    RestoreSnapshot(u64),

    // ----- the preview --------------------------------------------------------------------------
    FitPicture,
    ActualSize,
    /// Show the photo instead of the result while a key is held.
    Peek(bool),
    /// The Instant panel switched mode: show the other picture.
    ShowMode,
    /// Ask the worker for an instant picture.
    PaintInstant(Box<InstantRequest>),
    /// Ask the worker for the built-in styles' swatches.
    DrawSwatches {
        sample: PathBuf,
        size: u32,
    },

    // ----- brushes ------------------------------------------------------------------------------
    /// Ask the worker for the brush collection (the palette's Brushes).
    ListBrushes,
    /// Train a brush on the painting in the Style slot.
    StartTraining(TrainPlan),
    /// Pause a running training, resume a paused one.
    TogglePauseTraining,
    /// Stop the training, keeping the brush as it is.
    StopTraining,
    /// The folder of photos the next training learns from.
    SetTrainPhotos(PathBuf),
    /// The training's previews paint this content from now on (it changed mid-training).
    TrainingPreview(Arc<RgbImage>),

    // ----- notices ------------------------------------------------------------------------------
    Notify(Level, Topic, String),
    DismissNotice(u64),

    // ----- reports from other threads -----------------------------------------------------------
    /// An event from the worker, in the order it was sent.
    Worker(Event),
    /// The newest frame of the run.
    RunFrame(Frame),
    /// A new instant picture to show (Instant mode).
    InstantPicture(Arc<RgbImage>),
    /// A decode finished.
    ImageLoaded(LoadResult),
    DialogClosed(Purpose, Outcome),
    ExportFinished(Result<Saved, String>),
    /// The photos for a training were decoded (or couldn't be).
    TrainPhotosGathered(Gathered),
    /// The worker thread is gone.
    WorkerDied,
}

impl std::fmt::Debug for Command {
    /// Names only: some commands carry whole pictures.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match self {
            Command::Start => "Start",
            Command::Refine => "Refine",
            Command::TogglePause => "TogglePause",
            Command::Stop => "Stop",
            Command::EditSettings(_) => "EditSettings",
            Command::ApplyPreset(_) => "ApplyPreset",
            Command::LoadSettingsFile(_) => "LoadSettingsFile",
            Command::SavePreset { .. } => "SavePreset",
            Command::LoadImage(..) => "LoadImage",
            Command::AddStyleSlot => "AddStyleSlot",
            Command::RemoveSlot(_) => "RemoveSlot",
            Command::SetBlendWeight(..) => "SetBlendWeight",
            Command::LoadNetwork(_) => "LoadNetwork",
            Command::DownloadWeights(_) => "DownloadWeights",
            Command::CancelDownload => "CancelDownload",
            Command::OpenDialog(_) => "OpenDialog",
            Command::Export { .. } => "Export",
            Command::TakeSnapshot => "TakeSnapshot",
            Command::CompareSnapshot(_) => "CompareSnapshot",
            Command::RestoreSnapshot(_) => "RestoreSnapshot",
            Command::FitPicture => "FitPicture",
            Command::ActualSize => "ActualSize",
            Command::Peek(_) => "Peek",
            Command::ShowMode => "ShowMode",
            Command::PaintInstant(_) => "PaintInstant",
            Command::DrawSwatches { .. } => "DrawSwatches",
            Command::ListBrushes => "ListBrushes",
            Command::StartTraining(_) => "StartTraining",
            Command::TogglePauseTraining => "TogglePauseTraining",
            Command::StopTraining => "StopTraining",
            Command::SetTrainPhotos(_) => "SetTrainPhotos",
            Command::TrainingPreview(_) => "TrainingPreview",
            Command::TrainPhotosGathered(_) => "TrainPhotosGathered",
            Command::Notify(..) => "Notify",
            Command::DismissNotice(_) => "DismissNotice",
            Command::Worker(_) => "Worker",
            Command::RunFrame(_) => "RunFrame",
            Command::InstantPicture(_) => "InstantPicture",
            Command::ImageLoaded(_) => "ImageLoaded",
            Command::DialogClosed(..) => "DialogClosed",
            Command::ExportFinished(_) => "ExportFinished",
            Command::WorkerDied => "WorkerDied",
        };
        f.write_str(name)
    }
}
