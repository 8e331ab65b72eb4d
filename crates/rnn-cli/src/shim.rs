//! Stand-ins for `rnn::optim` and `rnn::checkpoint` while those modules are being written on other branches.
//!
//! The API mirrors the announced one (`Optimizer::{step, lr, set_lr, state, load_state}`,
//! `clip_by_global_norm`, `clip_by_value`, atomic safetensors checkpoints with a JSON config), so switching
//! to the library is a change of `use` lines.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{bail, Context, Result};
use ndarray::{ArrayD, IxDyn, Zip};
use rnn::params::Parameters;

/// An optimiser: updates parameters from their gradients, with state that checkpoints save.
pub trait Optimizer {
    /// One update of `params` from `grads` (same names and shapes).
    fn step(&mut self, params: &mut dyn Parameters, grads: &dyn Parameters);
    /// Current learning rate.
    #[allow(dead_code)]
    fn lr(&self) -> f64;
    /// Sets the learning rate (schedules).
    fn set_lr(&mut self, lr: f64);
    /// Every state tensor, named.
    fn state(&self) -> Vec<(String, ArrayD<f64>)>;
    /// Restores the state saved by [`Optimizer::state`].
    fn load_state(&mut self, state: Vec<(String, ArrayD<f64>)>) -> Result<()>;
}

/// The optimisers the CLI offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Sgd,
    Momentum,
    Adagrad,
    RmsProp,
    Adam,
}

/// One optimiser covering every [`Kind`], with PyTorch's default hyper-parameters.
pub struct Shim {
    kind: Kind,
    lr: f64,
    t: u64,
    /// Per parameter: the slots (velocity; or sum of squares; or first and second moments).
    slots: BTreeMap<String, Vec<ArrayD<f64>>>,
}

impl Shim {
    pub fn new(kind: Kind, lr: f64) -> Self {
        Shim {
            kind,
            lr,
            t: 0,
            slots: BTreeMap::new(),
        }
    }

    fn n_slots(&self) -> usize {
        match self.kind {
            Kind::Sgd => 0,
            Kind::Momentum | Kind::Adagrad | Kind::RmsProp => 1,
            Kind::Adam => 2,
        }
    }
}

impl Optimizer for Shim {
    fn step(&mut self, params: &mut dyn Parameters, grads: &dyn Parameters) {
        self.t += 1;
        let n_slots = self.n_slots();
        let (kind, lr, t) = (self.kind, self.lr, self.t as i32);
        let grads = grads.params();
        for ((name, mut p), (gname, g)) in params.params_mut().into_iter().zip(grads) {
            assert_eq!(
                name, gname,
                "optimiser: parameter and gradient lists differ"
            );
            let slots = self
                .slots
                .entry(name)
                .or_insert_with(|| vec![ArrayD::zeros(g.raw_dim()); n_slots]);
            match kind {
                Kind::Sgd => p.scaled_add(-lr, &g),
                Kind::Momentum => {
                    let v = &mut slots[0];
                    Zip::from(&mut *v)
                        .and(&g)
                        .for_each(|v, &g| *v = 0.9 * *v + g);
                    p.scaled_add(-lr, v);
                }
                Kind::Adagrad => {
                    let s = &mut slots[0];
                    Zip::from(&mut p).and(&mut *s).and(&g).for_each(|p, s, &g| {
                        *s += g * g;
                        *p -= lr * g / (s.sqrt() + 1e-10);
                    });
                }
                Kind::RmsProp => {
                    let s = &mut slots[0];
                    Zip::from(&mut p).and(&mut *s).and(&g).for_each(|p, s, &g| {
                        *s = 0.99 * *s + 0.01 * g * g;
                        *p -= lr * g / (s.sqrt() + 1e-8);
                    });
                }
                Kind::Adam => {
                    let (b1, b2) = (0.9f64, 0.999f64);
                    let (c1, c2) = (1.0 - b1.powi(t), 1.0 - b2.powi(t));
                    let (m, rest) = slots.split_at_mut(1);
                    Zip::from(&mut p)
                        .and(&mut m[0])
                        .and(&mut rest[0])
                        .and(&g)
                        .for_each(|p, m, v, &g| {
                            *m = b1 * *m + (1.0 - b1) * g;
                            *v = b2 * *v + (1.0 - b2) * g * g;
                            *p -= lr * (*m / c1) / ((*v / c2).sqrt() + 1e-8);
                        });
                }
            }
        }
    }

    fn lr(&self) -> f64 {
        self.lr
    }

    fn set_lr(&mut self, lr: f64) {
        self.lr = lr;
    }

    fn state(&self) -> Vec<(String, ArrayD<f64>)> {
        let mut out = vec![(
            "step".to_string(),
            ArrayD::from_elem(IxDyn(&[1]), self.t as f64),
        )];
        for (name, slots) in &self.slots {
            for (i, s) in slots.iter().enumerate() {
                out.push((format!("slot{i}.{name}"), s.clone()));
            }
        }
        out
    }

    fn load_state(&mut self, state: Vec<(String, ArrayD<f64>)>) -> Result<()> {
        self.slots.clear();
        self.t = 0;
        for (name, tensor) in state {
            if name == "step" {
                self.t = tensor.iter().next().copied().unwrap_or(0.0) as u64;
                continue;
            }
            let Some((slot, pname)) = name.split_once('.') else {
                bail!("unexpected optimiser state tensor `{name}`");
            };
            let i: usize = slot
                .strip_prefix("slot")
                .and_then(|s| s.parse().ok())
                .with_context(|| format!("unexpected optimiser state tensor `{name}`"))?;
            if i >= self.n_slots() {
                bail!("optimiser state tensor `{name}` does not belong to this optimiser");
            }
            let n = self.n_slots();
            let slots = self
                .slots
                .entry(pname.to_string())
                .or_insert_with(|| vec![ArrayD::zeros(tensor.raw_dim()); n]);
            slots[i] = tensor;
        }
        Ok(())
    }
}

/// Scales all gradients so their global L2 norm is at most `max_norm`; returns the norm before clipping.
pub fn clip_by_global_norm(grads: &mut dyn Parameters, max_norm: f64) -> f64 {
    let norm = grads
        .params()
        .iter()
        .map(|(_, g)| g.iter().map(|v| v * v).sum::<f64>())
        .sum::<f64>()
        .sqrt();
    if norm > max_norm {
        let scale = max_norm / (norm + 1e-6);
        for (_, mut g) in grads.params_mut() {
            g.mapv_inplace(|v| v * scale);
        }
    }
    norm
}

/// Clamps every gradient entry to [-limit, limit].
pub fn clip_by_value(grads: &mut dyn Parameters, limit: f64) {
    for (_, mut g) in grads.params_mut() {
        g.mapv_inplace(|v| v.clamp(-limit, limit));
    }
}

/// Writes tensors and a JSON config as safetensors (f64), atomically.
pub fn save(
    path: &Path,
    tensors: &[(String, ArrayD<f64>)],
    config: &serde_json::Value,
) -> Result<()> {
    let bytes: Vec<(String, Vec<u8>, Vec<usize>)> = tensors
        .iter()
        .map(|(n, t)| {
            let data: Vec<u8> = t.iter().flat_map(|v| v.to_le_bytes()).collect();
            (n.clone(), data, t.shape().to_vec())
        })
        .collect();
    let views = bytes
        .iter()
        .map(|(n, d, s)| {
            safetensors::tensor::TensorView::new(safetensors::Dtype::F64, s.clone(), d)
                .map(|v| (n.clone(), v))
        })
        .collect::<std::result::Result<Vec<_>, _>>()
        .context("cannot build checkpoint tensors")?;
    let meta = std::collections::HashMap::from([("config".to_string(), config.to_string())]);
    let out = safetensors::serialize(views, &Some(meta)).context("cannot serialise checkpoint")?;
    rnn::files::write_atomic(path, &out)?;
    Ok(())
}

/// A loaded checkpoint: tensors by name and the JSON config.
pub struct Loaded {
    pub tensors: BTreeMap<String, ArrayD<f64>>,
    pub config: serde_json::Value,
}

/// Reads a checkpoint written by [`save`], with clear errors for missing and corrupt files.
pub fn load(path: &Path) -> Result<Loaded> {
    let bytes = std::fs::read(path).map_err(|source| rnn::Error::Io {
        action: "read",
        path: path.to_path_buf(),
        source,
    })?;
    let corrupt = |reason: String| rnn::Error::CorruptCheckpoint {
        path: path.to_path_buf(),
        reason,
    };
    let st = safetensors::SafeTensors::deserialize(&bytes)
        .map_err(|e| corrupt(format!("not a safetensors file ({e})")))?;
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes)
        .map_err(|e| corrupt(format!("unreadable header ({e})")))?;
    let config_text = meta
        .metadata()
        .as_ref()
        .and_then(|m| m.get("config"))
        .ok_or_else(|| corrupt("it has no `config` metadata".into()))?;
    let config: serde_json::Value = serde_json::from_str(config_text)
        .map_err(|e| corrupt(format!("its config is not JSON ({e})")))?;
    let mut tensors = BTreeMap::new();
    for (name, view) in st.tensors() {
        if view.dtype() != safetensors::Dtype::F64 {
            return Err(corrupt(format!(
                "tensor `{name}` is {:?}, expected F64",
                view.dtype()
            ))
            .into());
        }
        let data: Vec<f64> = view
            .data()
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")))
            .collect();
        let t = ArrayD::from_shape_vec(IxDyn(view.shape()), data)
            .map_err(|e| corrupt(format!("tensor `{name}`: {e}")))?;
        tensors.insert(name, t);
    }
    Ok(Loaded { tensors, config })
}
