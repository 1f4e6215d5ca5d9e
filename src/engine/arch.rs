//! The VGG layer tables. torchvision numbers the `features` modules in order (conv, relu, …, pool),
//! and weight files name their tensors `features.{index}.weight/bias` after that numbering.

use std::fmt;

/// The supported VGG variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Arch {
    Vgg16,
    Vgg19,
}

/// One module of `features`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LayerKind {
    /// 3×3 convolution, stride 1, padding 1.
    Conv {
        in_channels: usize,
        out_channels: usize,
    },
    Relu,
    /// 2×2 max pooling, stride 2.
    Pool,
}

/// A module with its torchvision index and its conventional name (conv1_1, relu1_1, pool1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer {
    pub index: usize,
    pub name: String,
    pub kind: LayerKind,
}

impl Arch {
    pub fn name(self) -> &'static str {
        match self {
            Arch::Vgg16 => "vgg16",
            Arch::Vgg19 => "vgg19",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "vgg16" => Some(Arch::Vgg16),
            "vgg19" => Some(Arch::Vgg19),
            _ => None,
        }
    }

    /// Convolutions per block.
    fn block_depths(self) -> [usize; 5] {
        match self {
            Arch::Vgg16 => [2, 2, 3, 3, 3],
            Arch::Vgg19 => [2, 2, 4, 4, 4],
        }
    }

    /// Number of convolutions (13 or 16).
    pub fn conv_count(self) -> usize {
        self.block_depths().iter().sum()
    }

    /// All modules of `features`, in order.
    pub fn layers(self) -> Vec<Layer> {
        const WIDTHS: [usize; 5] = [64, 128, 256, 512, 512];
        let mut layers = Vec::new();
        let mut index = 0;
        let mut in_channels = 3;
        for (b, (&depth, &width)) in self.block_depths().iter().zip(WIDTHS.iter()).enumerate() {
            for c in 0..depth {
                let tag = format!("{}_{}", b + 1, c + 1);
                layers.push(Layer {
                    index,
                    name: format!("conv{tag}"),
                    kind: LayerKind::Conv {
                        in_channels,
                        out_channels: width,
                    },
                });
                layers.push(Layer {
                    index: index + 1,
                    name: format!("relu{tag}"),
                    kind: LayerKind::Relu,
                });
                index += 2;
                in_channels = width;
            }
            layers.push(Layer {
                index,
                name: format!("pool{}", b + 1),
                kind: LayerKind::Pool,
            });
            index += 1;
        }
        layers
    }

    /// `(index, out_channels, in_channels)` of every convolution: the expected weight shapes.
    pub fn conv_shapes(self) -> Vec<(usize, usize, usize)> {
        self.layers()
            .into_iter()
            .filter_map(|l| match l.kind {
                LayerKind::Conv {
                    in_channels,
                    out_channels,
                } => Some((l.index, out_channels, in_channels)),
                _ => None,
            })
            .collect()
    }

    /// ReLU layer names, the ones offered as content/style layers.
    pub fn relu_names(self) -> Vec<String> {
        self.layers()
            .into_iter()
            .filter(|l| l.kind == LayerKind::Relu)
            .map(|l| l.name)
            .collect()
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn torchvision_indices() {
        let l = Arch::Vgg16.layers();
        let find = |n: &str| l.iter().find(|x| x.name == n).map(|x| x.index);
        assert_eq!(find("relu1_1"), Some(1));
        assert_eq!(find("pool1"), Some(4));
        assert_eq!(find("relu4_2"), Some(20));
        assert_eq!(find("relu5_1"), Some(25));
        assert_eq!(find("pool5"), Some(30));
        let l = Arch::Vgg19.layers();
        let find = |n: &str| l.iter().find(|x| x.name == n).map(|x| x.index);
        assert_eq!(find("relu5_4"), Some(35));
        assert_eq!(find("pool5"), Some(36));
        assert_eq!(Arch::Vgg19.conv_count(), 16);
    }
}
