//! Worked answers to chapter 10's exercises: every number the answers quote is printed here.
//!
//! ```console
//! cargo run --release -q -p rnn --example answers_ch10            # minutes: the book's output
//! cargo run --release -q -p rnn --example answers_ch10 -- --quick  # seconds: the same code, small
//! ```
//!
//! The book includes this file's `// ANCHOR: exK` regions into the answer to exercise K, and the lines of
//! its output (`book/src/outputs/answers_ch10.txt`) between the printed `// ANCHOR: exK` and
//! `// ANCHOR_END: exK`. Exercise 1 is a lab (its solution is `labs/solutions/lab13_beam_search.rs`).
//! Exercise 6 trains two encoder-decoders on `rnn seq2seq`'s `@addition` task (sums of numbers of 1 to 3
//! digits), with the targets written as usual and with their digits reversed. Exercises 2-5 and 7 have no
//! answer here yet.

use std::collections::HashSet;
use std::time::Instant;

use rand::seq::SliceRandom;
use rnn::cells::CellKind;
use rnn::models::seq2seq::tokens::{Seq2SeqBatch, Split, Vocab};
use rnn::models::seq2seq::{Seq2Seq, Seq2SeqConfig};
use rnn::optim::{clip_by_global_norm, Adam, Optimizer};
use rnn::tasks::seq2seq::addition;

// ANCHOR: ex6
/// Sizes of one run: chapter 10's model and optimiser (`ch10_seq2seq.rs`), on the addition task.
#[derive(Clone, Copy)]
struct Sizes {
    train: usize,
    test: usize,
    hidden: usize,
    embed: usize,
    steps: usize,
}

/// Trains an LSTM encoder-decoder (no attention; Adam lr 2e-3, clip 5, batches of 64) on `train` and
/// returns, for each number of digits of the sum (1 to 4), (exact matches, pairs) of greedy decoding on
/// `test`, and the training time. With `reverse`, every target is written least significant digit first.
fn train_addition(
    train: &[(String, String)],
    test: &[(String, String)],
    reverse: bool,
    sizes: Sizes,
) -> (Vec<(usize, usize)>, f64) {
    let started = Instant::now();
    let flip = |t: &str| -> String {
        if reverse {
            t.chars().rev().collect()
        } else {
            t.to_string()
        }
    };
    let src = Vocab::build(train.iter().map(|p| &p.0), Split::Chars);
    let tgt = Vocab::build(train.iter().map(|p| flip(&p.1)), Split::Chars);
    let ids: Vec<(Vec<usize>, Vec<usize>)> = train
        .iter()
        .map(|(s, t)| (src.encode(s), tgt.encode(&flip(t))))
        .collect();
    let config = Seq2SeqConfig::new(
        CellKind::Lstm,
        src.len(),
        tgt.len(),
        sizes.embed,
        sizes.hidden,
    );
    let mut model = Seq2Seq::new(&config, &mut rnn::init::rng(1)).expect("a valid configuration");
    let mut opt = Adam::new(2e-3);
    let (mut order, mut rng) = ((0..ids.len()).collect::<Vec<_>>(), rnn::init::rng(2));
    let mut pos = order.len();
    for _ in 0..sizes.steps {
        if pos + 64 > order.len() {
            order.shuffle(&mut rng);
            pos = 0;
        }
        let rows = &order[pos..pos + 64];
        pos += 64;
        let src_b: Vec<Vec<usize>> = rows.iter().map(|&i| ids[i].0.clone()).collect();
        let tgt_b: Vec<Vec<usize>> = rows.iter().map(|&i| ids[i].1.clone()).collect();
        let (_, mut grads) = model.loss_and_grads(&Seq2SeqBatch::new(&src_b, &tgt_b));
        clip_by_global_norm(&mut grads, 5.0);
        opt.step(&mut model, &grads);
    }
    let mut by_digits = vec![(0, 0); 4];
    for (s, t) in test {
        let out = model.greedy(&src.encode(s), 10).hypothesis;
        let right = out.ended && out.tokens == tgt.encode(&flip(t));
        let slot = &mut by_digits[t.len() - 1];
        slot.0 += usize::from(right);
        slot.1 += 1;
    }
    (by_digits, started.elapsed().as_secs_f64())
}

fn exercise_6(quick: bool) {
    let sizes = if quick {
        Sizes {
            train: 1000,
            test: 100,
            hidden: 16,
            embed: 8,
            steps: 40,
        }
    } else {
        Sizes {
            train: 20_000,
            test: 1000,
            hidden: 64,
            embed: 32,
            steps: 6000,
        }
    };
    // Test sources first, then training pairs whose sources are not among them (as in ch10_seq2seq).
    let mut rng = rnn::init::rng(100);
    let test = addition(sizes.test, 3, &mut rng);
    let held: HashSet<&String> = test.iter().map(|p| &p.0).collect();
    let mut train = Vec::new();
    while train.len() < sizes.train {
        let more = addition(sizes.train - train.len(), 3, &mut rng);
        train.extend(more.into_iter().filter(|p| !held.contains(&p.0)));
    }
    println!(
        "@addition (a+b, 1 to 3 digits each): {} training pairs, {} test pairs (no test source is a training source); LSTM, H = {}, \
         E = {}, no attention, {} steps of 64",
        train.len(),
        test.len(),
        sizes.hidden,
        sizes.embed,
        sizes.steps
    );
    // the two models side by side, each with its own seeded numbers: only the times depend on it
    let (usual, reversed) = std::thread::scope(|scope| {
        let a = scope.spawn(|| train_addition(&train, &test, false, sizes));
        let b = scope.spawn(|| train_addition(&train, &test, true, sizes));
        (a.join().unwrap(), b.join().unwrap())
    });
    println!("exact match of greedy decoding by digits of the sum:");
    println!(
        "{:>8} {:>8} {:>18} {:>18}",
        "digits", "pairs", "most significant", "least significant"
    );
    println!(
        "{:>8} {:>8} {:>18} {:>18}",
        "", "", "first (usual)", "first (reversed)"
    );
    let pct = |(right, all): (usize, usize)| 100.0 * right as f64 / all.max(1) as f64;
    for d in 0..4 {
        println!(
            "{:>8} {:>8} {:>17.1}% {:>17.1}%",
            d + 1,
            usual.0[d].1,
            pct(usual.0[d]),
            pct(reversed.0[d])
        );
    }
    let total = |v: &[(usize, usize)]| pct(v.iter().fold((0, 0), |a, x| (a.0 + x.0, a.1 + x.1)));
    println!(
        "{:>8} {:>8} {:>17.1}% {:>17.1}%",
        "all",
        test.len(),
        total(&usual.0),
        total(&reversed.0)
    );
    println!(
        "training took {:.0} s and {:.0} s on two threads",
        usual.1, reversed.1
    );
}
// ANCHOR_END: ex6

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    println!("// ANCHOR: ex6");
    exercise_6(quick);
    println!("// ANCHOR_END: ex6");
}
