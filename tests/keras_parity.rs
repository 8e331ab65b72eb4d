//! Keras parity: weights of Keras 3 `SimpleRNN`, `LSTM` and `GRU` layers (both `reset_after` settings), also
//! stacked and `Bidirectional`, converted by `rnn::interop`, make the library's [`Rnn`] reproduce Keras
//! (float64, JAX backend) to 1e-10: outputs, final states, and the gradients with respect to the input,
//! the initial states and every Keras weight. The export goes back to exactly the Keras file's tensors.
//!
//! The fixtures `tests/fixtures/keras_*.safetensors` were written by `tools/keras/make_fixtures.py` (see
//! `tools/keras/README.md`); Keras is not needed to run these tests. Keras is batch-major, so `x`,
//! `output`, `r_out` and `grad_x` are `(B, T, ·)` in the files and are transposed to the library's
//! `(T, B, ·)` here. The states `h0`, `h_n`, ... are stacked `(L·dirs, B, H)` in PyTorch's `h_n` order.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ndarray::{Array3, ArrayD, ArrayView3, ArrayViewD, Axis, Ix3};
use rnn::cells::{AnyCell, CellConfig, CellKind, GruVariant};
use rnn::checkpoint::Checkpoint;
use rnn::interop;
use rnn::prelude::*;
use rnn::stack::{states_from_pytorch, states_to_pytorch, Rnn};

/// Largest absolute difference allowed between the library and Keras, for every tensor.
const TOLERANCE: f64 = 1e-10;

fn fixture(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("fixtures")
        .join(file)
}

fn tensors(path: &Path) -> BTreeMap<String, ArrayD<f64>> {
    rnn::tensors::read(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
        .tensors
}

/// `(B, T, F)` ↔ `(T, B, F)`: swapping the first two axes is its own inverse.
fn swap_bt(a: ArrayViewD<'_, f64>) -> Array3<f64> {
    let a = a.into_dimensionality::<Ix3>().expect("a 3-D tensor");
    a.permuted_axes([1, 0, 2]).as_standard_layout().into_owned()
}

/// `(L·dirs, B, H)` tensors as one state per layer and direction.
fn states(h: &ArrayD<f64>, c: Option<&ArrayD<f64>>) -> Vec<State> {
    fn as3(a: &ArrayD<f64>) -> ArrayView3<'_, f64> {
        a.view()
            .into_dimensionality::<Ix3>()
            .expect("(L·dirs, B, H)")
    }
    states_from_pytorch(as3(h), c.map(as3))
}

/// Max |ours - theirs| of every compared tensor (∞ for a NaN); panics at once on a shape mismatch.
#[derive(Default)]
struct Diffs(Vec<(String, f64)>);

impl Diffs {
    fn compare(&mut self, name: &str, ours: ArrayViewD<'_, f64>, theirs: &ArrayD<f64>) {
        assert_eq!(
            ours.shape(),
            theirs.shape(),
            "`{name}`: the library's shape differs from Keras'"
        );
        let d = ours.iter().zip(theirs).fold(0.0_f64, |m, (a, b)| {
            let d = (a - b).abs();
            m.max(if d.is_nan() { f64::INFINITY } else { d })
        });
        self.0.push((name.to_string(), d));
    }

    fn max(&self) -> f64 {
        self.0.iter().map(|(_, d)| *d).fold(0.0, f64::max)
    }

    fn assert_within(&self, config: &str) {
        for (name, d) in &self.0 {
            eprintln!("{config:14} {name:36} max abs diff {d:.3e}");
        }
        eprintln!(
            "{config:14} {} tensors, worst {:.3e}",
            self.0.len(),
            self.max()
        );
        let bad: Vec<String> = self
            .0
            .iter()
            .filter(|(_, d)| *d > TOLERANCE)
            .map(|(n, d)| format!("{n} ({d:.3e})"))
            .collect();
        assert!(
            bad.is_empty(),
            "{config}: {} tensor(s) differ from Keras by more than {TOLERANCE:e}: {}",
            bad.len(),
            bad.join(", ")
        );
    }
}

/// The Keras weights of fixture `name`, as the library's network of cell `cell` (through
/// `rnn::interop::from_keras` and `Rnn::from_checkpoint`).
fn load(name: &str, cell: CellConfig) -> (Checkpoint, Rnn<AnyCell>) {
    let file = format!("keras_{name}.weights.safetensors");
    let keras = Checkpoint::load(&fixture(&file))
        .unwrap_or_else(|e| panic!("cannot read fixture {file}: {e}"));
    let torch =
        interop::from_keras(&keras, cell).unwrap_or_else(|e| panic!("{name}: from_keras: {e}"));
    let model = Rnn::<AnyCell>::from_checkpoint(&torch)
        .unwrap_or_else(|e| panic!("{name}: the converted checkpoint does not build: {e}"));
    (keras, model)
}

/// The model's outputs, final states and gradients on fixture `name`'s data, against Keras'.
fn compare(name: &str, model: &Rnn<AnyCell>, keras: &Checkpoint) -> Diffs {
    let data = tensors(&fixture(&format!("keras_{name}.data.safetensors")));
    let get = |n: &str| {
        data.get(n)
            .unwrap_or_else(|| panic!("fixture keras_{name}.data has no `{n}`"))
    };
    let cell = model.config().unwrap().cell;
    let lstm = cell.kind == CellKind::Lstm;
    let mut diffs = Diffs::default();

    // Forward, from the fixture's initial states.
    let x = swap_bt(get("x").view()); // (T, B, D)
    let init = states(get("h0"), lstm.then(|| get("c0")));
    let (outputs, finals, cache) = model.forward(x.view(), Some(&init), None); // (T, B, dirs·H)
    diffs.compare(
        "output",
        swap_bt(outputs.view().into_dyn()).view().into_dyn(),
        get("output"),
    );
    let (h_n, c_n) = states_to_pytorch(&finals);
    diffs.compare("h_n", h_n.view().into_dyn(), get("h_n"));
    if lstm {
        diffs.compare("c_n", c_n.unwrap().view().into_dyn(), get("c_n"));
    }

    // Backward: ∂loss/∂output = r_out, ∂loss/∂h_n = r_hn, ∂loss/∂c_n = r_cn.
    let d_out = swap_bt(get("r_out").view()); // (T, B, dirs·H)
    let d_last = states(get("r_hn"), lstm.then(|| get("r_cn")));
    let mut grads = model.zeros_like();
    let (dx, d_init) = model.backward(&cache, d_out.view(), Some(&d_last), &mut grads);
    diffs.compare(
        "grad_x",
        swap_bt(dx.view().into_dyn()).view().into_dyn(),
        get("grad_x"),
    );
    let (dh0, dc0) = states_to_pytorch(&d_init);
    diffs.compare("grad_h0", dh0.view().into_dyn(), get("grad_h0"));
    if lstm {
        diffs.compare("grad_c0", dc0.unwrap().view().into_dyn(), get("grad_c0"));
    }

    // The weights' gradients in Keras' layout. from_keras maps a single Keras bias b to (b_ih, b_hh) =
    // (b, 0), so ∂loss/∂b = ∂loss/∂b_ih; a reset-after GRU's (2, 3H) bias is [b_ih; b_hh] itself. With
    // ∂loss/∂b_hh set to zero where Keras has one bias, the export's bias sum is exactly ∂loss/∂b.
    let one_bias = !(cell.kind == CellKind::Gru && cell.gru_variant == GruVariant::ResetAfter);
    if one_bias {
        for (n, mut g) in grads.params_mut() {
            if n.starts_with("bias_hh") {
                g.fill(0.0);
            }
        }
    }
    let keras_grads = interop::model_to_keras(&grads).unwrap();
    for (n, g) in &keras_grads.tensors {
        diffs.compare(&format!("grad.{n}"), g.view(), get(&format!("grad.{n}")));
    }
    let in_fixture = data.keys().filter(|k| k.starts_with("grad.")).count();
    assert_eq!(
        in_fixture,
        keras.tensors.len(),
        "{name}: one gradient per Keras weight"
    );
    assert_eq!(keras_grads.tensors.len(), keras.tensors.len());

    // The fixture must not be trivial, or the comparison proves nothing.
    for (n, t) in &data {
        assert!(
            t.iter().any(|v| v.abs() > 1e-6),
            "keras_{name}.data: `{n}` is (nearly) all zeros"
        );
    }
    diffs
}

/// Loads, runs and compares fixture `name`, and checks that exporting the loaded network gives back the
/// Keras file exactly (its biases included: a zero `bias_hh` adds nothing to the sum).
fn check(name: &str, cell: CellConfig) {
    let (keras, model) = load(name, cell);
    compare(name, &model, &keras).assert_within(name);

    let exported = interop::model_to_keras(&model).unwrap();
    assert_eq!(exported.config, keras.config, "{name}: the Keras config");
    assert_eq!(
        exported.tensors.keys().collect::<Vec<_>>(),
        keras.tensors.keys().collect::<Vec<_>>(),
        "{name}: the exported names"
    );
    for (n, t) in &keras.tensors {
        assert_eq!(
            &exported.tensors[n], t,
            "{name}: `{n}` is not exported exactly"
        );
    }
}

fn gru(variant: GruVariant) -> CellConfig {
    CellConfig {
        gru_variant: variant,
        ..CellConfig::new(CellKind::Gru)
    }
}

#[test]
fn keras_lstm_l1_matches() {
    check("lstm_l1", CellConfig::new(CellKind::Lstm));
}

#[test]
fn keras_gru_reset_after_l1_matches() {
    check("gru_l1", gru(GruVariant::ResetAfter));
}

#[test]
fn keras_gru_reset_before_l1_matches() {
    check("gru_before_l1", gru(GruVariant::ResetBefore));
}

#[test]
fn keras_simple_rnn_l1_matches() {
    check("simple_l1", CellConfig::new(CellKind::RnnTanh));
}

#[test]
fn keras_bidirectional_lstm_l2_matches() {
    check("lstm_l2_bi", CellConfig::new(CellKind::Lstm));
}

/// A PyTorch-named file goes to Keras through `to_keras` as a network in memory does.
#[test]
fn keras_export_of_a_checkpoint_file() {
    let (keras, model) = load("lstm_l2_bi", CellConfig::new(CellKind::Lstm));
    let dir = std::env::temp_dir().join(format!("rnn-keras-parity-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("lstm.safetensors");
    model.save(&path).unwrap();
    let exported = interop::to_keras(&Checkpoint::load(&path).unwrap()).unwrap();
    assert_eq!(exported.tensors, keras.tensors);
    assert_eq!(exported.config, keras.config);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Max |library - Keras| of the outputs alone, for models whose other tensors may not even have Keras'
/// shapes.
fn output_diff(name: &str, model: &Rnn<AnyCell>) -> f64 {
    let data = tensors(&fixture(&format!("keras_{name}.data.safetensors")));
    let init = states(&data["h0"], data.get("c0"));
    let (outputs, _, _) = model.forward(swap_bt(data["x"].view()).view(), Some(&init), None);
    let mut diffs = Diffs::default();
    diffs.compare(
        "output",
        swap_bt(outputs.view().into_dyn()).view().into_dyn(),
        &data["output"],
    );
    diffs.max()
}

/// The comparison can fail: a GRU converted without swapping Keras' z and r blocks, a reset-after GRU
/// read as reset-before, and a 1e-8 change of one weight are all caught.
#[test]
fn keras_parity_catches_mistakes() {
    let (keras, model) = load("gru_l1", gru(GruVariant::ResetAfter));
    assert!(compare("gru_l1", &model, &keras).max() <= TOLERANCE);
    assert!(output_diff("gru_l1", &model) <= TOLERANCE);

    // No reorder: swap the first two blocks of H rows back in every tensor.
    let mut unswapped = model.clone();
    let h = model.hidden_size();
    for (_, mut p) in unswapped.params_mut() {
        let r = p.slice_axis(Axis(0), (..h).into()).to_owned();
        let z = p.slice_axis(Axis(0), (h..2 * h).into()).to_owned();
        p.slice_axis_mut(Axis(0), (..h).into()).assign(&z);
        p.slice_axis_mut(Axis(0), (h..2 * h).into()).assign(&r);
    }
    let d = output_diff("gru_l1", &unswapped);
    eprintln!("gru_l1 without the z/r swap: output max abs diff {d:.3e}");
    assert!(
        d > 1e-3,
        "a GRU without the gate reorder went unnoticed ({d:.3e})"
    );

    let mut before = model.clone();
    if let AnyCell::Gru(c) = &mut before.layers[0].forward {
        c.variant = GruVariant::ResetBefore;
    }
    let d = output_diff("gru_l1", &before);
    eprintln!("gru_l1 read as reset-before: output max abs diff {d:.3e}");
    assert!(
        d > 1e-3,
        "reset-after read as reset-before went unnoticed ({d:.3e})"
    );

    let mut nudged = model.clone();
    if let AnyCell::Gru(c) = &mut nudged.layers[0].forward {
        c.weight_hh[[0, 0]] += 1e-8;
    }
    let d = output_diff("gru_l1", &nudged);
    eprintln!("gru_l1 with one weight nudged by 1e-8: output max abs diff {d:.3e}");
    assert!(
        d > TOLERANCE,
        "a 1e-8 weight change went unnoticed ({d:.3e})"
    );
}
