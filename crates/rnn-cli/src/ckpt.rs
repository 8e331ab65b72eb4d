//! Checkpoints of the CLI: the model's tensors (PyTorch names, see `rnn::models::char_lm`), plus, for
//! resuming, the optimiser state (`optim.*`) and the carried hidden states (`state.h_l{k}`, `state.c_l{k}`, and an FGR LSTM's gates `state.g_l{k}`),
//! with a JSON config holding the model configuration, the training settings and the progress (step, RNG
//! position, best validation loss).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{bail, Context, Result};
use ndarray::{ArrayD, ArrayViewD, Ix2};
use rnn::cells::State;
use rnn::models::char_lm::CharLm;

use rnn::checkpoint::{self, Checkpoint};

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
        // an FGR LSTM's previous gates are part of its state
        if let Some(g) = &s.gates {
            tensors.push((format!("state.g_l{k}"), g.clone().into_dyn()));
        }
    }
    config["format"] = FORMAT.into();
    config["model"] = model.config_json();
    let views: Vec<(String, ArrayViewD<'_, f64>)> =
        tensors.iter().map(|(n, t)| (n.clone(), t.view())).collect();
    checkpoint::save(path, &views, Some(&config))
        .with_context(|| format!("cannot save checkpoint {}", path.display()))
}

/// Loads the model of a checkpoint written by `rnn train` or `CharLm::save` (ignoring optimiser and
/// carried state).
pub fn load_model(path: &Path) -> Result<CharLm> {
    if !path.exists() {
        bail!("checkpoint {} does not exist", path.display());
    }
    Ok(CharLm::load(path)?)
}

/// Loads a checkpoint: the model and the run state.
pub fn load(path: &Path) -> Result<(CharLm, RunState)> {
    if !path.exists() {
        bail!("checkpoint {} does not exist", path.display());
    }
    let mut loaded = Checkpoint::load(path)?;
    let config_json = loaded.config.clone().unwrap_or(serde_json::Value::Null);
    if config_json.get("format").and_then(|f| f.as_str()) != Some(FORMAT) {
        return Err(rnn::Error::CorruptCheckpoint {
            path: path.to_path_buf(),
            reason: format!(
                "it was not written by `rnn train` (no format {FORMAT:?} in its config)"
            ),
        }
        .into());
    }
    let config = CharLm::config_from_json(path, &config_json["model"])?;
    let mut model = CharLm::new(config, &mut rnn::init::rng(0))?;
    let optim = loaded.take_prefix("optim.");
    let mut hs = BTreeMap::new();
    let mut cs = BTreeMap::new();
    let mut gs = BTreeMap::new();
    for (name, t) in loaded.take_prefix("state.") {
        let layer = |p: &str| name.strip_prefix(p).and_then(|k| k.parse::<usize>().ok());
        match (layer("h_l"), layer("c_l"), layer("g_l")) {
            (Some(k), _, _) => {
                hs.insert(k, t);
            }
            (_, Some(k), _) => {
                cs.insert(k, t);
            }
            (_, _, Some(k)) => {
                gs.insert(k, t);
            }
            _ => {
                return Err(rnn::Error::UnexpectedTensors {
                    path: path.to_path_buf(),
                    names: format!("state.{name}"),
                }
                .into())
            }
        }
    }
    // every model tensor present with the right shape, and nothing else (clear errors otherwise)
    loaded.load_into(&mut model)?;
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
        let gates = gs.remove(&k).map(as2).transpose()?;
        states.push(State {
            h: as2(h)?,
            c,
            gates,
        });
    }
    Ok((
        model,
        RunState {
            optim,
            states,
            config: config_json,
        },
    ))
}
