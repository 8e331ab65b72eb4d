//! Keras interop: the weights of Keras' `SimpleRNN`, `LSTM` and `GRU` layers (and of stacks and
//! `Bidirectional` wrappers of them) as the library's PyTorch-named tensors, and back.
//!
//! The library names, shapes and orders its parameters as PyTorch does ([`crate::checkpoint`]). Keras
//! stores the same numbers differently: batches-as-rows matrices `(D, G·H)` instead of `(G·H, D)`, one
//! kernel per side, a single bias (or two stacked ones for the GRU), and the GRU's gates in another order.
//!
//! | Keras (one layer, one direction) | shape | PyTorch / the library | shape |
//! |---|---|---|---|
//! | `kernel` | (D, G·H) | `weight_ih_l{k}` = `kernel`ᵀ (blocks reordered for the GRU) | (G·H, D) |
//! | `recurrent_kernel` | (H, G·H) | `weight_hh_l{k}` = `recurrent_kernel`ᵀ (same) | (G·H, H) |
//! | `bias`, `SimpleRNN`, `LSTM`, `GRU(reset_after=False)` | (G·H,) | `bias_ih_l{k}` = `bias`, `bias_hh_l{k}` = 0 | (G·H,) each |
//! | `bias`, `GRU(reset_after=True)` | (2, 3H) | `bias_ih_l{k}` = `bias[0]`, `bias_hh_l{k}` = `bias[1]` | (3H,) each |
//!
//! | Keras layer | G | Keras gate order | library cell |
//! |---|---|---|---|
//! | `SimpleRNN` (activation `"tanh"` / `"relu"`) | 1 | — | [`CellKind::RnnTanh`] / [`CellKind::RnnRelu`] |
//! | `LSTM` | 4 | i, f, c, o (= PyTorch's i, f, g, o) | [`CellKind::Lstm`] (no variant options) |
//! | `GRU(reset_after=True)` (the Keras 3 default) | 3 | z, r, h (PyTorch: r, z, n) | [`CellKind::Gru`], [`GruVariant::ResetAfter`] (`nn.GRU`) |
//! | `GRU(reset_after=False)` | 3 | z, r, h | [`CellKind::Gru`], [`GruVariant::ResetBefore`] (Cho et al. 2014) |
//!
//! Both GRUs update `h' = (1 - z) ⊙ n + z ⊙ h`, as the library does, so only the first two blocks of H
//! columns swap places. Keras' activations must be its defaults (`tanh`, and `sigmoid` for the gates:
//! Keras 2's old `hard_sigmoid` is another function and does not convert).
//!
//! Export sums the two biases where Keras has one: `bias = bias_ih + bias_hh`. The network computes the
//! same function (the two biases only ever enter as their sum), but the split is lost: a PyTorch → Keras →
//! PyTorch round trip returns `bias_ih + bias_hh` and a zero `bias_hh`. The reset-after GRU keeps both
//! biases (`b_hn` sits inside `r ⊙ (W_hn h + b_hn)`), so its round trip is the identity; Keras → PyTorch
//! → Keras is the identity for every layer.
//!
//! # Names on the Keras side
//! Keras 3 reports paths such as `lstm/lstm_cell/kernel` or
//! `bidirectional/backward_lstm/lstm_cell/recurrent_kernel`, which depend on how many layers a session
//! made. This module uses names by position instead, `layer{k}.{tensor}` for layer k of a stack, and
//! `layer{k}.forward.{tensor}` / `layer{k}.backward.{tensor}` inside a `Bidirectional` (merge mode
//! `"concat"`), which become PyTorch's `_l{k}` and `_l{k}_reverse`. Layer k > 0 reads the previous
//! layer's output, `(D, G·H)` with D = H or 2H, the forward features first in both frameworks.
//!
//! ```
//! use rnn::prelude::*;
//! use rnn::stack::Rnn;
//!
//! let model = Rnn::new(3, 4, 1, false, 0.0, Gru::new, &mut rnn::init::rng(0)).unwrap();
//! let keras = rnn::interop::model_to_keras(&model).unwrap();
//! assert_eq!(keras.get("layer0.kernel").unwrap().shape(), &[3, 12]); // (D, 3H)
//! assert_eq!(keras.get("layer0.bias").unwrap().shape(), &[2, 12]); // reset_after=True
//! let back = rnn::interop::from_keras(&keras, model.config().unwrap().cell).unwrap();
//! assert_eq!(Rnn::<rnn::cells::AnyCell>::from_checkpoint(&back).unwrap().params(), model.params());
//! ```

use std::collections::{BTreeMap, BTreeSet};

use ndarray::{concatenate, stack, ArrayD, ArrayViewD, Axis};
use serde_json::{json, Value};

use crate::cells::{AnyCell, Cell, CellConfig, CellKind, GruVariant};
use crate::checkpoint::{Checkpoint, RnnConfig};
use crate::params::Parameters;
use crate::stack::Rnn;
use crate::{Error, Result};

/// The Keras layer a cell is, in words, or [`Error::Config`] for a cell Keras has no layer for.
fn keras_layer(cell: &CellConfig) -> Result<&'static str> {
    cell.validate()?;
    Ok(match cell.kind {
        CellKind::RnnTanh | CellKind::RnnRelu => "SimpleRNN",
        CellKind::Gru if cell.gru_variant == GruVariant::ResetAfter => "GRU (reset_after=True)",
        CellKind::Gru => "GRU (reset_after=False)",
        CellKind::Lstm if cell.lstm_flags().iter().all(|(_, on)| !on) => "LSTM",
        CellKind::Lstm => {
            return Err(Error::Config(format!(
                "Keras' LSTM layer is the plain LSTM (4 gates), this cell is {}",
                cell.describe()
            )))
        }
    })
}

/// Whether Keras stores two biases `(2, 3H)` (reset-after GRU) rather than one `(G·H,)`.
fn two_biases(cell: &CellConfig) -> bool {
    cell.kind == CellKind::Gru && cell.gru_variant == GruVariant::ResetAfter
}

/// `t` with its blocks of H entries along `axis` in the other framework's gate order: the GRU's first two
/// blocks swap (Keras z, r, h ↔ PyTorch r, z, n; the swap is its own inverse), other cells are unchanged.
fn reorder(t: ArrayViewD<'_, f64>, axis: usize, cell: &CellConfig) -> ArrayD<f64> {
    if cell.kind != CellKind::Gru {
        return t.to_owned();
    }
    let h = t.shape()[axis] / 3;
    let block = |b: usize| t.slice_axis(Axis(axis), (b * h..(b + 1) * h).into());
    concatenate(Axis(axis), &[block(1), block(0), block(2)]).expect("blocks of equal shape")
}

/// A 2-D tensor transposed, in standard (row-major) layout.
fn transposed(t: ArrayD<f64>) -> ArrayD<f64> {
    t.reversed_axes().as_standard_layout().into_owned()
}

/// The Keras name stem of layer `k`, direction `reverse`: `layer0.`, `layer0.forward.`, `layer0.backward.`.
fn keras_stem(k: usize, reverse: bool, bidirectional: bool) -> String {
    match (bidirectional, reverse) {
        (false, _) => format!("layer{k}."),
        (true, false) => format!("layer{k}.forward."),
        (true, true) => format!("layer{k}.backward."),
    }
}

/// The PyTorch name suffix of layer `k`, direction `reverse`: `_l0`, `_l0_reverse`.
fn torch_suffix(k: usize, reverse: bool) -> String {
    if reverse {
        format!("_l{k}_reverse")
    } else {
        format!("_l{k}")
    }
}

/// `layer{k}.[forward.|backward.]{tensor}` split into (k, direction if bidirectional, tensor).
fn parse_keras_name(name: &str) -> Option<(usize, Option<bool>, &str)> {
    let (k, rest) = name.strip_prefix("layer")?.split_once('.')?;
    let k = k.parse().ok()?;
    let (dir, tensor) = match rest.split_once('.') {
        Some(("forward", t)) => (Some(false), t),
        Some(("backward", t)) => (Some(true), t),
        Some(_) => return None,
        None => (None, rest),
    };
    ["kernel", "recurrent_kernel", "bias"]
        .contains(&tensor)
        .then_some((k, dir, tensor))
}

/// The tensors of a Keras `SimpleRNN`, `LSTM` or `GRU` stack (named as in the [module docs](self)) as a
/// checkpoint with PyTorch's names and shapes and a network config, ready for
/// [`Rnn::from_checkpoint`](crate::stack::Rnn::from_checkpoint) or [`Checkpoint::load_into`].
///
/// `cell` says which layer the weights come from (see the table in the [module docs](self)); Keras'
/// single biases become `bias_ih`, with `bias_hh` zero. D and H are read from `layer0`'s tensors, depth and
/// directions from the names. Errors, each naming the tensor: [`Error::MissingTensor`],
/// [`Error::WrongModel`] for a tensor whose shape is not the one expected (with the expected shape),
/// [`Error::UnexpectedTensors`] for names that are not a Keras layer's, [`Error::Config`] for a cell
/// Keras has no layer for (an LSTM with peepholes, ...).
pub fn from_keras(keras: &Checkpoint, cell: CellConfig) -> Result<Checkpoint> {
    let layer_name = keras_layer(&cell)?;
    let g = cell.num_gates();
    let parsed: Vec<_> = keras.names().filter_map(parse_keras_name).collect();
    let num_layers = parsed.iter().map(|(k, _, _)| k + 1).max().unwrap_or(0);
    let bidirectional = parsed.iter().any(|(_, dir, _)| dir.is_some());
    let get = |name: &str| {
        keras.get(name).ok_or_else(|| Error::MissingTensor {
            path: keras.path.clone(),
            name: name.to_string(),
            available: available(keras),
        })
    };
    // H from layer 0's recurrent kernel (H, G·H), D from its kernel (D, G·H).
    let stem0 = keras_stem(0, false, bidirectional);
    let first = |name: &str| get(&format!("{stem0}{name}")).map(|t| t.shape().first().copied());
    let d0 = first("kernel")?.unwrap_or(0);
    let h = first("recurrent_kernel")?.unwrap_or(0);
    let dirs = if bidirectional { 2 } else { 1 };

    let mut tensors = BTreeMap::new();
    let mut used = BTreeSet::new();
    for k in 0..num_layers {
        for reverse in (0..dirs).map(|dir| dir == 1) {
            let stem = keras_stem(k, reverse, bidirectional);
            let d = if k == 0 { d0 } else { dirs * h };
            let (d_text, gh_text) = (if k == 0 { "D" } else { "dirs·H" }, gh_name(g));
            let bias_shape = if two_biases(&cell) {
                vec![2, g * h]
            } else {
                vec![g * h]
            };
            let bias_text = if two_biases(&cell) {
                "(2, 3H)"
            } else {
                "(G·H,)"
            };
            let mut checked = |tensor: &str, expected: &[usize], formula: String| {
                let name = format!("{stem}{tensor}");
                let t = get(&name)?;
                if t.shape() != expected {
                    let reason = format!(
                        "Keras tensor `{name}` has shape {:?}, expected {expected:?}: the {tensor} of a \
                         Keras {layer_name} layer is {formula}, here with D = {d0} and H = {h} (read from \
                         `{stem0}kernel` and `{stem0}recurrent_kernel`){}",
                        t.shape(),
                        bias_hint(&cell, tensor, t.shape(), g * h)
                    );
                    return Err(Error::WrongModel {
                        path: keras.path.clone(),
                        reason,
                    });
                }
                used.insert(name);
                Ok(t.view())
            };
            let kernel = checked("kernel", &[d, g * h], format!("({d_text}, {gh_text})"))?;
            let recurrent = checked("recurrent_kernel", &[h, g * h], format!("(H, {gh_text})"))?;
            let bias = checked("bias", &bias_shape, bias_text.to_string())?;

            let sfx = torch_suffix(k, reverse);
            // weight_ih = kernelᵀ, its blocks of H rows in PyTorch's gate order             (G·H, D)
            let w_ih = transposed(reorder(kernel, 1, &cell));
            // weight_hh = recurrent_kernelᵀ, reordered the same way                           (G·H, H)
            let w_hh = transposed(reorder(recurrent, 1, &cell));
            let (b_ih, b_hh) = if two_biases(&cell) {
                // bias = [input bias; recurrent bias]                                           (2, 3H)
                let row = |i: usize| reorder(bias.index_axis(Axis(0), i), 0, &cell);
                (row(0), row(1))
            } else {
                // one bias: all of it on the input side                                        (G·H,)
                (reorder(bias, 0, &cell), ArrayD::zeros(vec![g * h]))
            };
            tensors.insert(format!("weight_ih{sfx}"), w_ih);
            tensors.insert(format!("weight_hh{sfx}"), w_hh);
            tensors.insert(format!("bias_ih{sfx}"), b_ih);
            tensors.insert(format!("bias_hh{sfx}"), b_hh);
        }
    }
    let extra: Vec<&str> = keras.names().filter(|n| !used.contains(*n)).collect();
    if !extra.is_empty() {
        return Err(Error::UnexpectedTensors {
            path: keras.path.clone(),
            names: extra.join(", "),
        });
    }
    let config = RnnConfig {
        cell,
        input_size: d0,
        hidden_size: h,
        num_layers,
        bidirectional,
        dropout: 0.0,
    };
    config.validate()?;
    Ok(Checkpoint {
        tensors,
        config: Some(config.to_json()),
        path: keras.path.clone(),
    })
}

/// "4H", "3H", "H".
fn gh_name(g: usize) -> String {
    if g == 1 {
        "H".into()
    } else {
        format!("{g}H")
    }
}

/// The sentence that points from a GRU bias of the other variant's shape to the right variant.
fn bias_hint(cell: &CellConfig, tensor: &str, found: &[usize], gh: usize) -> &'static str {
    if tensor != "bias" || cell.kind != CellKind::Gru {
        return "";
    }
    match (cell.gru_variant, found) {
        (GruVariant::ResetAfter, [n]) if *n == gh => {
            ". A bias (3H,) is that of a Keras GRU with reset_after=False: convert it as \
             GruVariant::ResetBefore"
        }
        (GruVariant::ResetBefore, [2, n]) if *n == gh => {
            ". A bias (2, 3H) is that of a Keras GRU with reset_after=True (the default): convert it as \
             GruVariant::ResetAfter"
        }
        _ => "",
    }
}

/// The checkpoint's tensor names, comma-separated, for [`Error::MissingTensor`].
fn available(ck: &Checkpoint) -> String {
    let names: Vec<&str> = ck.names().collect();
    if names.is_empty() {
        "no tensors".into()
    } else {
        names.join(", ")
    }
}

/// A PyTorch-named checkpoint of a `nn.RNN` / `nn.LSTM` / `nn.GRU` stack (or one written by
/// [`Rnn::save`](crate::stack::Rnn::save)) as the tensors of the Keras layers that compute the same
/// function, named as in the [module docs](self). The cell and sizes come from the checkpoint's config
/// or, for a file without one, from [`RnnConfig::infer`] (PyTorch's defaults: tanh, reset-after GRU).
/// The tensors are checked as [`Checkpoint::load_into`] checks them, with its errors.
pub fn to_keras(pytorch: &Checkpoint) -> Result<Checkpoint> {
    let config = match pytorch.rnn_config()? {
        Some(c) => c,
        None => RnnConfig::infer(pytorch, "")?,
    };
    let model = Rnn::<AnyCell>::from_checkpoint_with(pytorch, &config)?;
    let mut keras = model_to_keras(&model)?;
    keras.path = pytorch.path.clone();
    Ok(keras)
}

/// [`to_keras`] for a network in memory: its parameters as Keras tensors, in a checkpoint whose config
/// describes the Keras layers to build (`keras_layer`, `units`, `input_size`, `num_layers`,
/// `bidirectional`, and `reset_after` or `activation` where they apply). [`Error::Config`] if the cells do
/// not report their kind ([`Rnn::config`]) or Keras has no such layer.
pub fn model_to_keras<C: Cell>(model: &Rnn<C>) -> Result<Checkpoint> {
    let config = model.config().ok_or_else(|| {
        Error::Config("the network's cells do not report their kind, so no Keras layer fits".into())
    })?;
    let cell = config.cell;
    keras_layer(&cell)?;
    let params: BTreeMap<String, ArrayViewD<'_, f64>> = model.params().into_iter().collect();
    let dirs = if config.bidirectional { 2 } else { 1 };
    let mut tensors = BTreeMap::new();
    for k in 0..config.num_layers {
        for reverse in (0..dirs).map(|dir| dir == 1) {
            let sfx = torch_suffix(k, reverse);
            let p = |name: &str| {
                let name = format!("{name}{sfx}");
                params
                    .get(&name)
                    .map(|t| t.view())
                    .ok_or_else(|| Error::MissingTensor {
                        path: "(a network in memory)".into(),
                        name,
                        available: params.keys().cloned().collect::<Vec<_>>().join(", "),
                    })
            };
            let stem = keras_stem(k, reverse, config.bidirectional);
            // kernel = weight_ihᵀ with Keras' gate order                                       (D, G·H)
            let kernel = transposed(reorder(p("weight_ih")?, 0, &cell));
            // recurrent_kernel = weight_hhᵀ                                                    (H, G·H)
            let recurrent = transposed(reorder(p("weight_hh")?, 0, &cell));
            let (b_ih, b_hh) = (
                reorder(p("bias_ih")?, 0, &cell),
                reorder(p("bias_hh")?, 0, &cell),
            );
            let bias = if two_biases(&cell) {
                // [input bias; recurrent bias]                                                 (2, 3H)
                stack(Axis(0), &[b_ih.view(), b_hh.view()]).expect("equal shapes")
            } else {
                // one bias: the sum (the split between the two is lost)                       (G·H,)
                b_ih + b_hh
            };
            tensors.insert(format!("{stem}kernel"), kernel);
            tensors.insert(format!("{stem}recurrent_kernel"), recurrent);
            tensors.insert(format!("{stem}bias"), bias);
        }
    }
    Ok(Checkpoint {
        tensors,
        config: Some(keras_config(&config)),
        path: "(a network in memory)".into(),
    })
}

/// The config [`model_to_keras`] writes: what a Python program needs to build the Keras layers.
pub fn keras_config(config: &RnnConfig) -> Value {
    let cell = &config.cell;
    let mut v = json!({
        "keras_layer": match cell.kind {
            CellKind::RnnTanh | CellKind::RnnRelu => "SimpleRNN",
            CellKind::Lstm => "LSTM",
            CellKind::Gru => "GRU",
        },
        "units": config.hidden_size,
        "input_size": config.input_size,
        "num_layers": config.num_layers,
        "bidirectional": config.bidirectional,
    });
    match cell.kind {
        CellKind::Gru => v["reset_after"] = two_biases(cell).into(),
        CellKind::RnnTanh => v["activation"] = "tanh".into(),
        CellKind::RnnRelu => v["activation"] = "relu".into(),
        CellKind::Lstm => {}
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array3;

    fn cell(kind: CellKind, variant: GruVariant) -> CellConfig {
        CellConfig {
            gru_variant: variant,
            ..CellConfig::new(kind)
        }
    }

    /// A 2-layer bidirectional network of `cell` with random weights and clearly non-zero biases.
    fn model(cell: CellConfig, seed: u64) -> Rnn<AnyCell> {
        let config = RnnConfig {
            cell,
            input_size: 3,
            hidden_size: 4,
            num_layers: 2,
            bidirectional: true,
            dropout: 0.0,
        };
        let mut m = Rnn::from_config(&config, &mut crate::init::rng(seed)).unwrap();
        let mut rng = crate::init::rng(seed + 1);
        for (name, mut p) in m.params_mut() {
            if name.starts_with("bias") {
                p += &crate::init::normal(p.shape(), 0.5, &mut rng);
            }
        }
        m
    }

    fn outputs(m: &Rnn<AnyCell>) -> Array3<f64> {
        let x = crate::init::uniform(&[5, 2, 3], -1.0, 1.0, &mut crate::init::rng(9));
        m.forward(x.into_dimensionality().unwrap().view(), None, None)
            .0 // (T, B, 2H)
    }

    fn max_diff(a: &Array3<f64>, b: &Array3<f64>) -> f64 {
        (a - b).iter().fold(0.0, |m, d| m.max(d.abs()))
    }

    const CELLS: [(CellKind, GruVariant); 5] = [
        (CellKind::RnnTanh, GruVariant::ResetAfter),
        (CellKind::RnnRelu, GruVariant::ResetAfter),
        (CellKind::Lstm, GruVariant::ResetAfter),
        (CellKind::Gru, GruVariant::ResetAfter),
        (CellKind::Gru, GruVariant::ResetBefore),
    ];

    /// PyTorch → Keras → PyTorch: weights exact; the reset-after GRU exact throughout; the other cells
    /// end with bias_ih + bias_hh and a zero bias_hh, and compute the same outputs.
    #[test]
    fn interop_round_trip_from_pytorch() {
        for (kind, variant) in CELLS {
            let c = cell(kind, variant);
            let m = model(c, 1);
            let keras = model_to_keras(&m).unwrap();
            let back = Rnn::<AnyCell>::from_checkpoint(&from_keras(&keras, c).unwrap()).unwrap();
            assert_eq!(back.config(), m.config());
            let theirs: BTreeMap<_, _> = m.params().into_iter().collect();
            for (name, p) in back.params() {
                let sfx = &name[name.find("_l").unwrap()..];
                let expected = match &name[..name.find("_l").unwrap()] {
                    "bias_ih" if !two_biases(&c) => {
                        &theirs[name.as_str()] + &theirs[format!("bias_hh{sfx}").as_str()]
                    }
                    "bias_hh" if !two_biases(&c) => ArrayD::zeros(p.shape()),
                    _ => theirs[name.as_str()].to_owned(),
                };
                assert_eq!(p, expected, "{kind} {variant:?}: `{name}`");
            }
            let d = max_diff(&outputs(&m), &outputs(&back));
            assert!(d < 1e-14, "{kind} {variant:?}: outputs changed by {d:e}");
        }
    }

    /// Keras → PyTorch → Keras is the identity for every layer, bit for bit.
    #[test]
    fn interop_round_trip_from_keras() {
        for (kind, variant) in CELLS {
            let c = cell(kind, variant);
            let keras = model_to_keras(&model(c, 3)).unwrap();
            let again = to_keras(&from_keras(&keras, c).unwrap()).unwrap();
            assert_eq!(again.tensors, keras.tensors, "{kind} {variant:?}");
            assert_eq!(again.config, keras.config, "{kind} {variant:?}");
        }
    }

    /// The GRU's blocks move: Keras' z (kernel columns 0..H) becomes PyTorch's z (weight_ih rows H..2H),
    /// Keras' r (columns H..2H) PyTorch's r (rows 0..H); the candidate stays last. (A round trip cannot
    /// see a missing swap, since it would be undone on the way back: this test can.)
    #[test]
    fn interop_gru_gates_are_reordered() {
        let (d, h) = (2, 3);
        let kernel = ArrayD::from_shape_fn(vec![d, 3 * h], |ix| (10 * ix[0] + ix[1]) as f64);
        let keras = Checkpoint {
            tensors: BTreeMap::from([
                ("layer0.kernel".into(), kernel.clone()),
                (
                    "layer0.recurrent_kernel".into(),
                    ArrayD::zeros(vec![h, 3 * h]),
                ),
                ("layer0.bias".into(), ArrayD::zeros(vec![2, 3 * h])),
            ]),
            config: None,
            path: "gru.safetensors".into(),
        };
        let torch = from_keras(&keras, CellConfig::new(CellKind::Gru)).unwrap();
        let w_ih = &torch.tensors["weight_ih_l0"]; // (3H, D), rows r, z, n
        for i in 0..d {
            for j in 0..h {
                assert_eq!(w_ih[[j, i]], kernel[[i, h + j]], "r");
                assert_eq!(w_ih[[h + j, i]], kernel[[i, j]], "z");
                assert_eq!(w_ih[[2 * h + j, i]], kernel[[i, 2 * h + j]], "n");
            }
        }
    }

    /// Wrong shapes, missing and unknown tensors and cells Keras lacks are errors that say which tensor
    /// and what was expected.
    #[test]
    fn interop_errors_name_the_tensor() {
        let lstm = CellConfig::new(CellKind::Lstm);
        let good = model_to_keras(&model(lstm, 5)).unwrap();
        assert!(from_keras(&good, lstm).is_ok());

        let mut bad = good.clone();
        bad.tensors
            .insert("layer1.backward.kernel".into(), ArrayD::zeros(vec![8, 15]));
        let msg = from_keras(&bad, lstm).unwrap_err().to_string();
        assert!(
            msg.contains("`layer1.backward.kernel` has shape [8, 15], expected [8, 16]"),
            "{msg}"
        );
        assert!(msg.contains("(dirs·H, 4H)"), "{msg}");

        let mut missing = good.clone();
        missing.tensors.remove("layer0.forward.recurrent_kernel");
        let e = from_keras(&missing, lstm).unwrap_err();
        assert!(
            matches!(&e, Error::MissingTensor { name, .. } if name == "layer0.forward.recurrent_kernel"),
            "{e}"
        );

        let mut extra = good.clone();
        extra
            .tensors
            .insert("layer0.forward.gamma".into(), ArrayD::zeros(vec![4]));
        let msg = from_keras(&extra, lstm).unwrap_err().to_string();
        assert!(msg.contains("layer0.forward.gamma"), "{msg}");

        // A reset-before GRU's bias read as reset-after: the message points to the other variant.
        let before = cell(CellKind::Gru, GruVariant::ResetBefore);
        let keras = model_to_keras(&model(before, 7)).unwrap();
        let msg = from_keras(&keras, CellConfig::new(CellKind::Gru))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("expected [2, 12]"), "{msg}");
        assert!(msg.contains("GruVariant::ResetBefore"), "{msg}");

        let peephole = CellConfig {
            peephole: true,
            ..lstm
        };
        let e = from_keras(&good, peephole).unwrap_err();
        assert!(matches!(e, Error::Config(_)), "{e}");

        let empty = Checkpoint {
            tensors: BTreeMap::new(),
            config: None,
            path: "empty.safetensors".into(),
        };
        let e = from_keras(&empty, lstm).unwrap_err();
        assert!(matches!(e, Error::MissingTensor { .. }), "{e}");
    }
}
