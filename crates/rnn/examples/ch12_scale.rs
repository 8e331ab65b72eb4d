//! Chapter 12: what a character model costs, counted and measured on this machine.
//!
//! ```console
//! cargo run --release -q -p rnn --example ch12_scale
//! ```
//!
//! For LSTM character models of chapter 6's shape (one-hot input over Tiny Shakespeare's V = 65
//! characters, an output layer back to 65) of 256 x 1, 512 x 2 and 1024 x 3 units, prints the parameters,
//! the memory training holds for them (weights, gradients and Adam's two moments, f64), and the
//! multiply-adds per character. Then it times three training steps (forward, backward, B = 32, T = 64) of
//! the two smaller models with random characters, and from the measured speed the time of one pass over
//! Tiny Shakespeare (1,115,394 characters) and over a corpus of 1e9 characters. The 1024 x 3 model is not
//! timed: its times are the 512 x 2 model's rate of multiply-adds applied to its count.
//!
//! Counting: an LSTM layer of input D does 4H(D + H) multiply-adds per character and step (the two matrix
//! products of (7.1); the element-wise work is ignored), the output layer H·V; a training step costs
//! about three times the forward pass (the backward computes two products for each forward one: the
//! gradient of the input and of the weights). Times depend on the machine: the book quotes the counts.

use std::time::Instant;

use ndarray::Array2;
use rand::Rng as _;
use rnn::data::Vocab;
use rnn::models::char_lm::{CharLm, CharLmConfig};
use rnn::params::Parameters;

const V: usize = 65;
const B: usize = 32;
const T: usize = 64;
const STEPS: usize = 3;
const SHAKESPEARE: f64 = 1_115_394.0;
const BIG: f64 = 1e9;

/// Multiply-adds per character of the forward pass.
fn macs_per_char(h: usize, layers: usize) -> usize {
    let first = 4 * h * (V + h);
    let rest = (layers - 1) * 4 * h * (h + h);
    first + rest + h * V
}

/// Minutes, with thousands separators.
fn minutes(seconds: f64) -> String {
    let m = (seconds / 60.0).round() as u64;
    let s = m.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    format!("{out} min")
}

fn main() -> rnn::Result<()> {
    let chars: Vec<char> = (0..V as u32)
        .map(|i| char::from_u32(33 + i).unwrap())
        .collect();
    let vocab = Vocab::from_chars(chars);
    println!(
        "{:<15} {:>11} {:>14} {:>16}",
        "LSTM", "parameters", "training state", "multiply-adds"
    );
    println!(
        "{:<15} {:>11} {:>14} {:>16}",
        "", "", "(f64, Adam)", "per character"
    );
    let sizes = [(256, 1), (512, 2), (1024, 3)];
    for &(h, layers) in &sizes {
        let config = CharLmConfig::new("lstm", vocab.clone(), 0, h, layers, 0.0);
        let model = CharLm::new(config, &mut rnn::init::rng(0))?;
        let params: usize = model.params().iter().map(|(_, p)| p.len()).sum();
        // weights, gradients, Adam's m and v: four f64 numbers per parameter
        let mb = (4 * 8 * params) as f64 / 1e6;
        println!(
            "{:<15} {:>11} {:>11.1} MB {:>16}",
            format!("{h} x {layers}"),
            params,
            mb,
            macs_per_char(h, layers)
        );
    }

    println!();
    println!(
        "Measured here, {STEPS} training steps (forward and backward, B = {B}, T = {T}) of each model:"
    );
    let mut rate = 0.0; // multiply-adds per second of the last timed model
    let mut rng = rnn::init::rng(1);
    for &(h, layers) in &sizes[..2] {
        let config = CharLmConfig::new("lstm", vocab.clone(), 0, h, layers, 0.0);
        let model = CharLm::new(config, &mut rnn::init::rng(0))?;
        let inputs = Array2::from_shape_fn((T, B), |_| rng.random_range(0..V));
        let targets = Array2::from_shape_fn((T, B), |_| rng.random_range(0..V));
        let started = Instant::now();
        for _ in 0..STEPS {
            let (_, _, cache) = model.forward(&inputs, &targets, None, None);
            let mut grads = model.zeros_like();
            model.backward(&cache, &mut grads);
        }
        let secs = started.elapsed().as_secs_f64();
        let per_sec = (STEPS * B * T) as f64 / secs;
        rate = per_sec * 3.0 * macs_per_char(h, layers) as f64;
        println!(
            "  {h} x {layers}: {per_sec:.0} chars/s; one pass of Tiny Shakespeare {}, of 1e9 characters {}",
            minutes(SHAKESPEARE / per_sec),
            minutes(BIG / per_sec)
        );
    }
    let per_sec = rate / (3.0 * macs_per_char(1024, 3) as f64);
    println!(
        "  1024 x 3 (at the rate of 512 x 2): {per_sec:.0} chars/s; one pass of Tiny Shakespeare {}, of 1e9 characters {}",
        minutes(SHAKESPEARE / per_sec),
        minutes(BIG / per_sec)
    );
    Ok(())
}
