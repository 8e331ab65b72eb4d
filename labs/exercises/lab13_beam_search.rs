// Lab 13 · Greedy decoding and beam search with length normalisation (book chapter 10).
//
// A trained encoder-decoder gives every output sequence y (ended by <eos>) a log-probability
//
//     log P(y | x) = Σ_t log p_t[y_t]                                                        (10.8)
//
// Here the model is hidden behind one function: `next(prefix)` returns the log-probabilities (V) of the
// token that follows `prefix` (the tokens generated so far, without <sos>) for a fixed source x.
//
// Part 1, length normalisation. log P only falls as a sequence grows, so finished sequences of different
// lengths are compared by
//
//     score(y) = log P(y | x) / |y|^α                                                        (10.9)
//
// where |y| counts the generated tokens INCLUDING the final <eos> (an unended sequence: its tokens).
//
// Part 2, greedy decoding: at each step take the most likely token (the first largest, on a tie), add its
// log-probability; stop at <eos> (ended; the <eos> is not one of the tokens) or after max_len steps
// (unended).
//
// Part 3, beam search of width k. Keep up to k live prefixes, starting from the empty one (log P = 0). At each
// of at most max_len steps:
//   - every live prefix × every token v is a candidate with log P(prefix) + log p[v]              (10.8)
//   - sort ALL candidates by log P, best first (a stable sort), and keep the k best;
//   - a survivor whose token is <eos> is finished: it joins the finished list (ended, tokens without the
//     <eos>) and leaves the beam; the others are the next step's live prefixes; at the last step
//     (step + 1 == max_len) they are finished too, unended;
//   - stop when nothing is live.
// Return the finished list sorted by score (10.9), best first: the n-best list.
//
// The tests compare with `rnn::models::seq2seq::Seq2Seq::{greedy, beam_search}` on small random models,
// with brute force on a tiny vocabulary, and every log P with teacher forcing (`sequence_log_prob`).
// Run `rustlings hint` if you are stuck.

// Silences the warnings about code that is unused until you replace the `todo!()`s: delete this line
// once they are gone (unused variables and imports then point at mistakes).
#![allow(unused)]

use ndarray::Array1;
use rnn::models::seq2seq::Hypothesis;
use rnn::models::seq2seq::tokens::EOS;

/// score = log P / |y|^α (10.9), for a sequence of `len` tokens (<eos> included).
fn length_normalised(log_prob: f64, len: usize, alpha: f64) -> f64 {
    // TODO: (10.9) return log_prob / |y|^α, with |y| = len (`(len as f64).powf(alpha)`).
    todo!()
}

/// Greedy decoding: at most `max_len` tokens (<eos> included).
fn greedy(next: &dyn Fn(&[usize]) -> Array1<f64>, max_len: usize, alpha: f64) -> Hypothesis {
    // TODO: start from no tokens, log P = 0, not ended. For at most max_len steps:
    //       let lp = next(&tokens) (V); y = the index of the first largest entry of lp;
    //       log P += lp[y] (10.8); if y == EOS { ended = true; break } else push y.
    // TODO: return the Hypothesis { tokens, log_prob, score, ended } with the score (10.9) of
    //       |y| = tokens.len() + 1 if ended (the <eos> counts), else tokens.len().
    todo!()
}

/// Beam search of width `width`: the n-best list, best score first.
fn beam_search(
    next: &dyn Fn(&[usize]) -> Array1<f64>,
    width: usize,
    max_len: usize,
    alpha: f64,
) -> Vec<Hypothesis> {
    // TODO: live = [(no tokens, log P 0.0)], finished = []. For step in 0..max_len:
    //   - candidates: for each live (prefix i, log P), for each token v of next(prefix):
    //     (log P + lp[v], i, v) (10.8);
    //   - sort ALL candidates by log P, best first (`sort_by(|a, b| b.0.total_cmp(&a.0))`), keep `width`;
    //   - for each survivor: token EOS -> finished (tokens of prefix i, ended, score with |y| = tokens + 1),
    //     and it does NOT stay live; otherwise tokens = prefix i + v: live at the next step, or, at the
    //     last step (step + 1 == max_len), finished unended (|y| = tokens);
    //   - stop when nothing is live.
    // TODO: sort finished by score, best first, and return it.
    todo!()
}

fn main() {
    // A toy "model" over V = 5 tokens (<pad>, <sos>, <eos>, <unk>, "a") that does not look at the prefix
    // much: <eos> is likely at first, "a" after it. Greedy stops at once; the beam finds longer sequences.
    let next = |prefix: &[usize]| {
        let p: [f64; 5] = if prefix.is_empty() {
            [0.01, 0.01, 0.45, 0.13, 0.40]
        } else {
            [0.01, 0.01, 0.30, 0.08, 0.60]
        };
        Array1::from_iter(p.iter().map(|v| v.ln()))
    };
    let g = greedy(&next, 4, 0.7);
    println!(
        "greedy: {:?}, ended {}, log P {:.4}",
        g.tokens, g.ended, g.log_prob
    );
    for alpha in [0.0, 1.0] {
        println!("beam k = 3, α = {alpha}:");
        for h in beam_search(&next, 3, 4, alpha) {
            println!(
                "  {:?} ended {} log P {:.4} score {:.4}",
                h.tokens, h.ended, h.log_prob, h.score
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // One test that runs the checks in order: the beam is checked once greedy decoding is right.
    #[test]
    fn length_normalisation_greedy_then_beam() {
        labcheck::lab13::check_length_normalised(length_normalised);
        labcheck::lab13::check_greedy(greedy);
        labcheck::lab13::check_beam_search(beam_search);
    }
}
