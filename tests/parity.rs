//! PyTorch parity: the library reproduces `torch.nn.RNN`, `torch.nn.LSTM` and `torch.nn.GRU` (float64)
//! to 1e-10, forward and backward, through deep and bidirectional stacks.
//!
//! The fixtures in `tests/fixtures/` were written by `tools/parity/make_fixtures.py` (see
//! `tools/parity/README.md`): for each configuration, PyTorch's `state_dict()` and a data file with the
//! input, the initial states, PyTorch's outputs and final states, and the gradients of the loss
//! `Σ r_out ⊙ output + Σ r_hn ⊙ h_n (+ Σ r_cn ⊙ c_n)` with respect to the input, the initial states and every
//! parameter. PyTorch is not needed to run these tests.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ndarray::{Array3, ArrayD, ArrayViewD, Ix3};
use rnn::activation::Nonlinearity;
use rnn::cells::{AnyCell, CellConfig, CellKind, GruVariant};
use rnn::checkpoint::{self, Checkpoint, RnnConfig};
use rnn::init::Rng;
use rnn::prelude::*;
use rnn::stack::{states_from_pytorch, states_to_pytorch, Rnn};
use serde_json::{json, Value};

/// Largest absolute difference allowed between the library and PyTorch, for every tensor.
const TOLERANCE: f64 = 1e-10;

fn fixture(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("fixtures")
        .join(file)
}

/// A fresh, empty folder under the system's temp dir for one test.
fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rnn-parity-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The architecture stored in a fixture's "config" metadata, in the library's config format.
fn arch_of(ck: &Checkpoint) -> RnnConfig {
    ck.rnn_config()
        .unwrap_or_else(|e| panic!("{}: {e}", ck.path.display()))
        .unwrap_or_else(|| panic!("{} has no network config", ck.path.display()))
}

fn dirs(arch: &RnnConfig) -> usize {
    if arch.bidirectional {
        2
    } else {
        1
    }
}

/// Every tensor of a safetensors file, by name.
fn tensors(path: &Path) -> BTreeMap<String, ArrayD<f64>> {
    rnn::tensors::read(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
        .tensors
}

fn get<'a>(data: &'a BTreeMap<String, ArrayD<f64>>, name: &str, file: &str) -> &'a ArrayD<f64> {
    data.get(name)
        .unwrap_or_else(|| panic!("fixture {file} has no tensor `{name}`"))
}

fn as3(a: &ArrayD<f64>) -> Array3<f64> {
    a.clone().into_dimensionality::<Ix3>().unwrap()
}

/// `(L*dirs, B, H)` tensors (h, and c for an LSTM) as one [`State`] per layer and direction.
fn to_states(h: &ArrayD<f64>, c: Option<&ArrayD<f64>>) -> Vec<State> {
    let c = c.map(as3);
    states_from_pytorch(as3(h).view(), c.as_ref().map(|c| c.view()))
}

/// One [`State`] per layer and direction, stacked back into `(L*dirs, B, H)` tensors (h, and c if present).
fn from_states(states: &[State]) -> (ArrayD<f64>, Option<ArrayD<f64>>) {
    let (h, c) = states_to_pytorch(states);
    (h.into_dyn(), c.map(|c| c.into_dyn()))
}

/// The max absolute difference of every compared tensor, by name.
#[derive(Default)]
struct Diffs(Vec<(String, f64)>);

impl Diffs {
    /// Records max |ours - theirs| (∞ if either has a NaN); panics at once on a shape mismatch.
    fn compare(&mut self, name: &str, ours: ArrayViewD<'_, f64>, theirs: &ArrayD<f64>) {
        assert_eq!(
            ours.shape(),
            theirs.shape(),
            "`{name}`: the library's shape {:?} differs from PyTorch's {:?}",
            ours.shape(),
            theirs.shape()
        );
        let diff = ours
            .iter()
            .zip(theirs.iter())
            .map(|(a, b)| {
                let d = (a - b).abs();
                if d.is_nan() {
                    f64::INFINITY
                } else {
                    d
                }
            })
            .fold(0.0, f64::max);
        self.0.push((name.to_string(), diff));
    }

    fn max(&self) -> f64 {
        self.0.iter().map(|(_, d)| *d).fold(0.0, f64::max)
    }

    /// Prints the table and panics naming every tensor above the tolerance.
    fn assert_within(&self, config: &str, tolerance: f64) {
        for (name, d) in &self.0 {
            eprintln!("{config:12} {name:28} max abs diff {d:.3e}");
        }
        eprintln!(
            "{config:12} {} tensors, worst {:.3e}",
            self.0.len(),
            self.max()
        );
        let bad: Vec<String> = self
            .0
            .iter()
            .filter(|(_, d)| *d > tolerance) // NaN was recorded as ∞
            .map(|(n, d)| format!("{n} (max abs diff {d:.3e})"))
            .collect();
        assert!(
            bad.is_empty(),
            "{config}: {} tensor(s) differ from PyTorch by more than {tolerance:e}: {}",
            bad.len(),
            bad.join(", ")
        );
    }
}

/// Loads fixture `name` into an `Rnn<C>` built with `make_cell`, and also builds an `Rnn<AnyCell>` from
/// the fixture alone ([`Rnn::from_checkpoint`]); runs both forward and backward exactly as the fixture
/// script ran PyTorch, and compares outputs, final states and every gradient. Returns the worst absolute
/// difference.
fn check_fixture<C: Cell>(name: &str, make_cell: impl FnMut(usize, usize, &mut Rng) -> C) -> f64 {
    let weights_file = format!("{name}.weights.safetensors");
    let ck = Checkpoint::load(&fixture(&weights_file))
        .unwrap_or_else(|e| panic!("cannot read fixture {weights_file}: {e}"));
    let arch = arch_of(&ck);

    // The model: built with a seed whose weights are then replaced by PyTorch's, strictly by name.
    let mut model = Rnn::new(
        arch.input_size,
        arch.hidden_size,
        arch.num_layers,
        arch.bidirectional,
        0.0,
        make_cell,
        &mut rnn::init::rng(0),
    )
    .unwrap();
    assert_eq!(
        model.layers[0].forward.config(),
        Some(arch.cell),
        "{name}: cell kind"
    );
    ck.load_into(&mut model)
        .unwrap_or_else(|e| panic!("{name}: PyTorch's state_dict does not load: {e}"));
    let typed = compare_with_pytorch(name, &model, &ck);

    // The same network built from the file alone.
    let built = Rnn::<AnyCell>::from_checkpoint(&ck)
        .unwrap_or_else(|e| panic!("{name}: Rnn::from_checkpoint: {e}"));
    assert_eq!(built.config(), Some(arch.clone()), "{name}: built config");
    let any = compare_with_pytorch(&format!("{name} (any)"), &built, &ck);
    typed.max(any)
}

/// The comparison of [`check_fixture`] for one model holding the fixture's weights.
fn compare_with_pytorch<C: Cell>(name: &str, model: &Rnn<C>, ck: &Checkpoint) -> f64 {
    let arch = arch_of(ck);
    let data_file = format!("{}.data.safetensors", name.split(' ').next().unwrap());
    let data = tensors(&fixture(&data_file));
    let get = |n: &str| get(&data, n, &data_file);
    let is_lstm = arch.cell.kind == CellKind::Lstm;
    let ours: Vec<String> = model.params().into_iter().map(|(n, _)| n).collect();
    let theirs: Vec<String> = ck.tensors.keys().cloned().collect();
    let mut sorted = ours.clone();
    sorted.sort();
    assert_eq!(
        sorted, theirs,
        "{name}: parameter names differ from PyTorch's"
    );
    for (n, p) in model.params() {
        assert_eq!(
            p,
            ck.get(&n).unwrap().view(),
            "{name}: `{n}` not loaded exactly"
        );
    }

    // The fixture itself must be non-trivial, or the comparison below proves nothing.
    for (n, t) in &data {
        assert!(
            t.iter().any(|v| v.abs() > 1e-6),
            "fixture {data_file}: `{n}` is (nearly) all zeros"
        );
    }

    let x = as3(get("x"));
    let (t_len, batch, d) = x.dim();
    assert_eq!(d, arch.input_size, "{name}: x has D = {d}");
    let init = to_states(get("h0"), is_lstm.then(|| get("c0")));
    assert_eq!(init.len(), arch.num_layers * dirs(&arch));

    let mut diffs = Diffs::default();

    // Forward, in evaluation mode (no dropout).
    let (outputs, finals, cache) = model.forward(x.view(), Some(&init), None);
    assert_eq!(
        outputs.dim(),
        (t_len, batch, dirs(&arch) * arch.hidden_size)
    );
    diffs.compare("output", outputs.view().into_dyn(), get("output"));
    let (h_n, c_n) = from_states(&finals);
    diffs.compare("h_n", h_n.view(), get("h_n"));
    if is_lstm {
        let c_n = c_n.expect("the LSTM's final states have a cell state");
        diffs.compare("c_n", c_n.view(), get("c_n"));
    }

    // Backward: ∂loss/∂output = r_out, ∂loss/∂h_n = r_hn, ∂loss/∂c_n = r_cn.
    let d_out = as3(get("r_out"));
    let d_last = to_states(get("r_hn"), is_lstm.then(|| get("r_cn")));
    let mut grads = model.zeros_like();
    let (dx, d_init) = model.backward(&cache, d_out.view(), Some(&d_last), &mut grads);
    diffs.compare("grad_x", dx.view().into_dyn(), get("grad_x"));
    let (dh0, dc0) = from_states(&d_init);
    diffs.compare("grad_h0", dh0.view(), get("grad_h0"));
    if is_lstm {
        let dc0 = dc0.expect("the LSTM's initial-state gradients have a cell part");
        diffs.compare("grad_c0", dc0.view(), get("grad_c0"));
    }
    for (n, g) in grads.params() {
        diffs.compare(&format!("grad.{n}"), g, get(&format!("grad.{n}")));
    }
    let fixture_grads = data.keys().filter(|k| k.starts_with("grad.")).count();
    assert_eq!(
        fixture_grads,
        ours.len(),
        "{name}: the fixture has {fixture_grads} parameter gradients, the model {} parameters",
        ours.len()
    );

    diffs.assert_within(name, TOLERANCE);
    diffs.max()
}

fn elman(d: usize, h: usize, rng: &mut Rng) -> Elman {
    Elman::new(d, h, rng)
}

fn elman_relu(d: usize, h: usize, rng: &mut Rng) -> Elman {
    Elman::with_nonlinearity(d, h, Nonlinearity::Relu, rng)
}

#[test]
fn rnn_tanh_l1_matches_pytorch() {
    check_fixture("rnn_tanh_l1", elman);
}

#[test]
fn rnn_relu_l2_matches_pytorch() {
    check_fixture("rnn_relu_l2", elman_relu);
}

#[test]
fn lstm_l1_matches_pytorch() {
    check_fixture("lstm_l1", Lstm::new);
}

#[test]
fn lstm_l2_matches_pytorch() {
    check_fixture("lstm_l2", Lstm::new);
}

#[test]
fn lstm_l2_bi_matches_pytorch() {
    check_fixture("lstm_l2_bi", Lstm::new);
}

#[test]
fn gru_l1_matches_pytorch() {
    check_fixture("gru_l1", Gru::new);
}

#[test]
fn gru_l2_matches_pytorch() {
    check_fixture("gru_l2", Gru::new);
}

#[test]
fn gru_l2_bi_matches_pytorch() {
    check_fixture("gru_l2_bi", Gru::new);
}

/// The comparison can fail. Swapping `bias_ih` and `bias_hh` is invisible for the Elman cell and the LSTM
/// (only their sum enters), but not for the GRU, whose candidate uses `b_hn` inside `r ⊙ (W_hn h + b_hn)`;
/// the swap must be caught, and so must a 1e-8 nudge to a single weight.
#[test]
fn parity_check_catches_small_mistakes() {
    let ck = Checkpoint::load(&fixture("gru_l1.weights.safetensors")).unwrap();
    let data = tensors(&fixture("gru_l1.data.safetensors"));
    let arch = arch_of(&ck);
    let run = |model: &Rnn<Gru>| {
        let init = to_states(&data["h0"], None);
        let (out, _, _) = model.forward(as3(&data["x"]).view(), Some(&init), None);
        let mut diffs = Diffs::default();
        diffs.compare("output", out.view().into_dyn(), &data["output"]);
        diffs.max()
    };
    let mut model = Rnn::new(
        arch.input_size,
        arch.hidden_size,
        1,
        false,
        0.0,
        Gru::new,
        &mut rnn::init::rng(0),
    )
    .unwrap();
    ck.load_into(&mut model).unwrap();
    assert!(run(&model) <= TOLERANCE);

    // The GRU's n gate uses b_hn inside r ⊙ (W_hn h + b_hn): swapping b_ih and b_hh changes the output.
    let mut swapped = model.clone();
    let cell = &mut swapped.layers[0].forward;
    std::mem::swap(&mut cell.bias_ih, &mut cell.bias_hh);
    let d = run(&swapped);
    assert!(
        d > 1e-3,
        "swapping GRU biases went unnoticed (diff {d:.3e})"
    );

    // A nudge of 1e-8 to one weight: far below anything visible, far above the tolerance.
    let mut nudged = model.clone();
    nudged.layers[0].forward.weight_hh[[0, 0]] += 1e-8;
    let d = run(&nudged);
    assert!(
        d > TOLERANCE,
        "a 1e-8 weight change went unnoticed (diff {d:.3e})"
    );
}

/// A model written with `checkpoint::save_params` reads back with bit-identical tensors under the same names
/// and shapes, the same config, and loads into a differently initialised model to give exactly the same
/// parameters.
#[test]
fn save_params_round_trip_is_exact() {
    fn round_trip<C: Cell>(
        dir: &Path,
        arch: RnnConfig,
        mut make_cell: impl FnMut(usize, usize, &mut Rng) -> C,
    ) {
        let tag = format!("{}_l{}", arch.cell.kind, arch.num_layers);
        let mut build = |seed| {
            Rnn::new(
                arch.input_size,
                arch.hidden_size,
                arch.num_layers,
                arch.bidirectional,
                0.0,
                &mut make_cell,
                &mut rnn::init::rng(seed),
            )
            .unwrap()
        };
        let model = build(1);
        let config = arch.to_json();
        let path = dir.join(format!("{tag}.safetensors"));
        checkpoint::save_params(&path, &model, Some(&config)).unwrap();

        let ck = Checkpoint::load(&path).unwrap();
        assert_eq!(ck.config.as_ref(), Some(&config), "{tag}: config");
        assert_eq!(arch_of(&ck), arch, "{tag}: config");
        assert_eq!(
            ck.tensors.len(),
            model.params().len(),
            "{tag}: tensor count"
        );
        for (n, p) in model.params() {
            let t = ck
                .get(&n)
                .unwrap_or_else(|| panic!("{tag}: `{n}` missing after the round trip"));
            assert_eq!(t.shape(), p.shape(), "{tag}: `{n}` shape");
            // bit for bit, not approximately
            assert!(
                t.iter()
                    .zip(p.iter())
                    .all(|(a, b)| a.to_bits() == b.to_bits()),
                "{tag}: `{n}` changed in the round trip"
            );
        }

        let mut fresh = build(2);
        assert_ne!(fresh.params()[0].1, model.params()[0].1, "{tag}: seeds");
        ck.load_into(&mut fresh).unwrap();
        for ((n, a), (_, b)) in fresh.params().into_iter().zip(model.params()) {
            assert_eq!(a, b, "{tag}: `{n}` differs after load_into");
        }
    }

    let dir = temp_dir("roundtrip");
    let arch = |kind, layers, bidirectional| RnnConfig {
        cell: CellConfig::new(kind),
        input_size: 3,
        hidden_size: 4,
        num_layers: layers,
        bidirectional,
        dropout: 0.0,
    };
    round_trip(&dir, arch(CellKind::RnnRelu, 1, false), elman_relu);
    round_trip(&dir, arch(CellKind::RnnTanh, 2, true), elman);
    round_trip(&dir, arch(CellKind::Lstm, 2, true), Lstm::new);
    round_trip(&dir, arch(CellKind::Gru, 3, false), Gru::new);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Writes a checkpoint of a random 2-layer bidirectional LSTM and a data file (x, h0, c0 and the library's
/// output, h_n, c_n) for `tools/parity/check_export.py`, into `$RNN_PARITY_EXPORT_DIR` (or a temp folder that
/// is removed afterwards), then checks on the Rust side that the pair is self-consistent:
///
/// ```sh
/// RNN_PARITY_EXPORT_DIR=/tmp/rnn-export cargo test --test parity export_lstm_for_check_export
/// python tools/parity/check_export.py /tmp/rnn-export/lstm.weights.safetensors /tmp/rnn-export/lstm.data.safetensors
/// ```
#[test]
fn export_lstm_for_check_export() {
    let (dir, keep) = match std::env::var_os("RNN_PARITY_EXPORT_DIR") {
        Some(d) => {
            let d = PathBuf::from(d);
            std::fs::create_dir_all(&d).unwrap();
            (d, true)
        }
        None => (temp_dir("export"), false),
    };
    let arch = RnnConfig {
        cell: CellConfig::new(CellKind::Lstm),
        input_size: 3,
        hidden_size: 5,
        num_layers: 2,
        bidirectional: true,
        dropout: 0.0,
    };
    let (t_len, batch, states) = (6, 2, arch.num_layers * dirs(&arch));
    let build = |seed| {
        Rnn::new(
            arch.input_size,
            arch.hidden_size,
            arch.num_layers,
            arch.bidirectional,
            0.0,
            Lstm::new,
            &mut rnn::init::rng(seed),
        )
        .unwrap()
    };
    let model = build(42);
    let mut rng = rnn::init::rng(43);
    let x = rnn::init::uniform(&[t_len, batch, arch.input_size], -1.0, 1.0, &mut rng);
    let h0 = rnn::init::uniform(&[states, batch, arch.hidden_size], -0.5, 0.5, &mut rng);
    let c0 = rnn::init::uniform(&[states, batch, arch.hidden_size], -0.5, 0.5, &mut rng);
    let (output, finals, _) = model.forward(as3(&x).view(), Some(&to_states(&h0, Some(&c0))), None);
    let (h_n, c_n) = from_states(&finals);
    let c_n = c_n.expect("LSTM final states have c");

    let weights = dir.join("lstm.weights.safetensors");
    let data_path = dir.join("lstm.data.safetensors");
    model.save(&weights).unwrap(); // tensors and the config of `arch`
    let data = [
        ("x", x.view()),
        ("h0", h0.view()),
        ("c0", c0.view()),
        ("output", output.view().into_dyn()),
        ("h_n", h_n.view()),
        ("c_n", c_n.view()),
    ]
    .map(|(n, t)| (n.to_string(), t));
    let metadata = BTreeMap::from([("config".to_string(), arch.to_json().to_string())]);
    rnn::tensors::write(&data_path, &data, &metadata).unwrap();

    // Rust-side check of the pair: load the weights into a differently initialised model and recompute.
    let ck = Checkpoint::load(&weights).unwrap();
    assert_eq!(arch_of(&ck), arch);
    let mut reloaded = build(7);
    ck.load_into(&mut reloaded).unwrap();
    let saved = tensors(&data_path);
    let init = to_states(&saved["h0"], Some(&saved["c0"]));
    let (out, fin, _) = reloaded.forward(as3(&saved["x"]).view(), Some(&init), None);
    let (h, c) = from_states(&fin);
    let mut diffs = Diffs::default();
    diffs.compare("output", out.view().into_dyn(), &saved["output"]);
    diffs.compare("h_n", h.view(), &saved["h_n"]);
    diffs.compare("c_n", c.unwrap().view(), &saved["c_n"]);
    assert_eq!(diffs.max(), 0.0, "the exported pair is not self-consistent");

    if keep {
        eprintln!(
            "wrote {} and {}; check with\n  python tools/parity/check_export.py {} {}",
            weights.display(),
            data_path.display(),
            weights.display(),
            data_path.display()
        );
    } else {
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

// ---------------------------------------------------------------------------------------------------------
// Loading into the wrong model: a clear error naming what differs, never a silent success
// ---------------------------------------------------------------------------------------------------------

/// A model with the sizes of the checkpoint (from its config, or its shapes), made of cells from
/// `make_cell`.
fn model_like<C: Cell>(
    ck: &Checkpoint,
    bidirectional: bool,
    make_cell: impl FnMut(usize, usize, &mut Rng) -> C,
) -> Rnn<C> {
    let arch = match ck.config {
        Some(_) => arch_of(ck),
        None => RnnConfig::infer(ck, "").unwrap(),
    };
    Rnn::new(
        arch.input_size,
        arch.hidden_size,
        arch.num_layers,
        bidirectional,
        0.0,
        make_cell,
        &mut rnn::init::rng(0),
    )
    .unwrap()
}

/// Loads `ck` into `model`, expects an error, checks that the model is unchanged, returns the message.
fn refused<C: Cell>(ck: &Checkpoint, model: &mut Rnn<C>) -> String {
    let before: Vec<_> = model
        .params()
        .into_iter()
        .map(|(n, p)| (n, p.to_owned()))
        .collect();
    let err = match ck.load_into(model) {
        Ok(()) => panic!(
            "{} loaded without complaint into a model of {} cells",
            ck.path.display(),
            model.layers[0].forward.kind()
        ),
        Err(e) => e.to_string(),
    };
    let after: Vec<_> = model
        .params()
        .into_iter()
        .map(|(n, p)| (n, p.to_owned()))
        .collect();
    assert_eq!(before, after, "a refused load changed the model ({err})");
    eprintln!("{err}");
    err
}

fn assert_mentions(msg: &str, needles: &[&str]) {
    for n in needles {
        assert!(msg.contains(n), "the message lacks {n:?}: {msg}");
    }
}

/// The fixture's tensors in a new file, with `config` (or none) instead of the fixture's own.
fn rewritten(dir: &Path, fixture_name: &str, config: Option<&Value>) -> Checkpoint {
    let ck = Checkpoint::load(&fixture(&format!("{fixture_name}.weights.safetensors"))).unwrap();
    let views: Vec<(String, ArrayViewD<'_, f64>)> = ck
        .tensors
        .iter()
        .map(|(n, t)| (n.clone(), t.view()))
        .collect();
    let path = dir.join(format!("{fixture_name}.safetensors"));
    checkpoint::save(&path, &views, config).unwrap();
    Checkpoint::load(&path).unwrap()
}

#[test]
fn tanh_and_relu_checkpoints_refuse_the_other_nonlinearity() {
    let tanh = Checkpoint::load(&fixture("rnn_tanh_l1.weights.safetensors")).unwrap();
    let msg = refused(&tanh, &mut model_like(&tanh, false, elman_relu));
    assert_mentions(&msg, &["tanh", "ReLU"]);
    let relu = Checkpoint::load(&fixture("rnn_relu_l2.weights.safetensors")).unwrap();
    let msg = refused(&relu, &mut model_like(&relu, false, elman));
    assert_mentions(&msg, &["tanh", "ReLU"]);
}

#[test]
fn pytorch_gru_refuses_the_reset_before_variant() {
    let ck = Checkpoint::load(&fixture("gru_l2.weights.safetensors")).unwrap();
    let reset_before = |d, h, rng: &mut Rng| Gru::with_variant(d, h, GruVariant::ResetBefore, rng);
    let msg = refused(&ck, &mut model_like(&ck, false, reset_before));
    assert_mentions(&msg, &["reset-before", "reset-after"]);
}

#[test]
fn a_config_that_claims_another_cell_size_and_depth_is_refused() {
    let dir = temp_dir("claims");
    // The tensors of a 1-layer LSTM (D = 3, H = 4) under a config that says: a 3-layer GRU with H = 8.
    let claim = json!({
        "cell": "gru", "input_size": 3, "hidden_size": 8, "num_layers": 3, "bidirectional": false,
    });
    let ck = rewritten(&dir, "lstm_l1", Some(&claim));
    let mut model = Rnn::new(3, 4, 1, false, 0.0, Lstm::new, &mut rnn::init::rng(0)).unwrap();
    let msg = refused(&ck, &mut model);
    assert_mentions(
        &msg,
        &["GRU", "LSTM", "hidden size 8", "hidden size 4", "3 layers"],
    );
    // Built from the file alone, the file contradicts itself: its tensors do not fit its config.
    match Rnn::<AnyCell>::from_checkpoint(&ck) {
        Err(e @ rnn::Error::CorruptCheckpoint { .. }) => {
            let msg = e.to_string();
            eprintln!("{msg}");
            assert_mentions(&msg, &["do not fit its own config", "LSTM (4 gates)"]);
        }
        other => panic!(
            "expected CorruptCheckpoint, got {:?}",
            other.map(|m| m.config())
        ),
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_wrong_cell_type_is_named_with_its_gate_count_with_or_without_config() {
    let dir = temp_dir("gates");
    let gru = Checkpoint::load(&fixture("gru_l1.weights.safetensors")).unwrap();
    let bare_gru = rewritten(&dir, "gru_l1", None);
    let lstm = Checkpoint::load(&fixture("lstm_l1.weights.safetensors")).unwrap();
    let bare_lstm = rewritten(&dir, "lstm_l1", None);
    let bare_rnn = rewritten(&dir, "rnn_tanh_l1", None);
    for ck in [&gru, &bare_gru] {
        let msg = refused(ck, &mut model_like(ck, false, Lstm::new));
        assert_mentions(
            &msg,
            &["holds a GRU (3 gates)", "the model is an LSTM (4 gates)"],
        );
    }
    for ck in [&lstm, &bare_lstm] {
        let msg = refused(ck, &mut model_like(ck, false, Gru::new));
        assert_mentions(
            &msg,
            &["holds an LSTM (4 gates)", "the model is a GRU (3 gates)"],
        );
    }
    let msg = refused(&bare_rnn, &mut model_like(&bare_rnn, false, Gru::new));
    assert_mentions(
        &msg,
        &["holds an Elman RNN", "the model is a GRU (3 gates)"],
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_bidirectional_checkpoint_names_reverse_and_the_other_way_round() {
    let dir = temp_dir("reverse");
    for (ck, file_bi) in [
        (
            Checkpoint::load(&fixture("lstm_l2_bi.weights.safetensors")).unwrap(),
            true,
        ),
        (rewritten(&dir, "lstm_l2_bi", None), true),
        (
            Checkpoint::load(&fixture("lstm_l2.weights.safetensors")).unwrap(),
            false,
        ),
        (rewritten(&dir, "lstm_l2", None), false),
    ] {
        let msg = refused(&ck, &mut model_like(&ck, !file_bi, Lstm::new));
        assert_mentions(&msg, &["_reverse", "bidirectional", "unidirectional"]);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn config_less_pytorch_files_still_load_into_a_model_that_fits() {
    let dir = temp_dir("bare");
    type MakeCell = fn(usize, usize, &mut Rng) -> AnyCell;
    let cases: [(&str, MakeCell); 4] = [
        ("rnn_tanh_l1", |d, h, r| Elman::new(d, h, r).into()),
        ("rnn_relu_l2", |d, h, r| elman_relu(d, h, r).into()),
        ("lstm_l2_bi", |d, h, r| Lstm::new(d, h, r).into()),
        ("gru_l2", |d, h, r| Gru::new(d, h, r).into()),
    ];
    for (name, make) in cases {
        let with_config =
            Checkpoint::load(&fixture(&format!("{name}.weights.safetensors"))).unwrap();
        let bare = rewritten(&dir, name, None);
        assert_eq!(bare.config, None);
        let bi = arch_of(&with_config).bidirectional;
        let mut model = model_like(&with_config, bi, make);
        bare.load_into(&mut model)
            .unwrap_or_else(|e| panic!("{name} without config: {e}"));
        for (n, p) in model.params() {
            assert_eq!(p, bare.get(&n).unwrap().view(), "{name}: `{n}`");
        }
    }
    // Shapes cannot tell tanh from ReLU: a config-less tanh file loads into a ReLU model (documented).
    let bare = rewritten(&dir, "rnn_tanh_l1", None);
    let with_config = Checkpoint::load(&fixture("rnn_tanh_l1.weights.safetensors")).unwrap();
    bare.load_into(&mut model_like(&with_config, false, elman_relu))
        .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn fixture_configs_use_the_one_config_format() {
    for entry in std::fs::read_dir(fixture("")).unwrap() {
        let path = entry.unwrap().path();
        // Only this test's fixtures: the Keras ones hold Keras' layer config (checked by
        // tests/keras_parity.rs), the character models' a `model` config (tests/char_lm_parity.rs).
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("keras_") || name.starts_with("char_lm_") {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        let header: Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
        let config: Value =
            serde_json::from_str(header["__metadata__"]["config"].as_str().unwrap()).unwrap();
        let cell = config["cell"].as_str();
        assert!(
            matches!(cell, Some("rnn_tanh" | "rnn_relu" | "lstm" | "gru")),
            "{}: config {config} has no canonical `cell`",
            path.display()
        );
        assert!(
            config.get("kind").is_none() && config.get("nonlinearity").is_none(),
            "{}: config {config} still uses the old `kind` + `nonlinearity` keys",
            path.display()
        );
    }
}
