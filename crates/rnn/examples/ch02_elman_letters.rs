//! Chapter 2: Elman's (1990) letter-prediction experiment, replicated.
//!
//! Words from a small lexicon are drawn at random and written one after another *without spaces*; an Elman
//! network reads the stream one letter at a time and predicts the next letter. Nobody tells it where words
//! begin or end. After training, its prediction error (the surprisal `-log2 p(next letter)`, in bits) is high
//! on the first letter of a word and falls as the word goes on: the error curve marks the word boundaries.
//!
//! ```console
//! cargo run --release -p rnn --example ch02_elman_letters -- book/src/figures
//! ```
//!
//! writes `ch02-letter-error.svg` into the folder given (default: `book/src/figures`) and prints the numbers
//! it plots.

use std::path::PathBuf;

use ndarray::{Array2, Array3, ArrayViewD, ArrayViewMutD, Axis};
use rand::Rng as _;
use rnn::bptt::{bptt, unroll};
use rnn::data::{TbpttBatches, Vocab};
use rnn::layers::{one_hot, Dense};
use rnn::loss::{sequence_cross_entropy, softmax};
use rnn::optim::{clip_by_global_norm, Adam, Optimizer};
use rnn::plot::LineChart;
use rnn::prelude::*;

// ANCHOR: lexicon
/// The lexicon: fifteen short words (those of the sentence in Elman's figure, and "dog").
const LEXICON: [&str; 15] = [
    "many", "years", "ago", "a", "boy", "and", "girl", "lived", "by", "the", "sea", "they",
    "played", "happily", "dog",
];

/// A stream of `n_words` words drawn uniformly from the lexicon, written without spaces,
/// and for every letter whether it is the first letter of a word.
fn letter_stream(n_words: usize, rng: &mut rnn::init::Rng) -> (String, Vec<bool>) {
    let mut text = String::new();
    let mut word_initial = Vec::new();
    for _ in 0..n_words {
        let word = LEXICON[rng.random_range(0..LEXICON.len())];
        text.push_str(word);
        word_initial.extend((0..word.len()).map(|i| i == 0));
    }
    (text, word_initial)
}
// ANCHOR_END: lexicon

/// `(T, B)` letter ids → `(T, B, V)` one-hot vectors: Elman's input coding (he used 5-bit codes).
fn one_hot_seq(ids: &Array2<usize>, vocab: usize) -> Array3<f64> {
    let (t, b) = ids.dim();
    let flat: Vec<usize> = ids.iter().copied().collect(); // row-major: position (t, b) is row t·B + b
    one_hot(&flat, vocab)
        .into_shape_with_order((t, b, vocab))
        .expect("(T·B, V) reshapes to (T, B, V)")
}

// ANCHOR: train_step
/// The network: the Elman cell and the output layer as one set of parameters, so that one
/// optimiser updates them and one global norm (chapter 5) measures their gradient.
#[derive(Clone)]
struct Net {
    cell: Elman,
    out: Dense,
}

/// One step of truncated BPTT on a chunk. `x_ids` and `y_ids` are `(T, B)` letter ids,
/// the targets being the inputs shifted by one letter. Returns the chunk's loss, the
/// gradient's global norm before clipping, and the last state, to carry into the next
/// chunk (gradients stop at the chunk boundary).
fn train_chunk(
    net: &mut Net,
    opt: &mut Adam,
    x_ids: &Array2<usize>,
    y_ids: &Array2<usize>,
    state: &State,
) -> (f64, f64, State) {
    let xs = one_hot_seq(x_ids, net.out.out_features()); // (T, B, V)
    let run = unroll(&net.cell, xs.view(), state); // h_t for every step: (T, B, H)
    let logits = net.out.forward_seq(run.outputs.view()); // y_t = W_hy h_t + b_y: (T, B, V)
    let (loss, dlogits) = sequence_cross_entropy(logits.view(), y_ids.view(), None);
    // Backward: through the output layer at every step, then back through time.
    let mut g = net.zeros_like();
    let dhs = net
        .out
        .backward_seq(run.outputs.view(), dlogits.view(), &mut g.out); // (T, B, H)
    bptt(&net.cell, &run.caches, dhs.view(), None, &mut g.cell);
    // Clip by one global norm over every parameter, cell and output layer together (chapter 5).
    let norm = clip_by_global_norm(&mut g, 5.0);
    opt.step(net, &g);
    (loss, norm, run.last)
}
// ANCHOR_END: train_step

impl Parameters for Net {
    fn params(&self) -> Vec<(String, ArrayViewD<'_, f64>)> {
        let cell = self
            .cell
            .params()
            .into_iter()
            .map(|(n, p)| (format!("rnn.{n}"), p));
        let out = self
            .out
            .params()
            .into_iter()
            .map(|(n, p)| (format!("out.{n}"), p));
        cell.chain(out).collect()
    }
    fn params_mut(&mut self) -> Vec<(String, ArrayViewMutD<'_, f64>)> {
        let cell = self
            .cell
            .params_mut()
            .into_iter()
            .map(|(n, p)| (format!("rnn.{n}"), p));
        let out = self
            .out
            .params_mut()
            .into_iter()
            .map(|(n, p)| (format!("out.{n}"), p));
        cell.chain(out).collect()
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out_dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "book/src/figures".into()),
    );
    let mut rng = rnn::init::rng(1990);

    // Training stream and a separate test stream, from the same lexicon.
    let (train_text, _) = letter_stream(2000, &mut rng);
    let (test_text, test_initial) = letter_stream(400, &mut rng);
    let vocab = Vocab::from_text(&LEXICON.concat());
    let v = vocab.len();
    let train_ids = vocab.encode(&train_text)?;
    let test_ids = vocab.encode(&test_text)?;
    println!(
        "lexicon: {} words, {v} distinct letters; training stream {} letters, test stream {} letters",
        LEXICON.len(),
        train_ids.len(),
        test_ids.len()
    );
    println!("training stream starts: {}...", &train_text[..60]);

    // The model: one-hot letter -> Elman cell (20 hidden units, as in Elman's network) -> Dense -> softmax.
    let hidden = 20;
    let cell = Elman::new(v, hidden, &mut rng);
    let out = Dense::new(hidden, v, &mut rng);
    let mut net = Net { cell, out };
    let mut opt = Adam::new(0.01);

    // Truncated BPTT over 16 parallel streams, 20 letters per chunk.
    let batches = TbpttBatches::new(&train_ids, 16, 20)?;
    let epochs = 40;
    let started = std::time::Instant::now();
    let (mut steps, mut clipped, mut largest) = (0, 0, 0.0_f64);
    for epoch in 1..=epochs {
        let mut state = net.cell.zero_state(16);
        let mut total = 0.0;
        for k in 0..batches.num_chunks() {
            let (x_ids, y_ids) = batches.chunk(k); // (T, B) each
            let (loss, norm, last) = train_chunk(&mut net, &mut opt, &x_ids, &y_ids, &state);
            state = last; // carry the state into the next chunk
            total += loss;
            steps += 1;
            clipped += usize::from(norm > 5.0);
            largest = largest.max(norm);
        }
        if epoch == 1 || epoch % 10 == 0 {
            let nats = total / batches.num_chunks() as f64;
            println!(
                "epoch {epoch:>2}: training loss {:.3} bits/letter",
                rnn::loss::bits_per_char(nats)
            );
        }
    }

    println!(
        "{steps} training steps in {:.2} s; gradient norm at most {largest:.2}, above 5 (so clipped) in {clipped} of them",
        started.elapsed().as_secs_f64()
    );
    let Net { cell, out } = net;

    // ANCHOR: error
    // Read the whole test stream as one sequence (B = 1) and score every prediction:
    // error[t] = -log2 p(letter t+1 | letters 0..=t), in bits.
    let xs = one_hot_seq(
        &Array2::from_shape_vec((test_ids.len(), 1), test_ids.clone())?,
        v,
    );
    let run = unroll(&cell, xs.view(), &cell.zero_state(1));
    let logits = out.forward_seq(run.outputs.view()); // (T, 1, V)
    let probs = softmax(logits.index_axis(Axis(1), 0)); // (T, V)
    let error: Vec<f64> = (0..test_ids.len() - 1)
        .map(|t| -probs[[t, test_ids[t + 1]]].log2())
        .collect();
    // ANCHOR_END: error

    // Mean error by the position of the *predicted* letter within its word (skip a short warm-up).
    let warm = 10;
    let mut by_pos = vec![(0.0, 0usize); 5]; // 1st, 2nd, 3rd, 4th, 5th-or-later letter
    let (mut initial, mut within) = ((0.0, 0usize), (0.0, 0usize));
    let mut pos_in_word = 0;
    for (t, &e) in error.iter().enumerate() {
        let initial_letter = test_initial[t + 1]; // is the predicted letter the first of its word?
        pos_in_word = if initial_letter { 0 } else { pos_in_word + 1 };
        if t < warm {
            continue;
        }
        let slot = if initial_letter {
            &mut initial
        } else {
            &mut within
        };
        slot.0 += e;
        slot.1 += 1;
        let p = pos_in_word.min(4);
        by_pos[p].0 += e;
        by_pos[p].1 += 1;
    }
    let mean = |(s, n): (f64, usize)| s / n as f64;
    println!();
    println!("mean prediction error on the test stream (bits per letter):");
    println!(
        "  word-initial letters: {:.2} bits over {} letters",
        mean(initial),
        initial.1
    );
    println!(
        "  within-word letters:  {:.2} bits over {} letters",
        mean(within),
        within.1
    );
    let names = ["1st", "2nd", "3rd", "4th", "5th+"];
    for (name, acc) in names.iter().zip(&by_pos) {
        println!(
            "  {name:>4} letter of a word: {:.2} bits ({} letters)",
            mean(*acc),
            acc.1
        );
    }
    // For reference: guessing the first letter of a word drawn uniformly from the lexicon.
    let mut first = std::collections::BTreeMap::new();
    for w in LEXICON {
        *first.entry(w.chars().next().unwrap()).or_insert(0.0) += 1.0 / LEXICON.len() as f64;
    }
    let h_first: f64 = first.values().map(|p: &f64| -p * p.log2()).sum();
    println!("  (entropy of the first letter of a random word: {h_first:.2} bits)");

    // The plotted stretch: 60 predictions starting at a word boundary after the warm-up.
    let start = (40..).find(|&t| test_initial[t + 1]).unwrap();
    let len = 60;
    println!();
    println!(
        "the plotted stretch (letter predicted, error in bits; * marks a word's first letter):"
    );
    for t in start..start + len {
        let bar = "#".repeat((error[t] * 4.0).round() as usize);
        println!(
            "  {:>3} {} {} {:5.2} {bar}",
            t - start,
            vocab.char(test_ids[t + 1]),
            if test_initial[t + 1] { '*' } else { ' ' },
            error[t]
        );
    }
    let curve: Vec<(f64, f64)> = (start..start + len)
        .map(|t| ((t - start) as f64, error[t]))
        .collect();
    let top = curve.iter().map(|p| p.1).fold(0.0, f64::max);
    // Word starts drawn as thin spikes rising from a baseline just below zero, under the error curve.
    let mut marks = vec![(0.0, -0.3)];
    for t in start..start + len {
        if test_initial[t + 1] {
            let x = (t - start) as f64;
            marks.extend([(x - 0.02, -0.3), (x, top + 0.3), (x + 0.02, -0.3)]);
        }
    }
    marks.push(((len - 1) as f64, -0.3));
    let stretch: String = test_text[start + 1..start + 1 + len].into();
    println!("  text: {stretch}");
    let svg = LineChart::new(
        "Elman network: next-letter prediction error",
        "position in the stream",
        "error (bits)",
    )
    .series("first letter of a word", marks)
    .series("error -log2 p(next letter)", curve)
    .size(760, 380)
    .to_svg();
    std::fs::create_dir_all(&out_dir)?;
    let path = out_dir.join("ch02-letter-error.svg");
    svg.save(&path)?;
    println!("wrote {}", path.display());
    Ok(())
}
