//! Chapter 11: attention's backward, (11.5)-(11.8), against central finite differences, and why the
//! check needs a model whose attention is not flat.
//!
//! ```console
//! cargo run --release -p rnn --example ch11_gradcheck
//! ```
//!
//! An LSTM encoder-decoder with a bidirectional encoder and attention (H = 3, A = 4) on a padded batch of
//! three pairs (source lengths 4, 2, 3). Every parameter tensor's gradient from `loss_and_grads` is
//! compared with central differences (h = 1e-5) by `rnn::gradcheck::check_params`, first at PyTorch's
//! initialisation, then with the attention and output weights scaled up ("sharpened").
//!
//! At initialisation every u_{t,s} is close to the others, and since Σ_s ∂L/∂e_{t,s} = 0 (11.6), the
//! gradient reaching W_q and b_q through (11.8), Σ_s (1 - u²_{t,s}) ⊙ v ∂L/∂e_{t,s}, nearly cancels: it is
//! so small that the finite differences' rounding noise is a large part of it. The program prints each
//! attention tensor's largest gradient and its relative error as powers of ten (exact values depend on the
//! CPU's rounding, their decade does not).

use rand::Rng as _;
use rnn::cells::CellKind;
use rnn::gradcheck::{check_params, TOLERANCE};
use rnn::models::seq2seq::tokens::Seq2SeqBatch;
use rnn::models::seq2seq::{Seq2Seq, Seq2SeqConfig};
use rnn::params::Parameters;

/// The decade of a positive number: "1e-6" for 3.2e-6.
fn decade(x: f64) -> String {
    if x <= 0.0 {
        return "0".into();
    }
    format!("1e{}", x.log10().floor() as i32)
}

/// The model with its attention, decoder and output weights scaled up, so that the u_{t,s} differ.
fn sharpen(mut m: Seq2Seq) -> Seq2Seq {
    if let Some(a) = &mut m.attention {
        a.query.weight *= 12.0;
        a.query.bias *= 6.0;
        a.key *= 12.0;
        a.v *= 3.0;
    }
    m.out.weight *= 3.0;
    for (_, mut p) in m.decoder.params_mut() {
        p *= 3.0;
    }
    m
}

fn main() {
    let mut rng = rnn::init::rng(3);
    let config = Seq2SeqConfig::new(CellKind::Lstm, 7, 6, 3, 3)
        .bidirectional(true)
        .attention(Some(4));
    let model = Seq2Seq::new(&config, &mut rng).expect("a valid configuration");
    let seqs = |lengths: &[usize], v: usize, rng: &mut rnn::init::Rng| -> Vec<Vec<usize>> {
        lengths
            .iter()
            .map(|&n| (0..n).map(|_| rng.random_range(4..v)).collect())
            .collect()
    };
    let src = seqs(&[4, 2, 3], 7, &mut rng);
    let tgt = seqs(&[1, 3, 2], 6, &mut rng);
    let batch = Seq2SeqBatch::new(&src, &tgt);
    println!(
        "LSTM encoder-decoder, bidirectional encoder, attention A = 4: {} parameter tensors, {} parameters",
        model.params().len(),
        model.num_params()
    );
    for (label, m) in [
        ("at initialisation", model.clone()),
        ("sharpened", sharpen(model)),
    ] {
        let (_, grads) = m.loss_and_grads(&batch);
        let report = check_params(&m, &grads, |p| p.loss_and_grads(&batch).0);
        let largest: Vec<(String, f64)> = grads
            .params()
            .into_iter()
            .map(|(n, g)| (n, g.iter().fold(0.0f64, |a, &x| a.max(x.abs()))))
            .collect();
        println!("\n{label}:");
        println!(
            "{:<24} {:>14} {:>16}",
            "tensor", "largest |grad|", "relative error"
        );
        for (t, (name, big)) in report.tensors.iter().zip(&largest) {
            if name.starts_with("attention.") {
                println!(
                    "{:<24} {:>14} {:>16}",
                    t.name,
                    decade(*big),
                    decade(t.rel_error)
                );
            }
        }
        let below = report
            .tensors
            .iter()
            .filter(|t| t.rel_error < TOLERANCE)
            .count();
        println!(
            "tensors below the tolerance {TOLERANCE:e}: {below} of {}",
            report.tensors.len()
        );
    }
}
