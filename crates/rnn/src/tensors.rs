//! Plain named tensors in a [safetensors](https://huggingface.co/docs/safetensors) file: read any file,
//! write `f64` tensors atomically. No model, no config: data sets, recorded activations, PyTorch's outputs to
//! compare with, ... ([`crate::checkpoint`] builds on this for model weights plus a JSON config.)
//!
//! - [`read()`] accepts what PyTorch and NumPy write: `F64`, `F32` (PyTorch's default), `F16`, `BF16`,
//!   booleans and integers, all converted to `f64` (exactly, except integers beyond 2^53, which are rounded).
//! - [`write()`] stores little-endian `F64` tensors under the given names, with optional string metadata (the
//!   safetensors `__metadata__` map), readable in Python by `safetensors.numpy.load_file` or
//!   `safetensors.torch.load_file`. It writes a temporary file next to the target, flushes it to disk and
//!   renames it over the target, so a crash or a kill in the middle leaves either the old file or the new
//!   one, never a half-written file.
//!
//! ```
//! use std::collections::BTreeMap;
//! use ndarray::array;
//!
//! let dir = std::env::temp_dir().join(format!("rnn-doc-tensors-{}", std::process::id()));
//! std::fs::create_dir_all(&dir).unwrap();
//! let path = dir.join("data.safetensors");
//!
//! let x = array![[1.0, 2.0], [3.0, 4.0]].into_dyn();
//! let meta = BTreeMap::from([("source".to_string(), "a doc test".to_string())]);
//! rnn::tensors::write(&path, &[("x", x.view())], &meta).unwrap();
//!
//! let file = rnn::tensors::read(&path).unwrap();
//! assert_eq!(file.tensors["x"], x);
//! assert_eq!(file.metadata["source"], "a doc test");
//! # std::fs::remove_dir_all(&dir).unwrap();
//! ```

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use ndarray::{ArrayD, ArrayViewD, IxDyn};
use safetensors::tensor::{Dtype, SafeTensorError, SafeTensors, View};

use crate::error::{Error, Result};

/// The contents of a safetensors file: every tensor (as `f64`) and the string metadata.
#[derive(Clone, Debug, PartialEq)]
pub struct TensorFile {
    /// Every tensor in the file, by name.
    pub tensors: BTreeMap<String, ArrayD<f64>>,
    /// The `__metadata__` map (empty if the file has none).
    pub metadata: BTreeMap<String, String>,
    /// The file it was read from (used in error messages).
    pub path: PathBuf,
}

/// Reads a safetensors file.
///
/// Errors: [`Error::Io`] if the file cannot be read (missing, a directory, ...); [`Error::CorruptTensors`],
/// with the reason, if it is not a complete safetensors file or a tensor has a type that is not a number.
pub fn read(path: &Path) -> Result<TensorFile> {
    let bytes = fs::read(path).map_err(|source| Error::Io {
        action: "read",
        path: path.to_path_buf(),
        source,
    })?;
    from_bytes(&bytes, path)
}

/// Parses the bytes of a safetensors file; `path` is only used in error messages.
pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<TensorFile> {
    decode(bytes, path).map_err(|reason| Error::CorruptTensors {
        path: path.to_path_buf(),
        reason,
    })
}

/// Writes `tensors` (as little-endian `F64`, under the given names, in logical row-major order whatever
/// the memory layout) and `metadata` to `path`, atomically (see the [module](self) docs). On any error the
/// file previously at `path` is untouched and no temporary file is left.
///
/// Errors: [`Error::InvalidTensorName`] for a duplicate name or the reserved name `__metadata__` (nothing is
/// written); [`Error::Io`] if the directory does not exist, the disk is full, `path` is a directory, ...
pub fn write<S: AsRef<str>>(
    path: &Path,
    tensors: &[(S, ArrayViewD<'_, f64>)],
    metadata: &BTreeMap<String, String>,
) -> Result<()> {
    let bytes = to_bytes(path, tensors, metadata)?;
    crate::files::write_atomic(path, &bytes)
}

/// The bytes [`write()`] puts in a file (`path` is only used in error messages).
pub fn to_bytes<S: AsRef<str>>(
    path: &Path,
    tensors: &[(S, ArrayViewD<'_, f64>)],
    metadata: &BTreeMap<String, String>,
) -> Result<Vec<u8>> {
    let mut seen = BTreeSet::new();
    for (name, _) in tensors {
        let name = name.as_ref();
        if name == "__metadata__" {
            return Err(Error::InvalidTensorName {
                name: name.to_string(),
                reason: "safetensors reserves this name for the file's metadata".into(),
            });
        }
        if !seen.insert(name) {
            return Err(Error::InvalidTensorName {
                name: name.to_string(),
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
            (name.as_ref(), F64Bytes { shape, bytes })
        })
        .collect();
    let metadata: Option<HashMap<String, String>> = (!metadata.is_empty()).then(|| {
        metadata
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    });
    safetensors::serialize(owned.iter().map(|(n, t)| (*n, t)), &metadata).map_err(|e| Error::Io {
        action: "encode",
        path: path.to_path_buf(),
        source: io::Error::other(e.to_string()),
    })
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

/// Parses a whole file; the error is the reason, in plain words.
fn decode(bytes: &[u8], path: &Path) -> std::result::Result<TensorFile, String> {
    if bytes.is_empty() {
        return Err("the file is empty".into());
    }
    // `read_metadata` checks the header and that every tensor's byte range lies inside the file.
    let (header_len, header) = SafeTensors::read_metadata(bytes).map_err(describe)?;
    let data = &bytes[8 + header_len..];
    let metadata = header
        .metadata()
        .as_ref()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    let mut tensors = BTreeMap::new();
    for (name, info) in header.tensors() {
        let (start, end) = info.data_offsets;
        let values = to_f64(info.dtype, &data[start..end]).ok_or_else(|| {
            format!(
                "tensor `{name}` has type {:?}, which cannot be read as numbers \
                 (supported: F64, F32, F16, BF16 and integers)",
                info.dtype
            )
        })?;
        let array = ArrayD::from_shape_vec(IxDyn(&info.shape), values).map_err(|e| {
            format!(
                "tensor `{name}` has shape {:?} but {} values ({e})",
                info.shape,
                (end - start) / info.dtype.size().max(1)
            )
        })?;
        tensors.insert(name, array);
    }
    Ok(TensorFile {
        tensors,
        metadata,
        path: path.to_path_buf(),
    })
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
