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

use ndarray::{stack, Array3, ArrayD, ArrayViewD, Axis, Ix3};
use rnn::activation::Nonlinearity;
use rnn::checkpoint::{self, Checkpoint};
use rnn::init::Rng;
use rnn::prelude::*;
use rnn::stack::Rnn;
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

/// The architecture stored in a fixture's "config" metadata.
#[derive(Debug, Clone, PartialEq)]
struct Arch {
    kind: String,
    nonlinearity: Option<String>,
    input_size: usize,
    hidden_size: usize,
    num_layers: usize,
    bidirectional: bool,
}

impl Arch {
    /// The config as the fixtures store it (and as `tools/parity/check_export.py` reads it).
    fn to_json(&self) -> Value {
        json!({
            "kind": self.kind,
            "nonlinearity": self.nonlinearity,
            "input_size": self.input_size,
            "hidden_size": self.hidden_size,
            "num_layers": self.num_layers,
            "bidirectional": self.bidirectional,
        })
    }

    fn dirs(&self) -> usize {
        if self.bidirectional {
            2
        } else {
            1
        }
    }
}

/// Reads the architecture from a checkpoint's config.
fn arch_of(ck: &Checkpoint) -> Arch {
    let c = ck
        .config
        .as_ref()
        .unwrap_or_else(|| panic!("{} has no config", ck.path.display()));
    Arch {
        kind: c["kind"].as_str().expect("config.kind").to_string(),
        nonlinearity: c["nonlinearity"].as_str().map(str::to_string),
        input_size: c["input_size"].as_u64().expect("config.input_size") as usize,
        hidden_size: c["hidden_size"].as_u64().expect("config.hidden_size") as usize,
        num_layers: c["num_layers"].as_u64().expect("config.num_layers") as usize,
        bidirectional: c["bidirectional"].as_bool().expect("config.bidirectional"),
    }
}

/// Every tensor of a safetensors file, by name.
fn tensors(path: &Path) -> BTreeMap<String, ArrayD<f64>> {
    let ck =
        Checkpoint::load(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    ck.tensors.into_iter().collect()
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
    let (h, c) = (as3(h), c.map(as3));
    (0..h.dim().0)
        .map(|i| State {
            h: h.index_axis(Axis(0), i).to_owned(),
            c: c.as_ref().map(|c| c.index_axis(Axis(0), i).to_owned()),
        })
        .collect()
}

/// One [`State`] per layer and direction, stacked back into `(L*dirs, B, H)` tensors (h, and c if present).
fn from_states(states: &[State]) -> (ArrayD<f64>, Option<ArrayD<f64>>) {
    let h: Vec<_> = states.iter().map(|s| s.h.view()).collect();
    let h = stack(Axis(0), &h).unwrap().into_dyn();
    let c = if states.iter().all(|s| s.c.is_some()) {
        let c: Vec<_> = states
            .iter()
            .map(|s| s.c.as_ref().unwrap().view())
            .collect();
        Some(stack(Axis(0), &c).unwrap().into_dyn())
    } else {
        None
    };
    (h, c)
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

/// Loads fixture `name` into an `Rnn<C>` built with `make_cell`, runs forward and backward exactly as the
/// fixture script ran PyTorch, and compares outputs, final states and every gradient. Returns the worst
/// absolute difference.
fn check_fixture<C: Cell>(name: &str, make_cell: impl FnMut(usize, usize, &mut Rng) -> C) -> f64 {
    let weights_file = format!("{name}.weights.safetensors");
    let data_file = format!("{name}.data.safetensors");
    let ck = Checkpoint::load(&fixture(&weights_file))
        .unwrap_or_else(|e| panic!("cannot read fixture {weights_file}: {e}"));
    let arch = arch_of(&ck);
    let data = tensors(&fixture(&data_file));
    let get = |n: &str| get(&data, n, &data_file);
    let is_lstm = arch.kind == "lstm";

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
        model.layers[0].forward.kind(),
        arch.kind,
        "{name}: cell kind"
    );
    ck.load_into(&mut model)
        .unwrap_or_else(|e| panic!("{name}: PyTorch's state_dict does not load: {e}"));
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
    assert_eq!(init.len(), arch.num_layers * arch.dirs());

    let mut diffs = Diffs::default();

    // Forward, in evaluation mode (no dropout).
    let (outputs, finals, cache) = model.forward(x.view(), Some(&init), None);
    assert_eq!(
        outputs.dim(),
        (t_len, batch, arch.dirs() * arch.hidden_size)
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
        arch: Arch,
        mut make_cell: impl FnMut(usize, usize, &mut Rng) -> C,
    ) {
        let tag = format!("{}_l{}", arch.kind, arch.num_layers);
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
    let arch = |kind: &str, nonlinearity: Option<&str>, layers, bidirectional| Arch {
        kind: kind.into(),
        nonlinearity: nonlinearity.map(str::to_string),
        input_size: 3,
        hidden_size: 4,
        num_layers: layers,
        bidirectional,
    };
    round_trip(&dir, arch("rnn", Some("relu"), 1, false), elman_relu);
    round_trip(&dir, arch("rnn", Some("tanh"), 2, true), elman);
    round_trip(&dir, arch("lstm", None, 2, true), Lstm::new);
    round_trip(&dir, arch("gru", None, 3, false), Gru::new);
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
    let arch = Arch {
        kind: "lstm".into(),
        nonlinearity: None,
        input_size: 3,
        hidden_size: 5,
        num_layers: 2,
        bidirectional: true,
    };
    let (t_len, batch, states) = (6, 2, arch.num_layers * arch.dirs());
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
    checkpoint::save_params(&weights, &model, Some(&arch.to_json())).unwrap();
    let data = [
        ("x", x.view()),
        ("h0", h0.view()),
        ("c0", c0.view()),
        ("output", output.view().into_dyn()),
        ("h_n", h_n.view()),
        ("c_n", c_n.view()),
    ]
    .map(|(n, t)| (n.to_string(), t));
    checkpoint::save(&data_path, &data, Some(&arch.to_json())).unwrap();

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
