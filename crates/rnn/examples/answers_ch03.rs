//! Worked answers to chapter 3's exercises: every number the answers quote is printed here.
//!
//! ```console
//! cargo run --release -q -p rnn --example answers_ch03
//! ```
//!
//! The book includes this file's `// ANCHOR: exK` regions into the answer to exercise K, and the lines of
//! its output (`book/src/outputs/answers_ch03.txt`) between the printed `// ANCHOR: exK` and
//! `// ANCHOR_END: exK` (mdBook finds anchors in any file; `cargo xtask book` checks them).
//! Exercises 1 and 2 are labs (their solutions are in `labs/solutions/`).
//!
//! Exercise 7 trains the "hello" model of `ch03_hello.rs` on "hellohello". That example stays as the
//! chapter shows it: its setup (vocabulary, seed 3, Adam 0.05, full-batch updates) is repeated here with
//! the library's public API, with the word, the hidden size and the number of updates as parameters.

use ndarray::{array, Array2, Axis};
use rnn::bptt::{bptt, unroll};
use rnn::data::Vocab;
use rnn::layers::{one_hot, Dense};
use rnn::loss::{
    bits_per_char, perplexity, sequence_cross_entropy, softmax, softmax_cross_entropy,
};
use rnn::optim::{Adam, Optimizer};
use rnn::prelude::*;
use rnn::sample::{greedy, probabilities};

fn fmt(v: impl IntoIterator<Item = f64>) -> String {
    let items: Vec<String> = v.into_iter().map(|x| format!("{x:.3}")).collect();
    format!("[{}]", items.join(", "))
}

// ANCHOR: ex3
/// Exercise 3: softmax, loss and gradient for z = (2, 1, 0) and target 0, by hand and
/// with the library.
fn exercise_3() {
    let z = [2.0_f64, 1.0, 0.0];
    let e: Vec<f64> = z.iter().map(|v| v.exp()).collect();
    let sum: f64 = e.iter().sum();
    let p: Vec<f64> = e.iter().map(|v| v / sum).collect();
    println!("by hand: exp(z) = {}, sum {sum:.3}", fmt(e.iter().copied()));
    println!("         p = {}", fmt(p.iter().copied()));
    println!("         loss = -ln {:.3} = {:.3}", p[0], -p[0].ln());
    let grad = [p[0] - 1.0, p[1], p[2]];
    println!(
        "         dl/dz = p - onehot(0) = {}, sum {:.3}",
        fmt(grad),
        grad.iter().sum::<f64>()
    );
    let (loss, dz) = softmax_cross_entropy(array![[2.0, 1.0, 0.0]].view(), &[0], None);
    println!(
        "library: loss = {loss:.3}, dl/dz = {}, |sum| below 1e-12: {}",
        fmt(dz.iter().copied()),
        dz.sum().abs() < 1e-12
    );
}
// ANCHOR_END: ex3

// ANCHOR: ex4
/// Exercise 4: V = 4 symbols, target 0, and a logit c on a wrong symbol.
fn exercise_4() {
    println!("uniform: ln 4 = {:.3}", 4f64.ln());
    for c in [0.0, 1.0, 2.0, 5.0, 10.0, 100.0, 1000.0] {
        let (loss, _) = softmax_cross_entropy(array![[0.0, 0.0, 0.0, c]].view(), &[0], None);
        println!(
            "z = (0, 0, 0, {c:>4}): p(target) = {:.2e}, loss {loss:.3} nats, perplexity {:.3e}",
            (-loss).exp(),
            perplexity(loss)
        );
    }
}
// ANCHOR_END: ex4

// ANCHOR: ex5
/// Exercise 5: softmax(z / tau) for z = (2, 1, 0) from tau = 0.05 to tau = 1000.
fn exercise_5() {
    let z = [2.0, 1.0, 0.0];
    for tau in [0.05, 0.2, 1.0, 5.0, 100.0, 1000.0] {
        let p = probabilities(&z, tau, None);
        println!("tau = {tau:>7.2}: p = {}", fmt(p));
    }
}
// ANCHOR_END: ex5

// ANCHOR: ex6
/// Exercise 6: a word-level model with perplexity 120 over 10,000 words.
fn exercise_6() {
    let (ppl, vocab) = (120.0_f64, 10_000.0_f64);
    let nats = ppl.ln(); // (3.8) read backwards: L = ln PPL
    println!("loss L = ln 120 = {nats:.3} nats per word");
    println!("       = {:.3} bits per word", bits_per_char(nats)); // (3.9)
    println!("check: perplexity(L) = {:.3}", perplexity(nats));
    println!(
        "uniform model: perplexity {vocab}, {:.3} nats, {:.3} bits per word",
        vocab.ln(),
        vocab.log2()
    );
    println!(
        "ratio of perplexities 10000 / 120 = {:.1} = 2^{:.3} (the difference in bits)",
        vocab / ppl,
        vocab.log2() - ppl.log2()
    );
}
// ANCHOR_END: ex6

// ANCHOR: ex7
/// Exercise 7: the "hello" model trained on "hellohello", for two hidden sizes and
/// two training lengths.
fn exercise_7() {
    let vocab = Vocab::from_chars(vec!['h', 'e', 'l', 'o']);
    let ids = vocab.encode("hellohello").expect("h, e, l, o");
    let (inputs, targets) = (&ids[..9], &ids[1..]); // read hellohell, predict ellohello
    for hidden in [2, 3] {
        for steps in [40, 200] {
            let (cell, out, loss) = train(inputs, targets, hidden, steps);
            let text = greedy_text(&cell, &out, &vocab, 14);
            println!("H = {hidden}, {steps:>3} updates: loss {loss:.3}, greedy from h: {text}");
        }
    }
    let (cell, out, _) = train(inputs, targets, 3, 40);
    println!("H = 3 after 40 updates, p(target) at each step:");
    let p = softmax(logits_for(&cell, &out, inputs).view()); // (T, V)
    for (t, (&x, &y)) in inputs.iter().zip(targets).enumerate() {
        println!(
            "  t = {}: read {}, p({}) = {:.3}",
            t + 1,
            vocab.char(x),
            vocab.char(y),
            p[[t, y]]
        );
    }
}
// ANCHOR_END: ex7

/// The chapter's training: seed 3, Elman cell and Dense layer, Adam with learning rate 0.05 on each,
/// `steps` full-batch updates on one sequence. Returns the model and the loss after the last update.
fn train(inputs: &[usize], targets: &[usize], hidden: usize, steps: usize) -> (Elman, Dense, f64) {
    let (t, v) = (inputs.len(), 4);
    let mut rng = rnn::init::rng(3);
    let mut cell = Elman::new(v, hidden, &mut rng);
    let mut out = Dense::new(hidden, v, &mut rng);
    let xs = one_hot(inputs, v)
        .into_shape_with_order((t, 1, v))
        .expect("(T, V) reshapes to (T, 1, V)");
    let ys = Array2::from_shape_vec((t, 1), targets.to_vec()).expect("(T, 1)");
    let (mut opt_cell, mut opt_out) = (Adam::new(0.05), Adam::new(0.05));
    for _ in 0..steps {
        let run = unroll(&cell, xs.view(), &cell.zero_state(1));
        let logits = out.forward_seq(run.outputs.view());
        let (_, dlogits) = sequence_cross_entropy(logits.view(), ys.view(), None);
        let (mut g_cell, mut g_out) = (cell.zeros_like(), out.zeros_like());
        let dhs = out.backward_seq(run.outputs.view(), dlogits.view(), &mut g_out);
        bptt(&cell, &run.caches, dhs.view(), None, &mut g_cell);
        opt_cell.step(&mut cell, &g_cell);
        opt_out.step(&mut out, &g_out);
    }
    let logits = logits_for(&cell, &out, inputs);
    let (loss, _) = softmax_cross_entropy(logits.view(), targets, None);
    (cell, out, loss)
}

/// The logits `(T, V)` for one sequence, from a zero state.
fn logits_for(cell: &Elman, out: &Dense, inputs: &[usize]) -> Array2<f64> {
    let xs = one_hot(inputs, 4)
        .into_shape_with_order((inputs.len(), 1, 4))
        .expect("(T, V) reshapes to (T, 1, V)");
    let run = unroll(cell, xs.view(), &cell.zero_state(1));
    out.forward_seq(run.outputs.view())
        .index_axis(Axis(1), 0)
        .to_owned()
}

/// 'h' followed by `n` greedily generated characters.
fn greedy_text(cell: &Elman, out: &Dense, vocab: &Vocab, n: usize) -> String {
    let mut state = cell.zero_state(1);
    let mut id = 0; // 'h'
    let mut text = String::from('h');
    for _ in 0..n {
        let (next, _) = cell.forward(one_hot(&[id], 4).view(), &state);
        id = greedy(&out.forward(next.h.view()).row(0).to_vec());
        text.push(vocab.char(id));
        state = next;
    }
    text
}

fn main() {
    let exercises: [(&str, fn()); 5] = [
        ("ex3", exercise_3),
        ("ex4", exercise_4),
        ("ex5", exercise_5),
        ("ex6", exercise_6),
        ("ex7", exercise_7),
    ];
    for (name, run) in exercises {
        // The book quotes the lines between these markers (mdBook's anchors).
        println!("// ANCHOR: {name}");
        run();
        println!("// ANCHOR_END: {name}");
    }
}
