//! The typed messages between the studio and the worker thread that owns the engine.
//! Plain data only: no candle tensors and no egui types cross this boundary.

pub use crate::engine::instant::Blend;
pub use crate::engine::LossBreakdown;
use crate::settings::{LossWeights, Settings};
use image::RgbImage;
use std::path::PathBuf;
use std::sync::Arc;

/// What a run starts from: the settings plus the already decoded images.
#[derive(Debug, Clone, Default)]
pub struct RunRequest {
    pub settings: Settings,
    pub content: Arc<RgbImage>,
    pub style: Arc<RgbImage>,
    /// Decoded `settings.extra_styles`, in the same order.
    pub extra_styles: Vec<Arc<RgbImage>>,
    /// Decoded `settings.mask` (white = style, black = content).
    pub mask: Option<Arc<image::GrayImage>>,
    /// Explicit starting picture (the studio's instant result, for "Refine"), resized to the
    /// first stage's size; replaces what `settings.init` would compute. `settings.init` should
    /// still say `Instant` so the exported PNG records where the run started.
    pub init_image: Option<Arc<RgbImage>>,
}

/// Commands the UI sends to the worker.
#[derive(Debug, Clone)]
pub enum Command {
    /// (Re)load the network: an explicit file, or the usual search path when `None`.
    LoadNetwork(Option<PathBuf>),
    /// (Re)load the network from a file remembered from an earlier session. Unlike an explicit
    /// file, one that no longer exists falls back to the usual search; `WeightsLoaded` then
    /// carries a `note` saying so.
    LoadSavedNetwork(PathBuf),
    /// Start a new run, stopping any current one.
    Start(Box<RunRequest>),
    Pause,
    Resume,
    /// New loss weights for the running optimization, applied from the next iteration.
    SetLossWeights(LossWeights),
    /// Stop the current run; the last frame stays available.
    Stop,
    /// Download a model's weights into the hub cache on a thread of its own (the engine stays
    /// free for runs), reporting `DownloadProgress` then one `DownloadFinished`; a successful
    /// download is loaded at once, as `LoadNetwork(Some(path))` would. Ignored while another
    /// download is running: that one's events keep coming.
    DownloadWeights(crate::weights::Model),
    /// Stop the running download; its `DownloadFinished` says `Cancelled`. The data received so
    /// far is kept and the next download of that model resumes from it.
    CancelDownload,
    /// Paint `content` in one pass with a feed-forward network (see [`InstantRequest`]). Only
    /// the newest matters: queued older ones are dropped. Runs between optimizer iterations, so
    /// a run in progress continues undisturbed (only slower by the instant's time).
    PaintInstant(Box<InstantRequest>),
    /// Render the 26 built-in styles on the picture at `sample` at longest side `size`, once: answered
    /// by `InstantThumbnails` (later requests for the same sample and size get the cached set).
    InstantThumbnails {
        sample: PathBuf,
        size: u32,
    },
    /// Train a style brush (see [`TrainRequest`]). Refused with `TrainingEvent::Refused` while
    /// another training is loaded (stop it first). A paint run in progress is paused (its
    /// `Paused` event follows, with `TrainingEvent::Started.note` saying why): the two never
    /// share the cores. Needs a loaded network (`LoadNetwork`).
    StartTraining(Box<TrainRequest>),
    /// Pause the training (it keeps its place; nothing is computed until `ResumeTraining`).
    PauseTraining,
    /// Resume a paused training; a paint run in progress is paused first, as for `StartTraining`.
    ResumeTraining,
    /// Stop the training: the brush is saved (with a thumbnail) and `TrainingEvent::Finished`
    /// says where.
    StopTraining,
    /// Paint the training previews on this picture from now on, at longest side `size`.
    SetTrainingPreview {
        content: Arc<RgbImage>,
        size: u32,
    },
    /// List the user's brush collection (`crate::brushes`); answered by `Event::Brushes`.
    ListBrushes,
    /// Leave the worker loop (sent when the window closes); a running download is cancelled.
    Shutdown,
}

/// How long a training runs: a time budget (active seconds, pauses excluded) or a step count,
/// over the whole brush (a resumed brush counts what it already had).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TrainBudget {
    Seconds(f64),
    Steps(u64),
}

/// A brush training: the painting and photos already decoded, the engine's settings, where the
/// brush goes (`brushes::dir()/NAME.safetensors` puts it in the palette's collection).
#[derive(Debug, Clone)]
pub struct TrainRequest {
    /// Echoed in every `TrainingEvent`.
    pub id: u64,
    pub painting: Arc<RgbImage>,
    /// The painting's file name, stored in the brush.
    pub painting_name: String,
    /// Training photos (at least one); the studio passes the bundled samples or a folder's.
    pub photos: Vec<Arc<RgbImage>>,
    pub config: crate::engine::brush::TrainConfig,
    pub budget: TrainBudget,
    /// The brush file; checkpoints overwrite it, its training state goes beside it (`.train`),
    /// and the thumbnail at the end (`.png`).
    pub out: PathBuf,
    /// Continue the brush at `out` (its own settings win over `config`).
    pub resume: bool,
    /// The picture previews are painted on (the studio's content), at longest side `preview_size`.
    pub preview: Option<Arc<RgbImage>>,
    pub preview_size: u32,
    pub preview_every: std::time::Duration,
}

/// What a training says when it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct BrushTraining {
    /// Steps and seconds already trained (a resumed brush), the loss curve so far.
    pub steps: u64,
    pub seconds: f64,
    pub curve: Vec<crate::engine::brush::LossPoint>,
    pub parameters: usize,
    /// The fraction of the budget spent distilling (0 when the teacher is missing).
    pub distill: f32,
    pub discriminator: bool,
}

/// The training's events, inside [`Event::Training`].
#[derive(Debug, Clone)]
pub enum TrainingEvent {
    Started {
        id: u64,
        info: BrushTraining,
        /// E.g. that the paint run was paused to free the cores, or that the teacher was missing.
        note: Option<String>,
    },
    /// After every step: its losses (append to the curve), the share of the budget used.
    Progress {
        id: u64,
        point: crate::engine::brush::LossPoint,
        progress: f64,
        steps_per_second: f64,
        seconds: f64,
        seconds_left: f64,
    },
    /// The generator's picture of the preview content (every `preview_every`).
    Preview {
        id: u64,
        step: u64,
        image: Arc<RgbImage>,
    },
    /// A checkpoint was written to `path` (every minute).
    Checkpoint {
        id: u64,
        step: u64,
        path: PathBuf,
    },
    /// `reason`: why, when the worker paused it (a paint run started).
    Paused {
        id: u64,
        reason: Option<String>,
    },
    Resumed {
        id: u64,
    },
    /// A `StartTraining`/`ResumeTraining` that can't be done now; `message` says why and what to do.
    Refused {
        message: String,
    },
    /// The training ended: `path` is the saved brush (None when saving failed or it never
    /// started; `message` says why).
    Finished {
        id: u64,
        reason: FinishReason,
        step: u64,
        seconds: f64,
        path: Option<PathBuf>,
        message: Option<String>,
    },
}

/// One brush of the collection, as the palette shows it.
#[derive(Debug, Clone)]
pub struct BrushEntry {
    pub name: String,
    pub path: PathBuf,
    /// The thumbnail saved beside the brush, decoded.
    pub thumbnail: Option<Arc<RgbImage>>,
    /// The painting it was trained on (file name) and for how long.
    pub painting: String,
    pub steps: u64,
    pub seconds: f64,
}

/// The collection: the usable brushes, the damaged files with why, and where they live (`None`
/// when the user has no data folder, said in `problem`).
#[derive(Debug, Clone, Default)]
pub struct BrushList {
    pub brushes: Vec<BrushEntry>,
    pub damaged: Vec<(PathBuf, String)>,
    pub dir: Option<PathBuf>,
    pub problem: Option<String>,
}

/// What an instant picture is painted with.
#[derive(Debug, Clone)]
pub enum InstantSource {
    /// Any style image through the arbitrary network. `strength` (0..1) moves its style vector
    /// towards the content's own; the vectors are cached per image, so a strength change only
    /// reruns the transformer.
    Style { image: Arc<RgbImage>, strength: f32 },
    /// A blend of the 26 built-in styles; `strength` mixes the pixels with the photo.
    Builtin { blend: Blend, strength: f32 },
    /// A trained brush file; `strength` mixes the pixels with the photo. The network is kept
    /// and reloaded only when the file changes (a training's checkpoints rewrite it).
    Brush { path: PathBuf, strength: f32 },
}

/// One instant picture: `content` painted at longest side `size`.
#[derive(Debug, Clone)]
pub struct InstantRequest {
    /// Echoed in `InstantReady`, so the UI can tell which request an answer belongs to.
    pub id: u64,
    pub content: Arc<RgbImage>,
    pub source: InstantSource,
    pub size: u32,
}

/// Per-iteration numbers for the progress bar and the loss curve.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    /// Iterations completed so far (1-based after the first one), all stages together.
    pub iteration: u32,
    /// Planned iterations over all stages (see `engine::schedule` for the split).
    pub iterations: u32,
    /// Loss+gradient evaluations so far, line searches included.
    pub evaluations: u32,
    pub losses: LossBreakdown,
    /// Median seconds per iteration so far (of the current stage).
    pub seconds_per_iteration: f64,
    /// Seconds until the run is done at this pace, the stages still to come included.
    pub seconds_left: f64,
    /// Multi-scale stage this iteration ran in, 1-based, of `stages` (1 of 1 for a single-scale
    /// run). The frame after a stage's last iteration is already the next stage's, larger.
    pub stage: u32,
    pub stages: u32,
}

/// What the network offers, shown as layer checkboxes.
#[derive(Debug, Clone, PartialEq)]
pub struct NetworkInfo {
    /// "vgg16" or "vgg19".
    pub arch: String,
    pub path: PathBuf,
    /// ReLU layer names in network order (relu1_1, relu1_2, …).
    pub layers: Vec<String>,
    /// Human-readable device actually used, e.g. "CPU (2 threads)".
    pub device: String,
    /// Something the artist should know about how the file was found, e.g. that the saved
    /// file is gone and another one was used instead.
    pub note: Option<String>,
}

/// Why a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinishReason {
    Completed,
    Stopped,
    Failed,
}

/// How a weights download ended.
#[derive(Debug, Clone, PartialEq)]
pub enum DownloadOutcome {
    /// The file is in place; the worker loads it next (`WeightsLoaded` or `WeightsMissing`).
    Done(PathBuf),
    /// `CancelDownload` stopped it; `message` says where the partial data is kept.
    Cancelled { message: String },
    /// `message` says what went wrong and how to get the weights by hand.
    Failed { message: String },
}

/// Events the worker sends back. Frames travel through [`FrameSlot`] so stale ones never queue up.
#[derive(Debug, Clone)]
pub enum Event {
    /// The devices this machine can compute on, `(choice, usable, label)`: probed once by the
    /// worker when it starts, so the UI thread never waits on a GPU driver.
    Devices(Vec<(crate::settings::DeviceChoice, bool, String)>),
    WeightsLoaded(NetworkInfo),
    /// No usable weights: `message` says where we looked and how to get them.
    WeightsMissing {
        message: String,
    },
    /// `width`×`height` is the final output's size (a multi-scale run's frames start smaller);
    /// `iterations` is the planned total over all stages.
    Started {
        width: u32,
        height: u32,
        iterations: u32,
    },
    Progress(Progress),
    /// A newer frame is waiting in the frame slot.
    FrameReady {
        iteration: u32,
    },
    Paused,
    Resumed,
    /// Something went wrong; `message` says what and what to do. The run may continue or end
    /// (a `Finished` follows when it ends).
    Error {
        message: String,
    },
    Finished {
        iteration: u32,
        reason: FinishReason,
    },
    /// A weights download advanced (at most ten per second, plus the last one).
    DownloadProgress {
        /// Bytes present locally, resumed ones included.
        downloaded: u64,
        /// Bytes the download needs in total (only the features, not the whole hub file).
        total: u64,
        /// Average speed of this download so far.
        bytes_per_second: f64,
        eta_seconds: Option<f64>,
    },
    DownloadFinished(DownloadOutcome),
    /// The instant picture of request `id`; `millis` is the worker's compute time for it
    /// (networks loaded on first use included).
    InstantReady {
        id: u64,
        image: Arc<RgbImage>,
        millis: u64,
    },
    /// Request `id` failed; `message` says what and what to do (missing assets: where they
    /// were looked for).
    InstantFailed {
        id: u64,
        message: String,
    },
    /// The built-in styles' swatches, in index order (26).
    InstantThumbnails(Vec<Arc<RgbImage>>),
    /// Brush training (see [`TrainingEvent`]).
    Training(TrainingEvent),
    /// The brush collection, by name (see `Command::ListBrushes`).
    Brushes(BrushList),
}

/// The newest preview image; the worker overwrites it, the UI takes it.
#[derive(Debug, Clone)]
pub struct Frame {
    pub iteration: u32,
    pub image: Arc<RgbImage>,
}

/// Latest-wins mailbox for frames.
#[derive(Debug, Clone, Default)]
pub struct FrameSlot(Arc<std::sync::Mutex<Option<Frame>>>);

impl FrameSlot {
    pub fn put(&self, frame: Frame) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(frame);
    }
    pub fn take(&self) -> Option<Frame> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}
