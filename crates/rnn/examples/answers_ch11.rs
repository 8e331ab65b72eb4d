//! Worked answers to chapter 11's exercises: every number the answers quote is printed here.
//!
//! ```console
//! cargo run --release -q -p rnn --example answers_ch11
//! ```
//!
//! The book includes this file's `// ANCHOR: exK` regions into the answer to exercise K, and the lines of
//! its output (`book/src/outputs/answers_ch11.txt`) between the printed `// ANCHOR: exK` and
//! `// ANCHOR_END: exK`. Exercise 1 is a lab (its solution is `labs/solutions/lab14_attention.rs`).
//! Exercise 6 counts multiply-adds, and checks the counts of the tensors against a model the library
//! builds. Exercise 5 reads chapter 10's pronunciation model, and `answers_ch10_g2p.rs` answers it.
//! Exercises 2-4 and 7 train models for longer than this program's budget; they have no answer yet.

use rnn::cells::CellKind;
use rnn::models::seq2seq::{Seq2Seq, Seq2SeqConfig};
use rnn::params::Parameters;

// ANCHOR: ex6
/// Multiply-adds of one decoder step of an attention LSTM (H = 128, E = 64, a bidirectional encoder,
/// attention of A = 128) for sources of n symbols, against the cell's; then a transformer layer's
/// self-attention against an LSTM layer over T tokens.
fn exercise_6() {
    let (h, e, a) = (128usize, 64usize, 128usize);
    let f = 2 * h; // a key: the forward and backward encoder states side by side
                   // The library's model of these sizes, to read the matrices' shapes from (vocabularies of 30 and 40).
    let config = Seq2SeqConfig::new(CellKind::Lstm, 30, 40, e, h)
        .bidirectional(true)
        .attention(Some(a));
    let model = Seq2Seq::new(&config, &mut rnn::init::rng(0)).unwrap();
    let size = |name: &str| {
        model
            .params()
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, p)| p.len())
            .unwrap_or_else(|| panic!("no tensor {name}"))
    };
    // (11.4): the decoder cell reads [E_tgt[y] ; c_t], E + F numbers, and its state, H.
    let cell = size("decoder.rnn.weight_ih_l0") + size("decoder.rnn.weight_hh_l0");
    assert_eq!(cell, 4 * h * (e + f + h));
    // (11.1): W_q q once per step; v·u at each of the n positions. (11.3): the weighted sum, F per position.
    let query = size("attention.query.weight");
    let per_position = size("attention.v.weight") + f;
    // W_k k_s: once per source and position, shared by all output steps.
    let key = size("attention.key.weight");
    println!(
        "decoder cell (7.1) on E + 2H = {} inputs: {cell} multiply-adds per step",
        e + f
    );
    println!("attention per step: {query} (W_q q) + {per_position} per source position (v·u and the context)");
    println!("  plus {key} per source position once per source (W_k k_s)");
    for n in [10, 30, 100, 300, 1000] {
        let att = query + per_position * n;
        println!(
            "  n = {n:>4}: attention {att:>7} per step, {:.2} of the cell",
            att as f64 / cell as f64
        );
    }
    let even = (cell - query) as f64 / per_position as f64;
    println!("attention costs as much as the cell at n = {even:.0}");
    // With W_k k_s spread over m = n output steps (reversal, G2P: about as many outputs as inputs):
    let even_m = (cell - query - key) as f64 / per_position as f64;
    println!("  ({even_m:.0} with W_k k_s shared over as many output steps as source positions)");

    // A transformer layer of width d over T tokens: Q Kᵀ and the weighted sum of V, T² d each; its four
    // projections 4 T d². An LSTM layer of the same width over the same tokens: 4 d (d + d) per token.
    let d = h;
    let lstm = |t: usize| 8 * t * d * d;
    let self_attention = |t: usize| 2 * t * t * d;
    println!("width d = {d}, per layer over T tokens (multiply-adds):");
    for t in [64, 256, 512, 1024, 4096] {
        println!(
            "  T = {t:>4}: self-attention's T² part {:>12}, projections {:>11}, LSTM recurrence {:>11}",
            self_attention(t),
            4 * t * d * d,
            lstm(t)
        );
    }
    println!(
        "the T² part equals the LSTM's recurrence at T = 4d = {}",
        4 * d
    );
}
// ANCHOR_END: ex6

fn main() {
    println!("// ANCHOR: ex6");
    exercise_6();
    println!("// ANCHOR_END: ex6");
}
