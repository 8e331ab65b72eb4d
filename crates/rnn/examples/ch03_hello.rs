//! Chapter 3: the "hello" language model, with real numbers.
//!
//! A vocabulary of four characters (h, e, l, o), an Elman cell with 3 hidden units and a dense output layer,
//! trained on the single word "hello": read h, e, l, l and predict e, l, l, o. The program prints the
//! per-step probabilities and the loss before and after training, one step worked through by hand,
//! samples at several temperatures, and writes a figure of a softmax at several temperatures:
//!
//! ```console
//! cargo run --release -p rnn --example ch03_hello -- book/src/figures
//! ```
//!
//! Every number in chapter 3 that concerns this model is quoted from this program's output.

use std::path::PathBuf;

use ndarray::{Array2, Axis};
use rnn::bptt::{bptt, unroll};
use rnn::data::Vocab;
use rnn::layers::{one_hot, Dense};
use rnn::loss::{bits_per_char, perplexity, sequence_cross_entropy, softmax};
use rnn::optim::{Adam, Optimizer};
use rnn::plot::LineChart;
use rnn::prelude::*;
use rnn::sample::{draw, greedy, probabilities};

/// Runs the model over `inputs` (one sequence) and returns the logits `(T, V)`.
fn logits_for(cell: &Elman, out: &Dense, inputs: &[usize], v: usize) -> Array2<f64> {
    let xs = one_hot(inputs, v)
        .into_shape_with_order((inputs.len(), 1, v))
        .expect("(T, V) reshapes to (T, 1, V)"); // (T, B = 1, V)
    let run = unroll(cell, xs.view(), &cell.zero_state(1));
    out.forward_seq(run.outputs.view())
        .index_axis(Axis(1), 0)
        .to_owned() // (T, V)
}

/// Prints, for every step, the input, the target, the four probabilities and the step's loss; returns the
/// mean loss in nats.
fn report(cell: &Elman, out: &Dense, vocab: &Vocab, inputs: &[usize], targets: &[usize]) -> f64 {
    let p = softmax(logits_for(cell, out, inputs, vocab.len()).view()); // (T, V)
    let header: String = vocab.chars().iter().map(|c| format!("  p({c})")).collect();
    println!("  t  input target{header}  -ln p(target)");
    let mut total = 0.0;
    for (t, (&x, &y)) in inputs.iter().zip(targets).enumerate() {
        let row: String = p.row(t).iter().map(|q| format!(" {q:.3}")).collect();
        let loss = -p[[t, y]].ln();
        total += loss;
        println!(
            "  {}    {}     {}  {row}      {loss:.3}",
            t + 1,
            vocab.char(x),
            vocab.char(y)
        );
    }
    let mean = total / inputs.len() as f64;
    println!(
        "  loss L = {mean:.3} nats/char, perplexity {:.3}, {:.3} bits/char",
        perplexity(mean),
        bits_per_char(mean)
    );
    mean
}

// ANCHOR: generate
/// Generates `n` characters after `first`, feeding each sampled character back in as the
/// next input. `temperature: None` means greedy (always the most likely character).
fn generate(
    (cell, out): (&Elman, &Dense),
    vocab: &Vocab,
    first: char,
    n: usize,
    temperature: Option<f64>,
    top_k: Option<usize>,
    rng: &mut rnn::init::Rng,
) -> String {
    let mut state = cell.zero_state(1);
    let mut id = vocab
        .id(first)
        .expect("first character is in the vocabulary");
    let mut text = String::from(first);
    for _ in 0..n {
        let x = one_hot(&[id], vocab.len()); // (1, V)
        let (next, _) = cell.forward(x.view(), &state); // h_t: (1, H)
        let logits = out.forward(next.h.view()); // y_t: (1, V)
        let z = logits.row(0).to_vec();
        id = match temperature {
            None => greedy(&z),
            Some(tau) => draw(&probabilities(&z, tau, top_k), rng),
        };
        text.push(vocab.char(id));
        state = next;
    }
    text
}
// ANCHOR_END: generate

/// Training steps, each one Adam update (full batch: the one word).
const STEPS: usize = 40;

fn fmt(v: impl IntoIterator<Item = f64>) -> String {
    let items: Vec<String> = v.into_iter().map(|x| format!("{x:.3}")).collect();
    format!("[{}]", items.join(", "))
}

/// The sampling settings the samples and the "hello" probabilities are shown for: (temperature, top-k).
const SAMPLING: [(f64, Option<usize>); 5] = [
    (0.5, None),
    (1.0, None),
    (2.0, None),
    (5.0, None),
    (5.0, Some(2)),
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out_dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "book/src/figures".into()),
    );

    // ANCHOR: data
    let vocab = Vocab::from_chars(vec!['h', 'e', 'l', 'o']); // ids 0, 1, 2, 3
    let ids = vocab.encode("hello")?; // [0, 1, 2, 2, 3]
    let (inputs, targets) = (&ids[..4], &ids[1..]); // read h e l l, predict e l l o
                                                    // ANCHOR_END: data
    let v = vocab.len();
    let mut rng = rnn::init::rng(3);
    let mut cell = Elman::new(v, 3, &mut rng);
    let mut out = Dense::new(3, v, &mut rng);
    println!(
        "vocabulary {:?}, inputs {:?}, targets {:?}; {} parameters",
        vocab.chars(),
        inputs,
        targets,
        cell.num_params() + out.num_params()
    );

    println!();
    println!("== before training (seed 3) ==");
    report(&cell, &out, &vocab, inputs, targets);

    // One step by hand: the first input is 'h', so x_1 is the one-hot vector [1, 0, 0, 0].
    println!();
    println!("== step 1 by hand, before training ==");
    let x1 = one_hot(&inputs[..1], v); // (1, V)
    let (s1, _) = cell.forward(x1.view(), &cell.zero_state(1));
    let z1 = out.forward(s1.h.view()); // (1, V)
    let m = z1.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = z1.iter().map(|z| (z - m).exp()).collect();
    let sum: f64 = e.iter().sum();
    println!("  x_1 = onehot(h) = {}", fmt(x1.iter().copied()));
    println!(
        "  h_1 = tanh(W_ih x_1 + b_ih + b_hh) = {}",
        fmt(s1.h.iter().copied())
    );
    println!("  y_1 = W_hy h_1 + b_y = {}", fmt(z1.iter().copied()));
    println!(
        "  exp(y_1 - max) = {}, sum {sum:.3}",
        fmt(e.iter().copied())
    );
    println!("  p_1 = {}", fmt(e.iter().map(|x| x / sum)));
    println!(
        "  loss at step 1 = -ln p_1(e) = -ln {:.3} = {:.3}",
        e[1] / sum,
        -(e[1] / sum).ln()
    );

    println!();
    // ANCHOR: train
    let xs = one_hot(inputs, v).into_shape_with_order((4, 1, v))?; // (T, B, V) = (4, 1, 4)
    let ys = Array2::from_shape_vec((4, 1), targets.to_vec())?; // (T, B)
    let (mut opt_cell, mut opt_out) = (Adam::new(0.05), Adam::new(0.05));
    for step in 0..STEPS {
        let run = unroll(&cell, xs.view(), &cell.zero_state(1)); // (T, B, H)
        let logits = out.forward_seq(run.outputs.view()); // (T, B, V)
        let (loss, dlogits) = sequence_cross_entropy(logits.view(), ys.view(), None);
        if step % 10 == 0 {
            println!("after {step:>2} updates: loss {loss:.4}");
        }
        let (mut g_cell, mut g_out) = (cell.zeros_like(), out.zeros_like());
        let dhs = out.backward_seq(run.outputs.view(), dlogits.view(), &mut g_out);
        bptt(&cell, &run.caches, dhs.view(), None, &mut g_cell);
        opt_cell.step(&mut cell, &g_cell);
        opt_out.step(&mut out, &g_out);
    }
    // ANCHOR_END: train

    println!();
    println!("== after {STEPS} Adam updates ==");
    report(&cell, &out, &vocab, inputs, targets);

    // Sampling: start from 'h' and generate four more characters.
    println!();
    println!("== samples: 'h' followed by 4 generated characters ==");
    let mut rng = rnn::init::rng(7);
    println!(
        "  greedy:            {}",
        generate((&cell, &out), &vocab, 'h', 4, None, None, &mut rng)
    );
    for (tau, k) in SAMPLING {
        let samples: Vec<String> = (0..8)
            .map(|_| generate((&cell, &out), &vocab, 'h', 4, Some(tau), k, &mut rng))
            .collect();
        let label = match k {
            Some(k) => format!("tau = {tau:.1}, top-{k}:"),
            None => format!("tau = {tau:.1}:"),
        };
        println!("  {label:<18} {}", samples.join(" "));
    }

    // How likely is a sample to be "hello"? By the chain rule, the product of the probabilities of e, l,
    // l, o at the four steps of reading "hell" (each with the same temperature and top-k as the sampler).
    let logits = logits_for(&cell, &out, inputs, v); // (T, V)
    println!();
    println!("== probability that one sample is \"hello\", and that eight in a row are ==");
    for (tau, k) in SAMPLING {
        let p: f64 = targets
            .iter()
            .enumerate()
            .map(|(t, &y)| probabilities(&logits.row(t).to_vec(), tau, k)[y])
            .product();
        let label = match k {
            Some(k) => format!("tau = {tau:.1}, top-{k}:"),
            None => format!("tau = {tau:.1}:"),
        };
        let eight = p.powi(8);
        let eight = if eight >= 1e-3 {
            format!("{eight:.3}")
        } else {
            format!("{eight:.1e}")
        };
        println!("  {label:<18} P(hello) = {p:.3}, P(eight hellos) = {eight}");
    }
    // Top-2 keeps the two most likely characters, whatever their probability: after 'h' the second is 'l'.
    let z1 = logits.row(0).to_vec();
    println!(
        "  after 'h': tau = 1.0: p = {}",
        fmt(probabilities(&z1, 1.0, None).iter().copied())
    );
    println!(
        "  after 'h': tau = 5.0, top-2: p = {}",
        fmt(probabilities(&z1, 5.0, Some(2)).iter().copied())
    );

    // The softmax at several temperatures, for the logits of step 3 (input 'l' after "he", target 'l').
    let z3 = logits.row(2).to_vec();
    println!();
    println!("== temperature, for the logits of step 3 (after reading \"hel\") ==");
    println!("  y_3 = {}", fmt(z3.iter().copied()));
    for tau in [0.5, 1.0, 2.0, 5.0] {
        println!(
            "  tau = {tau:.1}: p = {}",
            fmt(probabilities(&z3, tau, None).iter().copied())
        );
    }
    println!(
        "  tau = 5.0, top-2: p = {}",
        fmt(probabilities(&z3, 5.0, Some(2)).iter().copied())
    );

    let taus: Vec<f64> = (0..=60)
        .map(|i| 10f64.powf(-1.0 + i as f64 / 30.0))
        .collect();
    let mut chart = LineChart::new(
        "softmax(y / tau) for the logits after \"hel\"",
        "log10(tau): -1 is tau = 0.1, 0 is tau = 1, 1 is tau = 10",
        "probability",
    )
    .size(720, 380);
    for (c, ch) in vocab.chars().iter().enumerate() {
        let pts = taus
            .iter()
            .map(|&tau| (tau.log10(), probabilities(&z3, tau, None)[c]))
            .collect();
        chart = chart.series(&format!("p({ch})"), pts);
    }
    std::fs::create_dir_all(&out_dir)?;
    let path = out_dir.join("ch03-temperature.svg");
    chart.to_svg().save(&path)?;
    println!("wrote {}", path.display());
    Ok(())
}
