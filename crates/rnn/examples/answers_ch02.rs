//! Worked answers to chapter 2's exercises: every number the answers quote is printed here.
//!
//! ```console
//! cargo run --release -q -p rnn --example answers_ch02
//! ```
//!
//! The book includes this file's `// ANCHOR: exK` regions into the answer to exercise K, and the lines of
//! its output (`book/src/outputs/answers_ch02.txt`) between the printed `// ANCHOR: exK` and
//! `// ANCHOR_END: exK` (mdBook finds anchors in any file; `cargo xtask book` checks them).
//! Exercises 1 and 2 are labs (their solutions are in `labs/solutions/`), exercise 5 has no arithmetic.
//!
//! Exercise 6 changes the lexicon of `ch02_elman_letters.rs`. That example stays as the chapter shows it:
//! its setup (seed, streams, network, optimiser, truncated BPTT) is repeated here with the library's public
//! API, with the lexicon and the hidden size as parameters, so the run with the chapter's lexicon and 20
//! units reproduces the chapter's numbers.

use std::collections::BTreeMap;

use ndarray::{Array1, Array2, Array3, ArrayViewD, ArrayViewMutD, Axis};
use rand::Rng as _;
use rnn::bptt::{bptt, unroll};
use rnn::data::{TbpttBatches, Vocab};
use rnn::init::{orthogonal, uniform, Rng};
use rnn::layers::{one_hot, Dense};
use rnn::loss::{sequence_cross_entropy, softmax};
use rnn::optim::{clip_by_global_norm, Adam, Optimizer};
use rnn::prelude::*;
use rnn::stack::Rnn;

// ANCHOR: ex3
/// Exercise 3: parameter counts for V = 65 one-hot characters and H = 128.
fn exercise_3(rng: &mut Rng) {
    let (v, h, window) = (65, 128, 50);
    let cell = Elman::new(v, h, rng);
    let out = Dense::new(h, v, rng);
    println!("Elman cell:   {}", cell.num_params());
    println!("output layer: {}", out.num_params());
    println!("together:     {}", cell.num_params() + out.num_params());
    // A two-layer stack of the same width: layer 1 reads layer 0's H features.
    let stack = Rnn::new(v, h, 2, false, 0.0, Elman::new, rng).expect("a valid config");
    for (name, p) in stack.params() {
        println!("  {name:<13} {:?}", p.shape());
    }
    println!(
        "two-layer stack: {}, with the output layer {}",
        stack.num_params(),
        stack.num_params() + out.num_params()
    );
    // A dense layer from a window of 50 one-hot characters (50 * 65 inputs) to 128 features.
    let dense = Dense::new(window * v, h, rng);
    println!(
        "dense over a window of {window}: {} ({} weights + {} biases)",
        dense.num_params(),
        window * v * h,
        h
    );
}
// ANCHOR_END: ex3

// ANCHOR: ex4
/// Exercise 4: a linear RNN, h_t = W_hh h_{t-1} + W_ih x_t, against its closed form, and
/// the size of x_1's contribution W_hh^(T-1) W_ih x_1 when every eigenvalue of W_hh has
/// modulus rho (W_hh = rho * an orthogonal matrix).
fn exercise_4(rng: &mut Rng) {
    let (d, h, t_len) = (3, 4, 8);
    let w_ih = orthogonal(h, d, 1.0, rng); // (H, D)
    let w_hh = orthogonal(h, h, 0.9, rng); // (H, H)
    let xs: Vec<Array1<f64>> = (0..t_len)
        .map(|_| {
            uniform(&[d], -1.0, 1.0, rng)
                .into_dimensionality()
                .expect("1-D")
        })
        .collect();
    // The loop, from h_0 = 0 ...
    let mut h_t = Array1::<f64>::zeros(h);
    for x in &xs {
        h_t = w_hh.dot(&h_t) + w_ih.dot(x);
    }
    // ... and the sum: h_T = sum over t of W_hh^(T-t) W_ih x_t.
    let mut closed = Array1::<f64>::zeros(h);
    for (t, x) in xs.iter().enumerate() {
        let mut term = w_ih.dot(x);
        for _ in 0..(t_len - 1 - t) {
            term = w_hh.dot(&term);
        }
        closed += &term;
    }
    let diff = (&h_t - &closed).iter().fold(0.0_f64, |m, v| m.max(v.abs()));
    println!(
        "T = {t_len}: loop vs closed form, largest difference below 1e-12: {}",
        diff < 1e-12
    );
    // x_1's contribution after T steps, for three spectral radii.
    let q = orthogonal(h, h, 1.0, rng);
    let start = w_ih.dot(&xs[0]);
    println!("|W_ih x_1| = {:.3}", norm(&start));
    for rho in [0.9, 1.0, 1.1] {
        let w = &q * rho; // every eigenvalue has modulus rho
        let mut term = start.clone();
        let mut row = format!("rho = {rho:.1}:");
        for t in 1..=100 {
            if [1, 10, 50, 100].contains(&t) {
                row += &format!("  T = {t}: {:.3e}", norm(&term));
            }
            term = w.dot(&term);
        }
        println!("{row}");
    }
}

fn norm(v: &Array1<f64>) -> f64 {
    v.dot(v).sqrt()
}
// ANCHOR_END: ex4

// ANCHOR: ex6
/// The chapter's lexicon, and the chapter's with "then" and "boys" added.
const LEXICON: [&str; 15] = [
    "many", "years", "ago", "a", "boy", "and", "girl", "lived", "by", "the", "sea", "they",
    "played", "happily", "dog",
];
const MORE: [&str; 2] = ["then", "boys"];

/// Exercise 6: the letter experiment with another lexicon and another hidden size.
fn exercise_6() {
    let extended: Vec<&str> = LEXICON.iter().chain(&MORE).copied().collect();
    for (lexicon, hidden) in [(&LEXICON[..], 20), (&extended[..], 20), (&LEXICON[..], 5)] {
        let words = if lexicon.len() == LEXICON.len() {
            "the chapter's 15 words"
        } else {
            "17 words (+ then, boys)"
        };
        println!("== {words}, H = {hidden} ==");
        experiment(lexicon, hidden);
    }
}
// ANCHOR_END: ex6

/// A stream of `n_words` words drawn uniformly from `lexicon`, written without spaces,
/// with, for every letter, the index of its word in the stream and its position in that word.
fn letter_stream(lexicon: &[&str], n_words: usize, rng: &mut Rng) -> (String, Vec<(usize, usize)>) {
    let mut text = String::new();
    let mut place = Vec::new();
    for n in 0..n_words {
        let word = lexicon[rng.random_range(0..lexicon.len())];
        text.push_str(word);
        place.extend((0..word.len()).map(|i| (n, i)));
    }
    (text, place)
}

/// `(T, B)` letter ids → `(T, B, V)` one-hot vectors.
fn one_hot_seq(ids: &Array2<usize>, vocab: usize) -> Array3<f64> {
    let (t, b) = ids.dim();
    let flat: Vec<usize> = ids.iter().copied().collect();
    one_hot(&flat, vocab)
        .into_shape_with_order((t, b, vocab))
        .expect("(T·B, V) reshapes to (T, B, V)")
}

/// The cell and the output layer as one set of parameters (as in `ch02_elman_letters`).
#[derive(Clone)]
struct Net {
    cell: Elman,
    out: Dense,
}

impl Parameters for Net {
    fn params(&self) -> Vec<(String, ArrayViewD<'_, f64>)> {
        let mut p = self.cell.params();
        p.extend(self.out.params());
        p
    }
    fn params_mut(&mut self) -> Vec<(String, ArrayViewMutD<'_, f64>)> {
        let mut p = self.cell.params_mut();
        p.extend(self.out.params_mut());
        p
    }
}

/// Trains on a 2,000-word stream exactly as chapter 2 does (seed 1990, 16 streams, chunks of 20 letters,
/// 40 epochs, Adam 0.01, global-norm clipping at 5), then prints the mean error on a 400-word test stream
/// by position in the word, and, for a few words, the error at each of their letters and at the letter
/// that follows them.
fn experiment(lexicon: &[&str], hidden: usize) {
    let mut rng = rnn::init::rng(1990);
    let (train_text, _) = letter_stream(lexicon, 2000, &mut rng);
    let (test_text, place) = letter_stream(lexicon, 400, &mut rng);
    let vocab = Vocab::from_text(&lexicon.concat());
    let v = vocab.len();
    let train_ids = vocab.encode(&train_text).expect("lexicon letters");
    let test_ids = vocab.encode(&test_text).expect("lexicon letters");
    let cell = Elman::new(v, hidden, &mut rng);
    let out = Dense::new(hidden, v, &mut rng);
    let mut net = Net { cell, out };
    let mut opt = Adam::new(0.01);
    let batches = TbpttBatches::new(&train_ids, 16, 20).expect("a long enough stream");
    for _epoch in 0..40 {
        let mut state = net.cell.zero_state(16);
        for k in 0..batches.num_chunks() {
            let (x_ids, y_ids) = batches.chunk(k); // (T, B)
            let xs = one_hot_seq(&x_ids, v);
            let run = unroll(&net.cell, xs.view(), &state);
            let logits = net.out.forward_seq(run.outputs.view());
            let (_, dlogits) = sequence_cross_entropy(logits.view(), y_ids.view(), None);
            let mut g = net.zeros_like();
            let dhs = net
                .out
                .backward_seq(run.outputs.view(), dlogits.view(), &mut g.out);
            bptt(&net.cell, &run.caches, dhs.view(), None, &mut g.cell);
            clip_by_global_norm(&mut g, 5.0);
            opt.step(&mut net, &g);
            state = run.last;
        }
    }
    // error[t] = -log2 p(letter t+1 | letters 0..=t) over the whole test stream.
    let xs = one_hot_seq(
        &Array2::from_shape_vec((test_ids.len(), 1), test_ids.clone()).expect("(T, 1)"),
        v,
    );
    let run = unroll(&net.cell, xs.view(), &net.cell.zero_state(1));
    let logits = net.out.forward_seq(run.outputs.view());
    let probs = softmax(logits.index_axis(Axis(1), 0)); // (T, V)
    let warm = 10;
    let mut by_pos = [(0.0, 0usize); 5];
    let (mut initial, mut within) = ((0.0, 0usize), (0.0, 0usize));
    // (word, letter position or "next") -> (sum, count)
    let mut per_word: BTreeMap<(String, usize), (f64, usize)> = BTreeMap::new();
    let word_of = |n: usize| -> String {
        let start = place.iter().position(|p| p.0 == n).expect("word n exists");
        let len = place[start..].iter().take_while(|p| p.0 == n).count();
        test_text[start..start + len].to_string()
    };
    let mut words: Vec<String> = Vec::new();
    for n in 0..=place.last().expect("a stream").0 {
        words.push(word_of(n));
    }
    for t in warm..test_ids.len() - 1 {
        let e = -probs[[t, test_ids[t + 1]]].log2();
        let (n, i) = place[t + 1];
        let slot = if i == 0 { &mut initial } else { &mut within };
        slot.0 += e;
        slot.1 += 1;
        by_pos[i.min(4)].0 += e;
        by_pos[i.min(4)].1 += 1;
        // The letter predicted is letter i of word n; a word-initial letter is also "the letter after"
        // word n - 1 (slot usize::MAX).
        let key = if i == 0 {
            (words[n - 1].clone(), usize::MAX)
        } else {
            (words[n].clone(), i)
        };
        let acc = per_word.entry(key).or_insert((0.0, 0));
        acc.0 += e;
        acc.1 += 1;
    }
    let mean = |(s, n): (f64, usize)| s / n as f64;
    let names = ["1st", "2nd", "3rd", "4th", "5th+"];
    let row: Vec<String> = names
        .iter()
        .zip(&by_pos)
        .map(|(name, acc)| format!("{name} {:.2}", mean(*acc)))
        .collect();
    println!(
        "  word-initial {:.2} bits, within-word {:.2} bits",
        mean(initial),
        mean(within)
    );
    println!("  by letter of the word: {}", row.join(", "));
    let mut first: BTreeMap<char, f64> = BTreeMap::new();
    for w in lexicon {
        *first
            .entry(w.chars().next().expect("a word"))
            .or_insert(0.0) += 1.0 / lexicon.len() as f64;
    }
    let h_first: f64 = first.values().map(|p| -p * p.log2()).sum();
    println!("  (entropy of the first letter of a random word: {h_first:.2} bits)");
    for w in ["the", "they", "then", "by", "boy", "boys"] {
        if !lexicon.contains(&w) {
            continue;
        }
        let cells: Vec<String> = (1..w.len())
            .map(|i| {
                (
                    w.chars().nth(i).expect("letter"),
                    per_word.get(&(w.into(), i)),
                )
            })
            .map(|(c, acc)| format!("{c} {:.2}", acc.map_or(f64::NAN, |a| mean(*a))))
            .chain(
                per_word
                    .get(&(w.into(), usize::MAX))
                    .map(|a| format!("next {:.2} ({} times in the test stream)", mean(*a), a.1)),
            )
            .collect();
        println!("  {w:<5} {}", cells.join(", "));
    }
}

/// An exercise's name (its anchor) and the function that prints its answer.
type Exercise = (&'static str, fn(&mut Rng));

fn main() {
    let mut rng = rnn::init::rng(2);
    let exercises: [Exercise; 3] = [
        ("ex3", exercise_3),
        ("ex4", exercise_4),
        ("ex6", |_| exercise_6()),
    ];
    for (name, run) in exercises {
        // The book quotes the lines between these markers (mdBook's anchors).
        println!("// ANCHOR: {name}");
        run(&mut rng);
        println!("// ANCHOR_END: {name}");
    }
}
