//! Checkpoints of the CLI: the model's tensors (PyTorch names, see `rnn::models::char_lm`), plus, for
//! resuming, the optimiser state (`optim.*`) and the carried hidden states (`state.h_l{k}`, `state.c_l{k}`),
//! with a JSON config holding the model configuration, the training settings and the progress (step, RNG
//! position, best validation loss).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{bail, Context, Result};
use ndarray::{ArrayD, Ix2};
use rnn::cells::State;
use rnn::models::char_lm::CharLm;
use rnn::params::Parameters;

use crate::shim;

/// Identifies checkpoints written by this tool.
pub const FORMAT: &str = "rnn-cli/char-lm/1";

/// Everything a checkpoint holds besides the model.
pub struct RunState {
    /// Optimiser state tensors (names without the `optim.` prefix).
    pub optim: Vec<(String, ArrayD<f64>)>,
    /// Carried states, one per layer, for the B training streams.
    pub states: Vec<State>,
    /// The config JSON (`format`, `model`, `train`, `progress`).
    pub config: serde_json::Value,
}

/// Writes a full checkpoint atomically.
pub fn save(
    path: &Path,
    model: &CharLm,
    optim: Vec<(String, ArrayD<f64>)>,
    states: &[State],
    mut config: serde_json::Value,
) -> Result<()> {
    let mut tensors = model.tensors();
    tensors.extend(optim.into_iter().map(|(n, t)| (format!("optim.{n}"), t)));
    for (k, s) in states.iter().enumerate() {
        tensors.push((format!("state.h_l{k}"), s.h.clone().into_dyn()));
        if let Some(c) = &s.c {
            tensors.push((format!("state.c_l{k}"), c.clone().into_dyn()));
        }
    }
    config["format"] = FORMAT.into();
    config["model"] = model.config_json();
    shim::save(path, &tensors, &config)
        .with_context(|| format!("cannot save checkpoint {}", path.display()))
}

/// Loads the model of a checkpoint (ignoring optimiser and carried state).
pub fn load_model(path: &Path) -> Result<CharLm> {
    Ok(load(path)?.0)
}

/// Loads a checkpoint: the model and the run state.
pub fn load(path: &Path) -> Result<(CharLm, RunState)> {
    if !path.exists() {
        bail!("checkpoint {} does not exist", path.display());
    }
    let loaded = shim::load(path)?;
    if loaded.config.get("format").and_then(|f| f.as_str()) != Some(FORMAT) {
        return Err(rnn::Error::CorruptCheckpoint {
            path: path.to_path_buf(),
            reason: format!(
                "it was not written by `rnn train` (no format {FORMAT:?} in its config)"
            ),
        }
        .into());
    }
    let config = CharLm::config_from_json(path, &loaded.config["model"])?;
    let mut model = CharLm::new(config, &mut rnn::init::rng(0))?;
    let mut tensors: BTreeMap<String, ArrayD<f64>> = loaded.tensors;
    for (name, mut p) in model.params_mut() {
        let t = tensors
            .remove(&name)
            .ok_or_else(|| rnn::Error::MissingTensor {
                path: path.to_path_buf(),
                name: name.clone(),
                available: "see `rnn.*`, `decoder.*`".into(),
            })?;
        if t.shape() != p.shape() {
            return Err(rnn::Error::ShapeMismatch {
                path: path.to_path_buf(),
                name,
                expected: p.shape().to_vec(),
                found: t.shape().to_vec(),
            }
            .into());
        }
        p.assign(&t);
    }
    let mut optim = Vec::new();
    let mut hs = BTreeMap::new();
    let mut cs = BTreeMap::new();
    let mut unexpected = Vec::new();
    for (name, t) in tensors {
        if let Some(n) = name.strip_prefix("optim.") {
            optim.push((n.to_string(), t));
        } else if let Some(k) = name
            .strip_prefix("state.h_l")
            .and_then(|k| k.parse::<usize>().ok())
        {
            hs.insert(k, t);
        } else if let Some(k) = name
            .strip_prefix("state.c_l")
            .and_then(|k| k.parse::<usize>().ok())
        {
            cs.insert(k, t);
        } else {
            unexpected.push(name);
        }
    }
    if !unexpected.is_empty() {
        return Err(rnn::Error::UnexpectedTensors {
            path: path.to_path_buf(),
            names: unexpected.join(", "),
        }
        .into());
    }
    let mut states = Vec::new();
    for (k, h) in hs {
        let as2 = |t: ArrayD<f64>| {
            t.into_dimensionality::<Ix2>()
                .map_err(|_| rnn::Error::CorruptCheckpoint {
                    path: path.to_path_buf(),
                    reason: format!("carried state of layer {k} is not (B, H)"),
                })
        };
        let c = cs.remove(&k).map(as2).transpose()?;
        states.push(State { h: as2(h)?, c });
    }
    Ok((
        model,
        RunState {
            optim,
            states,
            config: loaded.config,
        },
    ))
}
