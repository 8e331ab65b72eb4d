//! Checkpoints: named tensors plus a small JSON config in one [safetensors](https://huggingface.co/docs/safetensors)
//! file, written atomically.
//!
//! The format is PyTorch's: tensor names are `state_dict()` names (`weight_ih_l0`, `rnn.bias_hh_l1`, ...),
//! so a checkpoint written here loads in Python with `safetensors.torch.load_file`, and one written by
//! `safetensors.torch.save_file(model.state_dict(), path)` loads here. The library writes `F64` tensors;
//! it reads `F64`, `F32` (PyTorch's default), `F16`, `BF16` and integer tensors, converting them to `f64`.
//! The config is stored as a JSON string under the key `"config"` of the safetensors `__metadata__`.
//!
//! Saving writes a temporary file next to the target, flushes it to disk and renames it over the target,
//! so a crash or a kill in the middle of a save leaves either the old checkpoint or the new one, never a
//! half-written file.
//!
//! ```
//! use rnn::checkpoint::{self, Checkpoint};
//! use rnn::prelude::*;
//!
//! let dir = std::env::temp_dir().join(format!("rnn-doc-checkpoint-{}", std::process::id()));
//! std::fs::create_dir_all(&dir).unwrap();
//! let path = dir.join("elman.safetensors");
//!
//! let model = Elman::new(3, 4, &mut rnn::init::rng(0));
//! let config = serde_json::json!({ "cell": "rnn", "input_size": 3, "hidden_size": 4 });
//! checkpoint::save_params(&path, &model, Some(&config)).unwrap();
//!
//! let ckpt = Checkpoint::load(&path).unwrap();
//! assert_eq!(ckpt.config.as_ref(), Some(&config));
//! let mut restored = Elman::new(3, 4, &mut rnn::init::rng(1)); // different weights...
//! ckpt.load_into(&mut restored).unwrap();
//! assert_eq!(restored, model); // ...until loaded
//! # std::fs::remove_dir_all(&dir).unwrap();
//! ```
//!
//! # Resuming training
//! To resume bit-identically, store the optimiser's [`crate::optim::Optimizer::state`] in the same file
//! under a prefix (for example `optim.`), then split it off with [`Checkpoint::take_prefix`] before
//! [`Checkpoint::load_into`] checks the model's tensors.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use ndarray::{ArrayD, ArrayViewD, IxDyn};
use safetensors::tensor::{Dtype, SafeTensorError, SafeTensors, View};

use crate::error::{Error, Result};
use crate::params::Parameters;

/// The `__metadata__` key under which the JSON config is stored.
pub const CONFIG_KEY: &str = "config";

// ---------------------------------------------------------------------------------------------------------
// Saving
// ---------------------------------------------------------------------------------------------------------

/// Writes `tensors` (as little-endian `F64`, under the given names) and `config` (as JSON in the metadata)
/// to `path`, atomically: the data goes to a uniquely named temporary file in the same directory, which is
/// flushed to disk and then renamed over `path`. On any error the file previously at `path` is untouched and
/// the temporary file is removed.
///
/// Errors: [`Error::InvalidTensorName`] for a duplicate name or the reserved name `__metadata__` (nothing is
/// written); [`Error::Io`] if the directory does not exist, the disk is full, `path` is a directory, ...
pub fn save(
    path: &Path,
    tensors: &[(String, ArrayViewD<'_, f64>)],
    config: Option<&serde_json::Value>,
) -> Result<()> {
    let bytes = encode(path, tensors, config)?;
    crate::files::write_atomic(path, &bytes)
}

/// [`save`] for every parameter of `model`, under the model's own names.
pub fn save_params(
    path: &Path,
    model: &dyn Parameters,
    config: Option<&serde_json::Value>,
) -> Result<()> {
    save(path, &model.params(), config)
}

/// A tensor in the form safetensors writes: its shape and its elements as little-endian f64 bytes.
struct F64Bytes {
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

impl View for &F64Bytes {
    fn dtype(&self) -> Dtype {
        Dtype::F64
    }

    fn shape(&self) -> &[usize] {
        &self.shape
    }

    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.bytes)
    }

    fn data_len(&self) -> usize {
        self.bytes.len()
    }
}

/// The whole safetensors file as bytes.
fn encode(
    path: &Path,
    tensors: &[(String, ArrayViewD<'_, f64>)],
    config: Option<&serde_json::Value>,
) -> Result<Vec<u8>> {
    let mut seen = BTreeSet::new();
    for (name, _) in tensors {
        if name == "__metadata__" {
            return Err(Error::InvalidTensorName {
                name: name.clone(),
                reason: "safetensors reserves this name for the file's metadata".into(),
            });
        }
        if !seen.insert(name.as_str()) {
            return Err(Error::InvalidTensorName {
                name: name.clone(),
                reason: "two tensors have this name".into(),
            });
        }
    }
    let owned: Vec<(&str, F64Bytes)> = tensors
        .iter()
        .map(|(name, t)| {
            // `iter()` walks in logical (row-major) order whatever the memory layout.
            let bytes = t.iter().flat_map(|v| v.to_le_bytes()).collect();
            let shape = t.shape().to_vec();
            (name.as_str(), F64Bytes { shape, bytes })
        })
        .collect();
    let metadata = config.map(|c| HashMap::from([(CONFIG_KEY.to_string(), c.to_string())]));
    safetensors::serialize(owned.iter().map(|(n, t)| (*n, t)), &metadata).map_err(|e| Error::Io {
        action: "encode",
        path: path.to_path_buf(),
        source: io::Error::other(e.to_string()),
    })
}

// ---------------------------------------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------------------------------------

/// The contents of a checkpoint file: its tensors (converted to `f64`) and its config.
#[derive(Clone, Debug, PartialEq)]
pub struct Checkpoint {
    /// Every tensor in the file, by name.
    pub tensors: BTreeMap<String, ArrayD<f64>>,
    /// The JSON config stored with the tensors, if any.
    pub config: Option<serde_json::Value>,
    /// The file it was read from (used in error messages).
    pub path: PathBuf,
}

impl Checkpoint {
    /// Reads a safetensors file.
    ///
    /// Errors: [`Error::Io`] if the file cannot be read (missing, a directory, ...);
    /// [`Error::CorruptCheckpoint`], with the reason, if it is not a complete safetensors file, if its
    /// `config` metadata is not JSON, or if a tensor has a type that is not a number.
    pub fn load(path: &Path) -> Result<Checkpoint> {
        let bytes = fs::read(path).map_err(|source| Error::Io {
            action: "read",
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_bytes(&bytes, path)
    }

    /// Parses the bytes of a safetensors file; `path` is only used in error messages.
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Checkpoint> {
        let corrupt = |reason: String| Error::CorruptCheckpoint {
            path: path.to_path_buf(),
            reason,
        };
        if bytes.is_empty() {
            return Err(corrupt("the file is empty".into()));
        }
        // `read_metadata` checks the header and that every tensor's byte range lies inside the file.
        let (header_len, metadata) =
            SafeTensors::read_metadata(bytes).map_err(|e| corrupt(describe(e)))?;
        let data = &bytes[8 + header_len..];

        let config = match metadata.metadata().as_ref().and_then(|m| m.get(CONFIG_KEY)) {
            Some(text) => Some(serde_json::from_str(text).map_err(|e| {
                corrupt(format!(
                    "its `{CONFIG_KEY}` metadata is not valid JSON ({e})"
                ))
            })?),
            None => None,
        };

        let mut tensors = BTreeMap::new();
        for (name, info) in metadata.tensors() {
            let (start, end) = info.data_offsets;
            let values = to_f64(info.dtype, &data[start..end]).ok_or_else(|| {
                corrupt(format!(
                    "tensor `{name}` has type {:?}, which cannot be read as numbers \
                     (supported: F64, F32, F16, BF16 and integers)",
                    info.dtype
                ))
            })?;
            let array = ArrayD::from_shape_vec(IxDyn(&info.shape), values).map_err(|e| {
                corrupt(format!(
                    "tensor `{name}` has shape {:?} but {} values ({e})",
                    info.shape,
                    (end - start) / info.dtype.size().max(1)
                ))
            })?;
            tensors.insert(name, array);
        }
        Ok(Checkpoint {
            tensors,
            config,
            path: path.to_path_buf(),
        })
    }

    /// The tensor called `name`, if the checkpoint has one.
    pub fn get(&self, name: &str) -> Option<&ArrayD<f64>> {
        self.tensors.get(name)
    }

    /// The names of all tensors, in sorted order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.tensors.keys().map(String::as_str)
    }

    /// Writes this checkpoint (tensors and config) to `path` with [`save`].
    pub fn save(&self, path: &Path) -> Result<()> {
        let views: Vec<(String, ArrayViewD<'_, f64>)> = self
            .tensors
            .iter()
            .map(|(n, t)| (n.clone(), t.view()))
            .collect();
        save(path, &views, self.config.as_ref())
    }

    /// Removes the tensors whose names start with `prefix` and returns them with the prefix stripped, in
    /// name order. Use it to split optimiser state (saved as `optim.exp_avg.weight_ih`, ...) from the
    /// model's tensors before [`Checkpoint::load_into`].
    pub fn take_prefix(&mut self, prefix: &str) -> Vec<(String, ArrayD<f64>)> {
        let names: Vec<String> = self
            .tensors
            .keys()
            .filter(|n| n.starts_with(prefix))
            .cloned()
            .collect();
        names
            .into_iter()
            .map(|n| {
                let t = self.tensors.remove(&n).expect("name listed above");
                (n[prefix.len()..].to_string(), t)
            })
            .collect()
    }

    /// Copies the checkpoint's tensors into `model`, matching them by name.
    ///
    /// All or nothing: it first checks that every parameter of the model has a tensor of the same shape
    /// ([`Error::MissingTensor`], [`Error::ShapeMismatch`]) and that the checkpoint has no tensor the model
    /// does not use ([`Error::UnexpectedTensors`]); only then does it assign. A failed load leaves the
    /// model unchanged.
    pub fn load_into(&self, model: &mut dyn Parameters) -> Result<()> {
        self.load_into_with_prefix(model, "")
    }

    /// [`Checkpoint::load_into`] for a model that is part of a larger network: the model's parameter `name`
    /// is read from the tensor `prefix + name` (say `rnn.weight_ih_l0` for prefix `rnn.`), and tensors whose
    /// names do not start with `prefix` (the rest of the network) are ignored.
    pub fn load_into_with_prefix(&self, model: &mut dyn Parameters, prefix: &str) -> Result<()> {
        // Check everything first ...
        let mut used = BTreeSet::new();
        for (name, p) in model.params() {
            let full = format!("{prefix}{name}");
            let Some(t) = self.tensors.get(&full) else {
                return Err(Error::MissingTensor {
                    path: self.path.clone(),
                    name: full,
                    available: self.list_names(prefix),
                });
            };
            if t.shape() != p.shape() {
                return Err(Error::ShapeMismatch {
                    path: self.path.clone(),
                    name: full,
                    expected: p.shape().to_vec(),
                    found: t.shape().to_vec(),
                });
            }
            used.insert(full);
        }
        let extra: Vec<&str> = self
            .names()
            .filter(|n| n.starts_with(prefix) && !used.contains(*n))
            .collect();
        if !extra.is_empty() {
            return Err(Error::UnexpectedTensors {
                path: self.path.clone(),
                names: extra.join(", "),
            });
        }
        // ... then assign.
        for (name, mut p) in model.params_mut() {
            p.assign(&self.tensors[&format!("{prefix}{name}")]);
        }
        Ok(())
    }

    /// The tensor names starting with `prefix`, comma-separated, shortened if there are many.
    fn list_names(&self, prefix: &str) -> String {
        const SHOWN: usize = 16;
        let names: Vec<&str> = self.names().filter(|n| n.starts_with(prefix)).collect();
        if names.is_empty() {
            return if prefix.is_empty() {
                "no tensors".into()
            } else {
                format!("no tensors starting with `{prefix}`")
            };
        }
        let mut list = names[..names.len().min(SHOWN)].join(", ");
        if names.len() > SHOWN {
            list.push_str(&format!(" and {} more", names.len() - SHOWN));
        }
        list
    }
}

/// A safetensors parse error in plain words.
fn describe(e: SafeTensorError) -> String {
    match e {
        SafeTensorError::HeaderTooSmall => {
            "it is shorter than the 8 bytes that start every safetensors file".into()
        }
        SafeTensorError::HeaderTooLarge | SafeTensorError::InvalidHeaderLength => {
            "its first 8 bytes do not give a plausible header length (not a safetensors file, or cut short)"
                .into()
        }
        SafeTensorError::InvalidHeader => "its header is not UTF-8 text".into(),
        SafeTensorError::InvalidHeaderStart | SafeTensorError::InvalidHeaderDeserialization => {
            "its header is not the JSON table of tensors safetensors expects".into()
        }
        SafeTensorError::MetadataIncompleteBuffer => {
            "its size does not match the tensors its header lists (the file is truncated or has extra bytes)"
                .into()
        }
        SafeTensorError::InvalidOffset(name) => {
            format!("tensor `{name}` has data offsets that overlap or leave gaps")
        }
        SafeTensorError::TensorInvalidInfo => {
            "a tensor's shape and type do not match the size of its data".into()
        }
        SafeTensorError::ValidationOverflow => "a tensor's shape is impossibly large".into(),
        other => format!("safetensors reports {other:?}"),
    }
}

/// Decodes little-endian elements of `dtype` to f64; `None` for types that are not numbers (FP8, ...).
fn to_f64(dtype: Dtype, bytes: &[u8]) -> Option<Vec<f64>> {
    fn each<const N: usize>(bytes: &[u8], f: impl Fn([u8; N]) -> f64) -> Vec<f64> {
        bytes
            .chunks_exact(N)
            .map(|c| f(c.try_into().expect("chunks_exact gives N bytes")))
            .collect()
    }
    Some(match dtype {
        Dtype::F64 => each(bytes, f64::from_le_bytes),
        Dtype::F32 => each(bytes, |b| f32::from_le_bytes(b) as f64),
        Dtype::F16 => each(bytes, |b| f16_to_f64(u16::from_le_bytes(b))),
        Dtype::BF16 => each(bytes, |b| {
            f32::from_bits((u16::from_le_bytes(b) as u32) << 16) as f64
        }),
        Dtype::BOOL | Dtype::U8 => each(bytes, |b: [u8; 1]| b[0] as f64),
        Dtype::I8 => each(bytes, |b| i8::from_le_bytes(b) as f64),
        Dtype::I16 => each(bytes, |b| i16::from_le_bytes(b) as f64),
        Dtype::U16 => each(bytes, |b| u16::from_le_bytes(b) as f64),
        Dtype::I32 => each(bytes, |b| i32::from_le_bytes(b) as f64),
        Dtype::U32 => each(bytes, |b| u32::from_le_bytes(b) as f64),
        Dtype::I64 => each(bytes, |b| i64::from_le_bytes(b) as f64),
        Dtype::U64 => each(bytes, |b| u64::from_le_bytes(b) as f64),
        _ => return None,
    })
}

/// IEEE 754 half precision (1 sign bit, 5 exponent bits, 10 fraction bits) to f64, exactly.
fn f16_to_f64(bits: u16) -> f64 {
    let sign = if bits & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exponent = ((bits >> 10) & 0x1f) as i32;
    let fraction = (bits & 0x3ff) as f64;
    let magnitude = match exponent {
        0 => fraction * 2f64.powi(-24), // subnormal: 0.fraction × 2^-14
        0x1f if fraction == 0.0 => f64::INFINITY,
        0x1f => f64::NAN,
        e => (1.0 + fraction / 1024.0) * 2f64.powi(e - 15),
    };
    sign * magnitude
}
