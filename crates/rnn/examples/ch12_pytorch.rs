//! Chapter 12: what is inside a checkpoint, and PyTorch's files read by the library.
//!
//! ```console
//! cargo run --release -q -p rnn --example ch12_pytorch
//! ```
//!
//! 1. Saves a one-layer LSTM (D = 2, H = 3) and prints the file's anatomy: the 8-byte header length, the
//!    JSON header (every tensor's dtype, shape and byte range, and the config under `__metadata__`), and
//!    the size of the data that follows.
//! 2. Reads `tests/fixtures/lstm_l2_bi.weights.safetensors`, a 2-layer bidirectional `nn.LSTM` saved by
//!    PyTorch, with its config removed (what `safetensors.torch.save_file(model.state_dict(), path)`
//!    writes), shows that the library refuses to guess the network, infers it from the shapes, runs it on
//!    the fixture's input and compares with PyTorch's outputs.
//! 3. Loads `tests/fixtures/char_lm_torch_lstm.weights.safetensors`, a whole character model made in
//!    PyTorch by `tools/parity/char_lm.py`, with `CharLm::load`, lists its tensors as PyTorch modules, and
//!    compares its loss on the fixture text with PyTorch's.
//!
//! Differences from PyTorch are printed as bounds, not digits: their last bits depend on the CPU's
//! rounding and the order of its sums. `tests/parity.rs` and `tests/char_lm_parity.rs` require 1e-10.

use ndarray::{Array3, Ix3};
use rnn::cells::AnyCell;
use rnn::checkpoint::{Checkpoint, RnnConfig};
use rnn::models::char_lm::CharLm;
use rnn::prelude::*;
use rnn::stack::{states_from_pytorch, states_to_pytorch, Rnn};

mod common;
use common::{bound, fixture, max_abs_diff, remove_scratch, scratch_dir};

fn as3(t: &ndarray::ArrayD<f64>) -> Array3<f64> {
    t.clone()
        .into_dimensionality::<Ix3>()
        .expect("a 3-D tensor")
}

fn main() -> rnn::Result<()> {
    // ANCHOR: anatomy
    let model = Rnn::new(2, 3, 1, false, 0.0, Lstm::new, &mut rnn::init::rng(0))?;
    let dir = scratch_dir("ch12-pytorch")?;
    let path = dir.join("lstm.safetensors");
    model.save(&path)?;
    let bytes = std::fs::read(&path).map_err(|source| rnn::Error::Io {
        action: "read",
        path: path.clone(),
        source,
    })?;
    // A safetensors file: a little-endian u64 n, n bytes of JSON, then the raw tensor data.
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    // ANCHOR_END: anatomy
    println!(
        "1. A one-layer LSTM (D = 2, H = 3) saved by the library: {} bytes",
        bytes.len()
    );
    println!("   bytes 0..8: the header's length, {n}");
    println!("   bytes 8..{}: the header, JSON:", 8 + n);
    for (name, entry) in header.as_object().unwrap() {
        println!("     {name}: {entry}");
    }
    let floats = model.params().iter().map(|(_, p)| p.len()).sum::<usize>();
    println!(
        "   bytes {}..{}: the data, {floats} parameters x 8 bytes (f64, little-endian)",
        8 + n,
        bytes.len()
    );
    remove_scratch(&dir)?;

    // ANCHOR: from_pytorch
    // PyTorch's `save_file(model.state_dict(), path)` writes names and shapes, and no config.
    let mut ckpt = Checkpoint::load(&fixture("lstm_l2_bi.weights.safetensors"))?;
    ckpt.config = None;
    let refused = Rnn::<AnyCell>::from_checkpoint(&ckpt).unwrap_err();
    // What the shapes say, with PyTorch's defaults for what they cannot say.
    let config = RnnConfig::infer(&ckpt, "")?;
    let torch_model = Rnn::<AnyCell>::from_checkpoint_with(&ckpt, &config)?;
    // ANCHOR_END: from_pytorch
    println!();
    println!("2. A 2-layer bidirectional nn.LSTM saved by PyTorch, without a config:");
    // The message names the file: print it from the repository's root, wherever that is.
    let dir = format!("{}/", fixture("x").parent().unwrap().display());
    let refused = refused.to_string().replace(&dir, "tests/fixtures/");
    println!("   Rnn::from_checkpoint: {refused}");
    println!("   RnnConfig::infer: {}", config.to_json());
    let data = Checkpoint::load(&fixture("lstm_l2_bi.data.safetensors"))?;
    let get = |name: &str| data.get(name).expect("a fixture tensor");
    let (h0, c0) = (as3(get("h0")), as3(get("c0")));
    let init = states_from_pytorch(h0.view(), Some(c0.view()));
    let x = as3(get("x")); // (T, B, D)
    let (out, last, _) = torch_model.forward(x.view(), Some(&init), None); // (T, B, 2H)
    let (h_n, c_n) = states_to_pytorch(&last);
    println!(
        "   on PyTorch's input x {:?}: |ours - PyTorch's| of output {:?} {}, of h_n {}, of c_n {}",
        x.shape(),
        out.shape(),
        bound(max_abs_diff(&out, &as3(get("output")))),
        bound(max_abs_diff(&h_n, &as3(get("h_n")))),
        bound(max_abs_diff(&c_n.unwrap(), &as3(get("c_n"))))
    );

    // ANCHOR: char_model
    let path = fixture("char_lm_torch_lstm.weights.safetensors");
    let lm = CharLm::load(&path)?;
    // ANCHOR_END: char_model
    println!();
    println!(
        "3. A character model made in PyTorch (tools/parity/char_lm.py), loaded with CharLm::load:"
    );
    println!(
        "   config: {}",
        Checkpoint::load(&path)?.config.unwrap()["model"]
    );
    let module = |name: &str| match name.split('.').next().unwrap() {
        "encoder" => "nn.Embedding",
        "rnn" => "nn.LSTM",
        _ => "nn.Linear",
    };
    for (name, t) in lm.params() {
        println!(
            "   {:<22} {:<12} {}",
            name,
            format!("{:?}", t.shape()),
            module(&name)
        );
    }
    let text = "the quick brown fox jumps over the lazy dog; then the dog sleeps.";
    let ids = lm.config.vocab.encode(text)?;
    let ours = lm.evaluate(&ids, 1, ids.len() - 1)?.nats;
    let data = Checkpoint::load(&fixture("char_lm_torch_lstm.data.safetensors"))?;
    let theirs = data.get("nats").expect("the fixture's loss")[[0]];
    println!(
        "   loss on \"{text}\": {ours:.6} nats/char; PyTorch's {theirs:.6}, |difference| {}",
        bound((ours - theirs).abs())
    );
    Ok(())
}
