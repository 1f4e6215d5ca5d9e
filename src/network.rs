//! A painting network ready to run: where the settings say the weights are, on the device they
//! ask for. This is the file and device work the engine leaves to its callers (the CLI and the
//! worker load through it alike).

use crate::engine::Vgg;
use crate::settings::Settings;
use std::sync::Arc;

/// The loaded VGG and the device it lives on.
pub struct Network {
    pub vgg: Arc<Vgg>,
    pub device: crate::device::Selected,
}

impl Network {
    /// Finds the weights (explicit path, then the usual places), picks the device, loads the VGG.
    pub fn load(settings: &Settings) -> crate::Result<Self> {
        let device = crate::device::select(settings.device, crate::engine::threads())?;
        let info = crate::weights::locate(settings.weights_path.as_deref())?;
        let vgg = Vgg::load(&info.path, &device.device, settings.preprocess)?;
        Ok(Self {
            vgg: Arc::new(vgg),
            device,
        })
    }
}
