//! Checkpoints: a model's tensors plus a small JSON config in one [safetensors](https://huggingface.co/docs/safetensors)
//! file, written atomically (through [`crate::tensors`], which reads and writes plain tensor files).
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
//! # The config of a recurrent network
//! A checkpoint of a [`Rnn`] (written by [`Rnn::save`]) stores this JSON object as its config; it holds
//! the arguments of `torch.nn.RNN`, `nn.LSTM` and `nn.GRU` that decide which tensors there are and what
//! they mean, plus the library's cell variants. [`RnnConfig`] is its Rust form.
//!
//! | key | value | if absent |
//! |---|---|---|
//! | `cell` | `"rnn_tanh"`, `"rnn_relu"`, `"lstm"` or `"gru"` ([`CellKind`]: PyTorch's `mode`, lower case) | required |
//! | `input_size` | D, the features of each step of the input | required |
//! | `hidden_size` | H | required |
//! | `num_layers` | L | 1 |
//! | `bidirectional` | `true` or `false` | `false` |
//! | `dropout` | the probability of dropping a unit between layers, in [0, 1) | 0 |
//! | `gru_variant` | GRU only: `"reset_after"` (`nn.GRU`) or `"reset_before"` (Cho et al. 2014) | `"reset_after"` |
//! | `peephole` | LSTM only: peephole connections | `false` |
//! | `cifg` | LSTM only: coupled input-forget gate | `false` |
//! | `no_input_gate`, `no_forget_gate`, `no_output_gate` | LSTM only: Greff et al.'s NIG, NFG, NOG | `false` |
//! | `no_input_activation`, `no_output_activation` | LSTM only: Greff et al.'s NIAF, NOAF | `false` |
//! | `full_gate_recurrence` | LSTM only: Greff et al.'s FGR (tensor `weight_gg_l{k}`) | `false` |
//!
//! For example `{"cell": "lstm", "input_size": 3, "hidden_size": 5, "num_layers": 2, "bidirectional": true,
//! "dropout": 0.0}`. [`RnnConfig::to_json`] writes the first six keys always and the others only when
//! they differ from PyTorch's cell. Other keys are ignored, so a program may store more next to these.
//! [`RnnConfig::from_json`] also reads the older spellings of checkpoints written before this format:
//! `"cell": "rnn"` (or `"elman"`) for `rnn_tanh`, and `"kind": "rnn" | "lstm" | "gru"` with
//! `"nonlinearity": "tanh" | "relu" | null` (the PyTorch parity fixtures' old keys).
//! Other models name their cells the same way inside their own config: a
//! [`crate::models::char_lm::CharLm`] stores `{"model": {"cell": "lstm", "vocab": ..., ...}}`.
//!
//! # Loading into the wrong model is an error
//! [`Checkpoint::load_into`] refuses, with an [`Error::WrongModel`] that says what differs, a checkpoint
//! of another network:
//! 1. if the model knows its own config ([`Parameters::rnn_config`]: every [`Rnn`] of the library's cells)
//!    and the checkpoint has one, the two must describe the same cell (kind and variant), sizes, depth
//!    and directions: "this checkpoint holds an Elman RNN with tanh (no gates), the model is an Elman RNN
//!    with ReLU (no gates)";
//! 2. from the tensors alone (with or without a config) it compares the layout of every `weight_ih_l{k}`
//!    stack: directions (`_reverse` tensors), depth, the number of gate blocks G in `weight_hh_l0`'s
//!    G·H rows (1 Elman, 3 GRU, 4 LSTM), hidden and input size: "this checkpoint holds a GRU (3 gates),
//!    the model is an LSTM (4 gates)";
//! 3. every parameter must have a tensor of the same shape, and no tensor may be left over.
//!
//! # Files without a config
//! A file written by PyTorch (`safetensors.torch.save_file(model.state_dict(), path)`) has no config. It
//! loads into any model whose names and shapes fit (steps 2 and 3 above still apply). **Shapes cannot tell
//! a tanh RNN from a ReLU RNN**, nor a reset-after GRU from a reset-before one, nor (without peepholes) a
//! GRU from an LSTM with coupled gates: such a file loads into whichever the model is, and it is the
//! caller's job to build the right one. [`Rnn::from_checkpoint`] therefore refuses a file without a config
//! ([`Error::MissingConfig`]); [`RnnConfig::infer`] reads what the shapes do say, assuming PyTorch's
//! defaults (tanh, reset-after) for what they do not, and [`Rnn::from_checkpoint_with`] builds the
//! network from that config, or from one the caller corrected.
//!
//! ```
//! use rnn::checkpoint::Checkpoint;
//! use rnn::cells::{AnyCell, CellKind};
//! use rnn::prelude::*;
//! use rnn::stack::Rnn;
//!
//! let dir = std::env::temp_dir().join(format!("rnn-doc-checkpoint-{}", std::process::id()));
//! std::fs::create_dir_all(&dir).unwrap();
//! let path = dir.join("lstm.safetensors");
//!
//! let model = Rnn::new(3, 4, 2, false, 0.0, Lstm::new, &mut rnn::init::rng(0)).unwrap();
//! model.save(&path).unwrap(); // tensors and config
//!
//! let ckpt = Checkpoint::load(&path).unwrap();
//! assert_eq!(ckpt.config.as_ref().unwrap()["cell"], "lstm");
//! // Build the network from the file alone: no random initialisation, no sizes to repeat.
//! let restored = Rnn::<AnyCell>::from_checkpoint(&ckpt).unwrap();
//! assert_eq!(restored.params(), model.params());
//! // Or load into a model built by hand: a model of another cell is refused, naming both.
//! let mut gru = Rnn::new(3, 4, 2, false, 0.0, Gru::new, &mut rnn::init::rng(1)).unwrap();
//! let err = ckpt.load_into(&mut gru).unwrap_err();
//! assert!(err.to_string().contains("this checkpoint holds an LSTM (4 gates), the model is a GRU (3 gates)"));
//! # std::fs::remove_dir_all(&dir).unwrap();
//! ```
//!
//! # Resuming training
//! To resume bit-identically, store the optimiser's [`crate::optim::Optimizer::state`] in the same file
//! under a prefix (for example `optim.`), then split it off with [`Checkpoint::take_prefix`] before
//! [`Checkpoint::load_into`] checks the model's tensors.
//!
//! [`Rnn`]: crate::stack::Rnn
//! [`Rnn::from_checkpoint`]: crate::stack::Rnn::from_checkpoint
//! [`Rnn::from_checkpoint_with`]: crate::stack::Rnn::from_checkpoint_with
//! [`Rnn::save`]: crate::stack::Rnn::save

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use ndarray::{ArrayD, ArrayViewD};
use serde_json::{Map, Value};

use crate::cells::{CellConfig, CellKind, GruVariant};
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
    config: Option<&Value>,
) -> Result<()> {
    let metadata = config
        .map(|c| BTreeMap::from([(CONFIG_KEY.to_string(), c.to_string())]))
        .unwrap_or_default();
    crate::tensors::write(path, tensors, &metadata)
}

/// [`save`] for every parameter of `model`, under the model's own names.
pub fn save_params(path: &Path, model: &dyn Parameters, config: Option<&Value>) -> Result<()> {
    save(path, &model.params(), config)
}

// ---------------------------------------------------------------------------------------------------------
// The config of a recurrent network
// ---------------------------------------------------------------------------------------------------------

/// The architecture of a recurrent network as a checkpoint config records it: see the
/// [module docs](self#the-config-of-a-recurrent-network) for the JSON form.
#[derive(Clone, Debug, PartialEq)]
pub struct RnnConfig {
    /// The cell: kind and variant.
    pub cell: CellConfig,
    /// Input size D of layer 0.
    pub input_size: usize,
    /// Hidden size H of every cell.
    pub hidden_size: usize,
    /// Number of stacked layers.
    pub num_layers: usize,
    /// Whether every layer also reads the sequence backwards.
    pub bidirectional: bool,
    /// Dropout between layers during training, in [0, 1) (it does not change which tensors there are).
    pub dropout: f64,
}

/// The keys of a cell's variant in a config's JSON, only those that differ from the plain PyTorch cell:
/// `gru_variant` = `"reset_before"`, and each LSTM flag that is on (`"peephole": true`, ...).
pub fn variant_json(cell: &CellConfig) -> Map<String, Value> {
    let mut m = Map::new();
    if cell.gru_variant != GruVariant::ResetAfter {
        m.insert("gru_variant".into(), "reset_before".into());
    }
    for (name, on) in cell.lstm_flags() {
        if on {
            m.insert(name.into(), true.into());
        }
    }
    m
}

/// The cell of kind `kind` with the variant keys of [`variant_json`] (absent keys are the plain cell),
/// checked as a network config's cell is: [`Error::Config`], naming the key, for a bad one.
pub fn cell_from_variant_json(kind: CellKind, variant: &Map<String, Value>) -> Result<CellConfig> {
    let mut m = variant.clone();
    m.insert("cell".into(), kind.name().into());
    m.insert("input_size".into(), 1.into());
    m.insert("hidden_size".into(), 1.into());
    Ok(RnnConfig::from_json(&Value::Object(m))?.cell)
}

impl RnnConfig {
    /// The config as JSON, in the canonical spelling (see the [module docs](self)).
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("cell".into(), self.cell.kind.name().into());
        m.insert("input_size".into(), self.input_size.into());
        m.insert("hidden_size".into(), self.hidden_size.into());
        m.insert("num_layers".into(), self.num_layers.into());
        m.insert("bidirectional".into(), self.bidirectional.into());
        m.insert("dropout".into(), self.dropout.into());
        m.extend(variant_json(&self.cell));
        Value::Object(m)
    }

    /// Reads a config written by [`RnnConfig::to_json`], or in one of the older spellings (see the
    /// [module docs](self)). [`Error::Config`], naming the key, for anything that is not a valid config.
    pub fn from_json(value: &Value) -> Result<RnnConfig> {
        let bad = |m: String| Error::Config(format!("the network config {value} {m}"));
        let obj = value.as_object().ok_or_else(|| {
            Error::Config(format!(
                "a network config must be a JSON object, got {value}"
            ))
        })?;
        let text = |key: &str| -> Result<Option<&str>> {
            match obj.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s)),
                Some(other) => Err(bad(format!("has `{key}` = {other}, expected a string"))),
            }
        };
        // `cell` (canonical) or, in old files, `kind`; `nonlinearity` may refine an Elman cell.
        let (name, key) = match (text("cell")?, text("kind")?) {
            (Some(c), _) => (c, "cell"),
            (None, Some(k)) => (k, "kind"),
            (None, None) => {
                return Err(bad(
                    "names no cell: it needs `cell`: rnn_tanh, rnn_relu, lstm or gru".into(),
                ))
            }
        };
        let mut kind: CellKind = name.parse()?;
        if let Some(nl) = text("nonlinearity")? {
            let generic = matches!(name.to_ascii_lowercase().as_str(), "rnn" | "elman");
            kind = match (nl.to_ascii_lowercase().as_str(), kind) {
                ("tanh", CellKind::RnnTanh) => CellKind::RnnTanh,
                ("relu", CellKind::RnnRelu) => CellKind::RnnRelu,
                ("relu", CellKind::RnnTanh) if generic => CellKind::RnnRelu,
                _ => {
                    return Err(bad(format!(
                        "has `{key}` = {name:?} with `nonlinearity` = {nl:?}: a nonlinearity applies to \
                         rnn cells only and must be tanh or relu (write `cell`: rnn_tanh or rnn_relu)"
                    )))
                }
            };
        }
        let count = |key: &str, default: Option<usize>| -> Result<usize> {
            match (obj.get(key), default) {
                (Some(v), _) => v
                    .as_u64()
                    .map(|n| n as usize)
                    .ok_or_else(|| bad(format!("has `{key}` = {v}, expected a whole number"))),
                (None, Some(d)) => Ok(d),
                (None, None) => Err(bad(format!("lacks `{key}`"))),
            }
        };
        let flag = |key: &str| -> Result<bool> {
            match obj.get(key) {
                None | Some(Value::Null) => Ok(false),
                Some(Value::Bool(b)) => Ok(*b),
                Some(v) => Err(bad(format!("has `{key}` = {v}, expected true or false"))),
            }
        };
        let dropout = match obj.get("dropout") {
            None | Some(Value::Null) => 0.0,
            Some(v) => v
                .as_f64()
                .ok_or_else(|| bad(format!("has `dropout` = {v}, expected a number")))?,
        };
        let gru_variant = match text("gru_variant")? {
            None => GruVariant::ResetAfter,
            Some(v) => match v.to_ascii_lowercase().as_str() {
                "reset_after" => GruVariant::ResetAfter,
                "reset_before" => GruVariant::ResetBefore,
                _ => {
                    return Err(bad(format!(
                        "has `gru_variant` = {v:?}, expected reset_after or reset_before"
                    )))
                }
            },
        };
        let config = RnnConfig {
            cell: CellConfig {
                kind,
                gru_variant,
                peephole: flag("peephole")?,
                cifg: flag("cifg")?,
                no_input_gate: flag("no_input_gate")?,
                no_forget_gate: flag("no_forget_gate")?,
                no_output_gate: flag("no_output_gate")?,
                no_input_activation: flag("no_input_activation")?,
                no_output_activation: flag("no_output_activation")?,
                full_gate_recurrence: flag("full_gate_recurrence")?,
            },
            input_size: count("input_size", None)?,
            hidden_size: count("hidden_size", None)?,
            num_layers: count("num_layers", Some(1))?,
            bidirectional: flag("bidirectional")?,
            dropout,
        };
        config.validate()?;
        Ok(config)
    }

    /// [`Error::Config`] unless the sizes and depth are at least 1, `0 ≤ dropout < 1` and the cell
    /// variant fits the cell kind ([`CellConfig::validate`]).
    pub fn validate(&self) -> Result<()> {
        self.cell.validate()?;
        if self.input_size == 0 || self.hidden_size == 0 {
            return Err(Error::Config(format!(
                "input size and hidden size must be at least 1 (got input size {}, hidden size {})",
                self.input_size, self.hidden_size
            )));
        }
        if self.num_layers == 0 {
            return Err(Error::Config(
                "a recurrent network needs at least one layer (num_layers = 0)".into(),
            ));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(Error::Config(format!(
                "dropout is a probability of dropping a unit and must be in [0, 1), got {}",
                self.dropout
            )));
        }
        Ok(())
    }

    /// What the tensor names and shapes under `prefix` say about the network, for a file without a config
    /// (such as PyTorch's `state_dict()` of an `nn.RNN`, `nn.LSTM` or `nn.GRU`, for which `prefix` is `""`).
    ///
    /// Names give the depth and the directions; `weight_hh_l0` `(G·H, H)` gives H and the number of gate
    /// blocks G, `weight_ih_l0` `(G·H, D)` gives D, and `weight_cf_l0` reveals peepholes (with G = 3, an
    /// LSTM with peepholes and coupled gates).
    /// What they cannot tell is filled in with PyTorch's defaults: **G = 1 is taken as tanh** (a ReLU
    /// network has the same shapes), G = 3 as a reset-after GRU (`nn.GRU`; a reset-before GRU, and an LSTM
    /// with coupled gates but no peepholes, have the same shapes), dropout as 0. Correct the result if the
    /// file holds something else.
    ///
    /// Errors: [`Error::MissingTensor`] if there is no `weight_ih_l0` / `weight_hh_l0` under `prefix`;
    /// [`Error::CorruptCheckpoint`] if `weight_hh_l0` is not `(G·H, H)` with G = 1, 3 or 4.
    pub fn infer(ckpt: &Checkpoint, prefix: &str) -> Result<RnnConfig> {
        let missing = |name: &str| Error::MissingTensor {
            path: ckpt.path.clone(),
            name: format!("{prefix}{name}"),
            available: ckpt.list_names(prefix),
        };
        let lay = layout(ckpt.shapes(), prefix).ok_or_else(|| missing("weight_ih_l0"))?;
        let hh = ckpt
            .get(&format!("{prefix}weight_hh_l0"))
            .ok_or_else(|| missing("weight_hh_l0"))?;
        let (Some(gates), Some(hidden)) = (lay.gates, lay.hidden) else {
            return Err(Error::CorruptCheckpoint {
                path: ckpt.path.clone(),
                reason: format!(
                    "`{prefix}weight_hh_l0` has shape {:?}, not (G·H, H) as a recurrent layer's",
                    hh.shape()
                ),
            });
        };
        let input_size = lay.input.ok_or_else(|| missing("weight_ih_l0"))?;
        // Peepholes: `weight_cf` (and `weight_co`) in every peephole LSTM, `weight_ci` unless coupled.
        let cell = match (gates, lay.peephole) {
            (1, _) => CellConfig::new(CellKind::RnnTanh),
            (3, false) => CellConfig::new(CellKind::Gru),
            (3, true) => CellConfig {
                peephole: true,
                cifg: true,
                ..CellConfig::new(CellKind::Lstm)
            },
            (4, peephole) => CellConfig {
                peephole,
                ..CellConfig::new(CellKind::Lstm)
            },
            (g, _) => {
                return Err(Error::CorruptCheckpoint {
                    path: ckpt.path.clone(),
                    reason: format!(
                    "`{prefix}weight_hh_l0` has shape {:?}: {g} blocks of H = {hidden} rows, but \
                         recurrent cells have 1 (Elman), 3 (GRU) or 4 (LSTM)",
                    hh.shape()
                ),
                })
            }
        };
        Ok(RnnConfig {
            cell,
            input_size,
            hidden_size: hidden,
            num_layers: lay.layers,
            bidirectional: lay.reverse_example.is_some(),
            dropout: 0.0,
        })
    }

    /// Sizes, depth and directions in words: "input size 3, hidden size 8, 3 layers, unidirectional".
    pub fn describe_sizes(&self) -> String {
        format!(
            "input size {}, hidden size {}, {}, {}",
            self.input_size,
            self.hidden_size,
            layers(self.num_layers),
            if self.bidirectional {
                "bidirectional"
            } else {
                "unidirectional"
            }
        )
    }
}

/// "1 layer", "3 layers".
fn layers(n: usize) -> String {
    if n == 1 {
        "1 layer".into()
    } else {
        format!("{n} layers")
    }
}

/// A cell named by its number of gate blocks alone, when nothing else is known.
fn gates_name(g: usize) -> String {
    match g {
        1 => "an Elman RNN (no gates)".into(),
        3 => "a GRU (3 gates)".into(),
        4 => "an LSTM (4 gates)".into(),
        g => format!("a cell with {g} blocks of weights"),
    }
}

/// The phrase for a bidirectional file and a unidirectional model, or the other way round.
fn directions_phrase(file_bi: bool, reverse_example: Option<&str>, stem: &str) -> String {
    if file_bi {
        format!(
            "this checkpoint holds a bidirectional network (it has `_reverse` tensors such as `{}`), \
             the model is unidirectional",
            reverse_example.unwrap_or("weight_ih_l0_reverse")
        )
    } else {
        format!(
            "the model is bidirectional, but this checkpoint holds a unidirectional network (it has no \
             `_reverse` tensors such as `{stem}weight_ih_l0_reverse`)"
        )
    }
}

/// Everything in which the checkpoint's config `file` differs from the model's config `model`, in words.
fn config_differences(file: &RnnConfig, model: &RnnConfig) -> Vec<String> {
    let mut out = Vec::new();
    if file.cell != model.cell {
        let mut s = format!(
            "this checkpoint holds {}, the model is {}",
            file.cell.describe(),
            model.cell.describe()
        );
        if file.cell.kind == CellKind::Gru && model.cell.kind == CellKind::Gru {
            s.push_str(
                " (they differ in where the reset gate acts: reset-after, as nn.GRU, computes \
                 r ⊙ (W_hn h + b_hn); reset-before, as Cho et al. 2014, computes W_hn (r ⊙ h) + b_hn)",
            );
        }
        out.push(s);
    }
    if file.bidirectional != model.bidirectional {
        out.push(directions_phrase(file.bidirectional, None, ""));
    }
    let mut theirs = Vec::new();
    let mut ours = Vec::new();
    if file.input_size != model.input_size {
        theirs.push(format!("input size {}", file.input_size));
        ours.push(format!("input size {}", model.input_size));
    }
    if file.hidden_size != model.hidden_size {
        theirs.push(format!("hidden size {}", file.hidden_size));
        ours.push(format!("hidden size {}", model.hidden_size));
    }
    if file.num_layers != model.num_layers {
        theirs.push(layers(file.num_layers));
        ours.push(layers(model.num_layers));
    }
    if !theirs.is_empty() {
        out.push(format!(
            "its config says {}, the model has {}",
            theirs.join(" and "),
            ours.join(" and ")
        ));
    }
    out
}

/// The layout of one PyTorch-named recurrent stack (`{stem}weight_ih_l{k}[_reverse]`, ...), read from
/// tensor names and shapes.
#[derive(Debug)]
struct Layout {
    /// 1 + the largest layer index k found.
    layers: usize,
    /// A `_reverse` tensor name, if there is one (the stack is bidirectional).
    reverse_example: Option<String>,
    /// G, from `weight_hh_l0` `(G·H, H)`.
    gates: Option<usize>,
    /// H, from `weight_hh_l0`.
    hidden: Option<usize>,
    /// D, from `weight_ih_l0` `(G·H, D)`.
    input: Option<usize>,
    /// `weight_cf_l0` present (an LSTM with peepholes).
    peephole: bool,
}

/// The layout of the stack whose names start with `stem`, if any tensor of it is there.
fn layout<'a>(tensors: impl Iterator<Item = (&'a str, &'a [usize])>, stem: &str) -> Option<Layout> {
    let mut found = None::<Layout>;
    let (mut hh, mut ih) = (None, None);
    for (name, shape) in tensors {
        let Some(rest) = name.strip_prefix(stem) else {
            continue;
        };
        let (base, reverse) = match rest.strip_suffix("_reverse") {
            Some(b) => (b, true),
            None => (rest, false),
        };
        let Some((param, k)) = base.rsplit_once("_l") else {
            continue;
        };
        let Ok(k) = k.parse::<usize>() else {
            continue;
        };
        const PARAMS: [&str; 7] = [
            "weight_ih",
            "weight_hh",
            "bias_ih",
            "bias_hh",
            "weight_ci",
            "weight_cf",
            "weight_co",
        ];
        if !PARAMS.contains(&param) {
            continue;
        }
        let l = found.get_or_insert(Layout {
            layers: 0,
            reverse_example: None,
            gates: None,
            hidden: None,
            input: None,
            peephole: false,
        });
        l.layers = l.layers.max(k + 1);
        if reverse && (l.reverse_example.is_none() || (k == 0 && param == "weight_ih")) {
            l.reverse_example = Some(name.to_string());
        }
        if k == 0 && !reverse {
            match param {
                "weight_hh" => hh = Some(shape),
                "weight_ih" => ih = Some(shape),
                "weight_cf" => l.peephole = true,
                _ => {}
            }
        }
    }
    let mut l = found?;
    if let Some(&[rows, cols]) = hh {
        l.hidden = Some(cols);
        l.gates = (cols > 0 && rows % cols == 0).then(|| rows / cols);
    }
    if let Some(&[_, cols]) = ih {
        l.input = Some(cols);
    }
    Some(l)
}

/// Everything in which the stack `file` (in the checkpoint) differs from the stack `model`, in words.
/// `file_cell` and `model_cell` name the cells when a config says what they are.
fn layout_differences(
    file: &Layout,
    model: &Layout,
    file_cell: Option<CellConfig>,
    model_cell: Option<CellConfig>,
    stem: &str,
) -> Vec<String> {
    let mut out = Vec::new();
    let (file_bi, model_bi) = (
        file.reverse_example.is_some(),
        model.reverse_example.is_some(),
    );
    if file_bi != model_bi {
        out.push(directions_phrase(
            file_bi,
            file.reverse_example.as_deref(),
            stem,
        ));
    }
    if let (Some(fg), Some(mg)) = (file.gates, model.gates) {
        if fg != mg {
            // A config's name is used only if it agrees with the shapes.
            let name = |cell: Option<CellConfig>, g: usize| match cell {
                Some(c) if c.num_gates() == g => c.describe(),
                _ => gates_name(g),
            };
            out.push(format!(
                "this checkpoint holds {}, the model is {} (`{stem}weight_hh_l0` has {}·H rows in the \
                 file, {}·H in the model)",
                name(file_cell, fg),
                name(model_cell, mg),
                fg,
                mg
            ));
        }
    }
    if file.layers != model.layers {
        out.push(format!(
            "this checkpoint holds {} (`{stem}weight_ih_l0` to `{stem}weight_ih_l{}`), the model {}",
            layers(file.layers),
            file.layers - 1,
            layers(model.layers)
        ));
    }
    if let (Some(fh), Some(mh)) = (file.hidden, model.hidden) {
        if fh != mh {
            out.push(format!(
                "this checkpoint has hidden size {fh}, the model hidden size {mh}"
            ));
        }
    }
    if let (Some(fd), Some(md)) = (file.input, model.input) {
        if fd != md {
            out.push(format!(
                "this checkpoint reads input size {fd}, the model input size {md}"
            ));
        }
    }
    out
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
    pub config: Option<Value>,
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
        let file = crate::tensors::read(path).map_err(as_checkpoint_error)?;
        Self::from_file(file)
    }

    /// Parses the bytes of a safetensors file; `path` is only used in error messages.
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Checkpoint> {
        let file = crate::tensors::from_bytes(bytes, path).map_err(as_checkpoint_error)?;
        Self::from_file(file)
    }

    /// A checkpoint from a tensor file: its `config` metadata parsed as JSON.
    fn from_file(file: crate::tensors::TensorFile) -> Result<Checkpoint> {
        let config = match file.metadata.get(CONFIG_KEY) {
            Some(text) => {
                Some(
                    serde_json::from_str(text).map_err(|e| Error::CorruptCheckpoint {
                        path: file.path.clone(),
                        reason: format!("its `{CONFIG_KEY}` metadata is not valid JSON ({e})"),
                    })?,
                )
            }
            None => None,
        };
        Ok(Checkpoint {
            tensors: file.tensors,
            config,
            path: file.path,
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

    /// Every tensor's name and shape.
    fn shapes(&self) -> impl Iterator<Item = (&str, &[usize])> {
        self.tensors.iter().map(|(n, t)| (n.as_str(), t.shape()))
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

    /// The recurrent network the config describes, if the config is one ([module docs](self)):
    /// `None` if there is no config or it names no cell (`cell`, or the old `kind`), which is how the
    /// configs of other models look. [`Error::CorruptCheckpoint`] if it names a cell but is not a valid
    /// network config.
    pub fn rnn_config(&self) -> Result<Option<RnnConfig>> {
        let Some(config) = &self.config else {
            return Ok(None);
        };
        if config.get("cell").is_none() && config.get("kind").is_none() {
            return Ok(None);
        }
        RnnConfig::from_json(config)
            .map(Some)
            .map_err(|e| Error::CorruptCheckpoint {
                path: self.path.clone(),
                reason: match e {
                    Error::Config(m) => m,
                    other => other.to_string(),
                },
            })
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
    /// All or nothing: it first checks that the checkpoint holds the same network as the model
    /// ([`Error::WrongModel`]: see the [module docs](self#loading-into-the-wrong-model-is-an-error) for
    /// what is compared), that every parameter of the model has a tensor of the same shape
    /// ([`Error::MissingTensor`], [`Error::ShapeMismatch`]) and that the checkpoint has no tensor the model
    /// does not use ([`Error::UnexpectedTensors`]); only then does it assign. A failed load leaves the
    /// model unchanged. A checkpoint without a config is checked by names and shapes only.
    pub fn load_into(&self, model: &mut dyn Parameters) -> Result<()> {
        self.load_into_with_prefix(model, "")
    }

    /// [`Checkpoint::load_into`] for a model that is part of a larger network: the model's parameter `name`
    /// is read from the tensor `prefix + name` (say `rnn.weight_ih_l0` for prefix `rnn.`), and tensors whose
    /// names do not start with `prefix` (the rest of the network) are ignored. The checkpoint's config then
    /// describes the larger network, so with a non-empty prefix only names and shapes are checked.
    pub fn load_into_with_prefix(&self, model: &mut dyn Parameters, prefix: &str) -> Result<()> {
        // Check everything first ...
        self.check_network(&*model, prefix)?;
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

    /// Steps 1 and 2 of the [module docs](self#loading-into-the-wrong-model-is-an-error): the config and
    /// the layout of every recurrent stack against the model's.
    fn check_network(&self, model: &dyn Parameters, prefix: &str) -> Result<()> {
        let wrong = |reasons: Vec<String>| Error::WrongModel {
            path: self.path.clone(),
            reason: reasons.join("; "),
        };
        let model_config = model.rnn_config();
        // The file's config describes the tensors without prefix. An invalid one is an error only when
        // there is a model config to compare it with; otherwise it merely cannot name the cell.
        let file_config = match (prefix.is_empty(), &model_config) {
            (false, _) => None,
            (true, Some(_)) => self.rnn_config()?,
            (true, None) => self.rnn_config().ok().flatten(),
        };
        if let (Some(f), Some(m)) = (&file_config, &model_config) {
            let reasons = config_differences(f, m);
            if !reasons.is_empty() {
                return Err(wrong(reasons));
            }
        }
        let params = model.params();
        let model_shapes = || params.iter().map(|(n, p)| (n.as_str(), p.shape()));
        let stems: BTreeSet<&str> = params
            .iter()
            .filter_map(|(n, _)| n.strip_suffix("weight_ih_l0"))
            .collect();
        for stem in stems {
            let full = format!("{prefix}{stem}");
            let (Some(m), Some(f)) = (layout(model_shapes(), stem), layout(self.shapes(), &full))
            else {
                continue;
            };
            let (file_cell, model_cell) = if stem.is_empty() {
                (
                    file_config.as_ref().map(|c| c.cell),
                    model_config.as_ref().map(|c| c.cell),
                )
            } else {
                (None, None)
            };
            let reasons = layout_differences(&f, &m, file_cell, model_cell, &full);
            if !reasons.is_empty() {
                return Err(wrong(reasons));
            }
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

/// A tensor-file error as a checkpoint error ("... is not a valid checkpoint: ...").
fn as_checkpoint_error(e: Error) -> Error {
    match e {
        Error::CorruptTensors { path, reason } => Error::CorruptCheckpoint { path, reason },
        other => other,
    }
}
