//! Whole character models across the two frameworks: a model made and saved by PyTorch loads with
//! `CharLm::load` and computes PyTorch's logits, final states and loss; a model saved by the library loads
//! into PyTorch (`load_state_dict(strict=True)`) and PyTorch computes the library's logits.
//!
//! The fixtures were written by `tools/parity/char_lm.py` (see `tools/parity/README.md`), whose
//! `CharModel` is the library's `CharLm` in PyTorch: `encoder` (`nn.Embedding`, absent for one-hot input),
//! `rnn` (`nn.LSTM`, `nn.GRU` or `nn.RNN`) and `decoder` (`nn.Linear`). PyTorch is not needed to run them.
//!
//! - `char_lm_torch_{lstm,gru}.weights.safetensors`: PyTorch's `state_dict()` of a seeded model with the
//!   library's config in the metadata; `.data.safetensors`: the fixture text's ids, PyTorch's logits
//!   `(T, V)` for reading them, its final states `(L, H)` and its mean loss of predicting `ids[1..]`.
//! - `char_lm_ours.weights.safetensors`: written by the library ([`write_our_checkpoint`]);
//!   `char_lm_ours.torch.safetensors`: what PyTorch computed from that file with `char_lm.py check --write`.

use std::path::{Path, PathBuf};

use ndarray::ArrayD;
use rnn::cells::{CellConfig, CellKind, GruVariant, State};
use rnn::checkpoint::Checkpoint;
use rnn::data::Vocab;
use rnn::models::char_lm::{CharLm, CharLmConfig};

/// Largest absolute difference allowed between the library and PyTorch, for every tensor.
const TOLERANCE: f64 = 1e-10;

/// The text the fixtures are computed on (`TEXT` in tools/parity/char_lm.py).
const TEXT: &str = "the quick brown fox jumps over the lazy dog; then the dog sleeps.";

fn fixture(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("fixtures")
        .join(file)
}

fn tensor<'a>(data: &'a Checkpoint, name: &str) -> &'a ArrayD<f64> {
    data.get(name)
        .unwrap_or_else(|| panic!("{}: no tensor {name}", data.path.display()))
}

fn max_diff(a: &[f64], b: &[f64], what: &str) -> f64 {
    assert_eq!(a.len(), b.len(), "{what}: lengths differ");
    a.iter()
        .zip(b)
        .map(|(x, y)| {
            if (x - y).is_nan() {
                f64::INFINITY
            } else {
                (x - y).abs()
            }
        })
        .fold(0.0, f64::max)
}

/// The library's logits `(T, V)` row by row for reading every character of `ids` from zero states, and
/// the final states (one per layer).
fn run(model: &CharLm, ids: &[usize]) -> (Vec<f64>, Vec<State>) {
    let mut states = model.zero_states(1);
    let mut logits = Vec::new();
    for &id in ids {
        let (z, next) = model.step(id, &states);
        logits.extend(z);
        states = next;
    }
    (logits, states)
}

/// Compares the library's numbers for `model` with PyTorch's in `data`; returns the worst difference.
fn compare(model: &CharLm, data: &Checkpoint) -> f64 {
    let ids: Vec<usize> = tensor(data, "ids").iter().map(|&v| v as usize).collect();
    assert_eq!(
        model.config.vocab.encode(TEXT).unwrap(),
        ids,
        "the fixture's ids are the fixture text's"
    );
    let (logits, states) = run(model, &ids);
    let mut worst = max_diff(
        &logits,
        tensor(data, "logits").as_slice().unwrap(),
        "logits",
    );
    let h: Vec<f64> = states.iter().flat_map(|s| s.h.iter().copied()).collect();
    worst = worst.max(max_diff(&h, tensor(data, "h_n").as_slice().unwrap(), "h_n"));
    if let Some(c_n) = data.get("c_n") {
        let c: Vec<f64> = states
            .iter()
            .flat_map(|s| s.c.as_ref().expect("an LSTM state").iter().copied())
            .collect();
        worst = worst.max(max_diff(&c, c_n.as_slice().unwrap(), "c_n"));
    }
    // The mean loss of predicting ids[1..] from ids[..T-1], as one chunk of one stream.
    let eval = model.evaluate(&ids, 1, ids.len() - 1).unwrap();
    assert_eq!(eval.chars, ids.len() - 1);
    worst.max((eval.nats - tensor(data, "nats")[[0]]).abs())
}

fn check_torch_made(name: &str) {
    let model = CharLm::load(&fixture(&format!("{name}.weights.safetensors")))
        .unwrap_or_else(|e| panic!("{name}: PyTorch's checkpoint does not load: {e}"));
    let data = Checkpoint::load(&fixture(&format!("{name}.data.safetensors"))).unwrap();
    let worst = compare(&model, &data);
    assert!(
        worst <= TOLERANCE,
        "{name}: the library differs from PyTorch by {worst:e}"
    );
}

#[test]
fn torch_made_lstm_char_model_loads_and_matches() {
    check_torch_made("char_lm_torch_lstm");
}

#[test]
fn torch_made_gru_char_model_loads_and_matches() {
    check_torch_made("char_lm_torch_gru");
}

/// `char_lm_text.txt` (what chapter 12's `rnn eval` of the PyTorch-made model reads) is the fixture text.
#[test]
fn the_text_file_is_the_fixture_text() {
    let text = std::fs::read_to_string(fixture("char_lm_text.txt")).unwrap();
    assert_eq!(text, TEXT);
}

/// The model behind `char_lm_ours.weights.safetensors`: a 2-layer LSTM with an 8-wide embedding and
/// H = 7, from the library's seeded initialisation (seed 12).
fn our_model() -> CharLm {
    let config = CharLmConfig::new("lstm", Vocab::from_text(TEXT), 8, 7, 2, 0.0);
    CharLm::new(config, &mut rnn::init::rng(12)).unwrap()
}

/// Writes `char_lm_ours.weights.safetensors` into `RNN_PARITY_EXPORT_DIR` when it is set (how the
/// committed file was made: `RNN_PARITY_EXPORT_DIR=tests/fixtures cargo test --test char_lm_parity`);
/// otherwise does nothing.
#[test]
fn write_our_checkpoint() {
    if let Some(dir) = std::env::var_os("RNN_PARITY_EXPORT_DIR") {
        our_model()
            .save(&Path::new(&dir).join("char_lm_ours.weights.safetensors"))
            .unwrap();
    }
}

#[test]
fn our_char_model_computes_the_same_in_pytorch() {
    // The committed file is what the library writes for this model today, tensor for tensor and name
    // for name, so what PyTorch read is the library's export.
    let file = Checkpoint::load(&fixture("char_lm_ours.weights.safetensors")).unwrap();
    let model = our_model();
    let ours: Vec<(String, ArrayD<f64>)> = model.tensors();
    assert_eq!(ours.len(), file.names().count(), "same number of tensors");
    for (name, t) in &ours {
        assert_eq!(
            file.get(name),
            Some(t),
            "tensor {name} of the committed export"
        );
    }
    let data = Checkpoint::load(&fixture("char_lm_ours.torch.safetensors")).unwrap();
    let worst = compare(&model, &data);
    assert!(
        worst <= TOLERANCE,
        "PyTorch's numbers for the library's checkpoint differ by {worst:e}"
    );
}

/// The comparison can fail: a model with one weight nudged by 1e-8, or with PyTorch's GRU read as the
/// other GRU, is caught.
#[test]
fn char_lm_parity_catches_mistakes() {
    let path = fixture("char_lm_torch_lstm.weights.safetensors");
    let data = Checkpoint::load(&fixture("char_lm_torch_lstm.data.safetensors")).unwrap();
    let mut model = CharLm::load(&path).unwrap();
    model.decoder.weight[[0, 0]] += 1e-8;
    assert!(compare(&model, &data) > TOLERANCE, "a 1e-8 nudge is caught");

    let gru = CharLm::load(&fixture("char_lm_torch_gru.weights.safetensors")).unwrap();
    let data = Checkpoint::load(&fixture("char_lm_torch_gru.data.safetensors")).unwrap();
    let reset_before = CellConfig {
        gru_variant: GruVariant::ResetBefore,
        ..CellConfig::new(CellKind::Gru)
    };
    let config = gru.config.clone().with_cell(reset_before);
    let mut before = CharLm::new(config, &mut rnn::init::rng(0)).unwrap();
    let ck = Checkpoint::load(&fixture("char_lm_torch_gru.weights.safetensors")).unwrap();
    ck.load_into(&mut before).unwrap();
    assert!(
        compare(&before, &data) > 1e-3,
        "the reset-before GRU computes something else"
    );
}
