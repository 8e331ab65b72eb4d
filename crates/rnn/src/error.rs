//! The library's error type: every failure a learner can cause with data or files, in plain words.
//!
//! Misusing shapes in code (passing a `(B, D)` array where `(T, B, D)` was expected) is a programming error
//! and panics with a message naming the expected and actual shapes; everything that depends on *input*
//! (files, checkpoints, configuration) returns an [`Error`].

use std::path::PathBuf;

/// Errors returned by the library.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing a file failed.
    #[error("cannot {action} {path}: {source}")]
    Io {
        /// What was being done: "read", "write", "rename".
        action: &'static str,
        /// The file involved.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A checkpoint file is not valid safetensors, or its metadata is unreadable.
    #[error("{path} is not a valid checkpoint: {reason}")]
    CorruptCheckpoint {
        /// The checkpoint file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A file is not valid safetensors (see [`crate::tensors::read`]).
    #[error("{path} is not a valid safetensors file: {reason}")]
    CorruptTensors {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A checkpoint holds a different network from the model it is loaded into: another cell type or
    /// variant, another size or depth, or the other number of directions. The reason says what differs,
    /// for example "this checkpoint holds a GRU (3 gates), the model is an LSTM (4 gates)".
    #[error("checkpoint {path} does not fit the model: {reason}")]
    WrongModel {
        /// The checkpoint file.
        path: PathBuf,
        /// What differs, in plain words.
        reason: String,
    },
    /// A network was to be built from a checkpoint alone, but the checkpoint has no config saying which
    /// network it holds (a file written by PyTorch's `safetensors.torch.save_file(model.state_dict())`).
    #[error("checkpoint {path} has no config saying which network it holds: {hint}")]
    MissingConfig {
        /// The checkpoint file.
        path: PathBuf,
        /// What its tensors do say, and how to build the network anyway.
        hint: String,
    },
    /// A checkpoint lacks a tensor the model needs.
    #[error("checkpoint {path} has no tensor `{name}` (it has: {available})")]
    MissingTensor {
        /// The checkpoint file.
        path: PathBuf,
        /// The tensor the model asked for.
        name: String,
        /// The tensors the checkpoint does have, comma-separated.
        available: String,
    },
    /// A checkpoint tensor has a different shape from the model's parameter.
    #[error("checkpoint {path}: tensor `{name}` has shape {found:?}, but the model expects {expected:?}")]
    ShapeMismatch {
        /// The checkpoint file.
        path: PathBuf,
        /// The tensor's name.
        name: String,
        /// The model's shape.
        expected: Vec<usize>,
        /// The checkpoint's shape.
        found: Vec<usize>,
    },
    /// A checkpoint holds tensors the model does not have (e.g. a 2-layer checkpoint for a 1-layer model).
    #[error("checkpoint {path} has tensors the model does not use: {names}")]
    UnexpectedTensors {
        /// The checkpoint file.
        path: PathBuf,
        /// The extra tensor names, comma-separated.
        names: String,
    },
    /// Text contains a character that is not in the model's vocabulary.
    #[error("character {ch:?} at position {position} is not in the vocabulary ({size} characters seen in training)")]
    UnknownChar {
        /// The character.
        ch: char,
        /// Its position (in characters) in the text.
        position: usize,
        /// The vocabulary size.
        size: usize,
    },
    /// A data set is empty or too short for what was asked.
    #[error("not enough data: {0}")]
    NotEnoughData(String),
    /// A tensor cannot be written to a checkpoint under the name it was given (a duplicate, or a name the
    /// safetensors format reserves).
    #[error("cannot save tensor `{name}`: {reason}")]
    InvalidTensorName {
        /// The offending name.
        name: String,
        /// Why it cannot be used.
        reason: String,
    },
    /// Optimiser state (usually read from a checkpoint to resume training) does not fit the optimiser or the
    /// model: a missing or unexpected entry, or a buffer with the wrong shape.
    #[error("cannot load optimiser state: {0}")]
    OptimizerState(String),
    /// A configuration value makes no sense (zero hidden size, dropout outside [0, 1), ...).
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A data file is malformed; the message names the file and the line.
    #[error("{0}")]
    BadData(String),
}

/// `Result` with the library's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
