//! Chapter 12: a checkpoint with PyTorch's names as Keras weights, and back.
//!
//! ```console
//! cargo run --release -p rnn --example ch12_interop
//! ```
//!
//! Saves a 2-layer bidirectional LSTM (D = 3, H = 4) as a checkpoint (PyTorch's `state_dict()` names),
//! converts the file to the layout of Keras' `Bidirectional(LSTM)` layers with `rnn::interop::to_keras`,
//! prints every PyTorch tensor next to the Keras tensor it becomes, converts back with
//! `rnn::interop::from_keras` and measures how far the outputs and final states moved. Keras has one bias
//! where PyTorch has two, so the way back returns `bias_ih + bias_hh` and a zero `bias_hh`: the same
//! function, up to the rounding of adding the two biases in another order (those last differences, near
//! 1e-16, depend on the CPU's rounding, so they are printed as a bound).

use std::collections::BTreeMap;

use ndarray::Ix3;
use rnn::cells::{AnyCell, CellConfig, CellKind};
use rnn::checkpoint::Checkpoint;
use rnn::interop;
use rnn::prelude::*;
use rnn::stack::{states_to_pytorch, Rnn};

mod common;
use common::{bound, max_abs_diff, remove_scratch, scratch_dir};

/// The Keras tensor that PyTorch's tensor `name` becomes: `weight_ih_l1_reverse` -> `layer1.backward.kernel`.
fn keras_name(name: &str, bidirectional: bool) -> String {
    let (base, reverse) = match name.strip_suffix("_reverse") {
        Some(b) => (b, true),
        None => (name, false),
    };
    let (param, k) = base.rsplit_once("_l").expect("a PyTorch RNN name");
    let stem = match (bidirectional, reverse) {
        (false, _) => format!("layer{k}."),
        (true, false) => format!("layer{k}.forward."),
        (true, true) => format!("layer{k}.backward."),
    };
    let tensor = match param {
        "weight_ih" => "kernel",
        "weight_hh" => "recurrent_kernel",
        "bias_ih" => "bias",
        _ => return format!("(added into {stem}bias)"),
    };
    format!("{stem}{tensor}")
}

fn main() -> rnn::Result<()> {
    let model = Rnn::new(3, 4, 2, true, 0.0, Lstm::new, &mut rnn::init::rng(12))?;
    let dir = scratch_dir("ch12-interop")?;
    let path = dir.join("lstm.safetensors");
    model.save(&path)?;

    // PyTorch names -> Keras layout.
    let torch = Checkpoint::load(&path)?;
    let keras = interop::to_keras(&torch)?;
    println!("A 2-layer bidirectional LSTM, D = 3, H = 4, saved with PyTorch's names and converted to Keras:");
    println!("Keras config: {}", keras.config.as_ref().unwrap());
    println!();
    println!(
        "{:<22} {:>8} | {:<32} {:>8}",
        "PyTorch", "shape", "Keras", "shape"
    );
    println!("{}", "-".repeat(22 + 1 + 8 + 3 + 32 + 1 + 8));
    let shape = |s: &[usize]| format!("{s:?}");
    for (name, p) in model.params() {
        let kname = keras_name(&name, true);
        let kshape = keras
            .get(&kname)
            .map(|t| shape(t.shape()))
            .unwrap_or_default();
        let line = format!(
            "{name:<22} {:>8} | {kname:<32} {kshape:>8}",
            shape(p.shape())
        );
        println!("{}", line.trim_end());
    }

    // And back: Keras layout -> PyTorch names -> a network.
    let back = interop::from_keras(&keras, CellConfig::new(CellKind::Lstm))?;
    let restored = Rnn::<AnyCell>::from_checkpoint(&back)?;
    let before: BTreeMap<String, _> = model.params().into_iter().collect();
    // Count, per kind of tensor, how many came back as expected (of how many).
    let (mut weights, mut sums, mut zeros) = ((0, 0), (0, 0), (0, 0));
    let tally = |(ok, all): &mut (usize, usize), yes: bool| {
        *ok += usize::from(yes);
        *all += 1;
    };
    for (name, p) in restored.params() {
        if name.starts_with("weight") {
            tally(&mut weights, p == before[&name]);
        } else if let Some(sfx) = name.strip_prefix("bias_ih") {
            let sum = &before[&name] + &before[&format!("bias_hh{sfx}")];
            tally(&mut sums, p == sum);
        } else {
            tally(&mut zeros, p.iter().all(|&v| v == 0.0));
        }
    }
    println!();
    println!("After PyTorch -> Keras -> PyTorch:");
    println!(
        "  weight matrices unchanged, bit for bit: {} of {}",
        weights.0, weights.1
    );
    println!(
        "  bias_ih equal to the old bias_ih + bias_hh: {} of {}",
        sums.0, sums.1
    );
    println!("  bias_hh all zero: {} of {}", zeros.0, zeros.1);

    let x = rnn::init::uniform(&[6, 2, 3], -1.0, 1.0, &mut rnn::init::rng(13))
        .into_dimensionality::<Ix3>()
        .unwrap(); // (T, B, D)
    let (out_a, fin_a, _) = model.forward(x.view(), None, None); // (T, B, 2H)
    let (out_b, fin_b, _) = restored.forward(x.view(), None, None);
    let ((h_a, c_a), (h_b, c_b)) = (states_to_pytorch(&fin_a), states_to_pytorch(&fin_b));
    println!(
        "  on a random input (T = 6, B = 2): max |difference| of the outputs {}, of h_n {}, of c_n {}",
        bound(max_abs_diff(&out_a, &out_b)),
        bound(max_abs_diff(&h_a, &h_b)),
        bound(max_abs_diff(&c_a.unwrap(), &c_b.unwrap()))
    );
    remove_scratch(&dir)?;
    Ok(())
}
