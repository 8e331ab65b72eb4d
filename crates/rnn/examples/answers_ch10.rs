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
//! Exercise 3 trains chapter 10's reversal model without attention at four hidden sizes; exercise 6 trains
//! two encoder-decoders on `rnn seq2seq`'s `@addition` task (sums of numbers of 1 to 3 digits), with the
//! targets written as usual and with their digits reversed. Exercises 2, 4, 5 and 7 have no answer here
//! yet.

use std::collections::HashSet;
use std::time::Instant;

use rand::seq::SliceRandom;
use rnn::cells::CellKind;
use rnn::models::seq2seq::tokens::{Seq2SeqBatch, Split, Vocab};
use rnn::models::seq2seq::{Seq2Seq, Seq2SeqConfig};
use rnn::optim::{clip_by_global_norm, Adam, Optimizer};
use rnn::tasks::seq2seq::{addition, reversal};

// ANCHOR: fit
/// Sizes of one run: chapter 10's model and optimiser (`ch10_seq2seq.rs`).
#[derive(Clone, Copy)]
struct Sizes {
    train: usize,
    test: usize,
    hidden: usize,
    embed: usize,
    steps: usize,
}

/// (source, target) string pairs.
type Pairs = Vec<(String, String)>;

/// A trained model with its vocabularies.
struct Fitted {
    model: Seq2Seq,
    src: Vocab,
    tgt: Vocab,
    seconds: f64,
}

impl Fitted {
    /// Whether greedy decoding of `source` gives exactly `target` (and stops).
    fn exact(&self, source: &str, target: &str, max_len: usize) -> bool {
        let out = self
            .model
            .greedy(&self.src.encode(source), max_len)
            .hypothesis;
        out.ended && out.tokens == self.tgt.encode(target)
    }
}

/// Trains an LSTM encoder-decoder without attention on `train`, as `ch10_seq2seq.rs` does: embeddings
/// and hidden size from `sizes`, model seed 1, batches of 64 drawn by a shuffle seeded 2, Adam lr 2e-3,
/// gradients clipped to global norm 5.
fn fit(train: &[(String, String)], sizes: Sizes) -> Fitted {
    let started = Instant::now();
    let src = Vocab::build(train.iter().map(|p| &p.0), Split::Chars);
    let tgt = Vocab::build(train.iter().map(|p| &p.1), Split::Chars);
    let ids: Vec<(Vec<usize>, Vec<usize>)> = train
        .iter()
        .map(|(s, t)| (src.encode(s), tgt.encode(t)))
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
    Fitted {
        model,
        src,
        tgt,
        seconds: started.elapsed().as_secs_f64(),
    }
}

/// `sizes.test` test pairs from `make`, then `sizes.train` training pairs whose sources are not test
/// sources, from one generator seeded 100 (as `ch10_seq2seq.rs` splits its tasks).
fn split(
    sizes: Sizes,
    make: impl Fn(usize, &mut rnn::init::Rng) -> Vec<(String, String)>,
) -> (Pairs, Pairs) {
    let mut rng = rnn::init::rng(100);
    let test = make(sizes.test, &mut rng);
    let held: HashSet<&String> = test.iter().map(|p| &p.0).collect();
    let mut train = Vec::new();
    while train.len() < sizes.train {
        let more = make(sizes.train - train.len(), &mut rng);
        train.extend(more.into_iter().filter(|p| !held.contains(&p.0)));
    }
    (train, test)
}

/// The percentage of right answers of (right, all).
fn pct((right, all): (usize, usize)) -> f64 {
    100.0 * right as f64 / all.max(1) as f64
}
// ANCHOR_END: fit

// ANCHOR: ex3
/// Chapter 10's reversal task (3 to 12 letters over 16) without attention at H = 16, 32, 64 and 128:
/// exact match of greedy decoding by source length.
fn exercise_3(quick: bool) {
    let base = if quick {
        Sizes {
            train: 1000,
            test: 100,
            hidden: 0,
            embed: 8,
            steps: 40,
        }
    } else {
        Sizes {
            train: 20_000,
            test: 1000,
            hidden: 0,
            embed: 32,
            steps: 3000,
        }
    };
    let (train, test) = split(base, |n, rng| reversal(n, 3, 12, "abcdefghijklmnop", rng));
    let hiddens = [16, 32, 64, 128];
    println!(
        "reversal of 3 to 12 letters: {} training pairs, {} test pairs; LSTM without attention, E = {}, {} steps",
        train.len(),
        test.len(),
        base.embed,
        base.steps
    );
    // two models at a time, the smallest with the largest; each with its own seeded numbers
    let fitted: Vec<Fitted> = std::thread::scope(|scope| {
        let run = |h: usize| {
            let (train, sizes) = (&train, Sizes { hidden: h, ..base });
            scope.spawn(move || fit(train, sizes))
        };
        let (a, b) = (run(hiddens[0]), run(hiddens[3]));
        let (a, b) = (a.join().unwrap(), b.join().unwrap());
        let (c, d) = (run(hiddens[1]), run(hiddens[2]));
        vec![a, c.join().unwrap(), d.join().unwrap(), b]
    });
    let max_len = 2 * 12 + 10;
    print!("{:>8} {:>6}", "length", "pairs");
    for h in hiddens {
        print!(" {:>8}", format!("H = {h}"));
    }
    println!();
    let mut totals = vec![(0, 0); hiddens.len()];
    for len in 3..=12 {
        let pairs: Vec<_> = test.iter().filter(|p| p.0.chars().count() == len).collect();
        print!("{len:>8} {:>6}", pairs.len());
        for (f, total) in fitted.iter().zip(totals.iter_mut()) {
            let right = pairs
                .iter()
                .filter(|p| f.exact(&p.0, &p.1, max_len))
                .count();
            total.0 += right;
            total.1 += pairs.len();
            print!(" {:>7.1}%", pct((right, pairs.len())));
        }
        println!();
    }
    print!("{:>8} {:>6}", "all", test.len());
    for t in &totals {
        print!(" {:>7.1}%", pct(*t));
    }
    println!();
    print!("{:>15}", "parameters");
    for f in &fitted {
        use rnn::params::Parameters;
        print!(" {:>8}", f.model.num_params());
    }
    println!();
    let times: Vec<String> = fitted
        .iter()
        .map(|f| format!("{:.0} s", f.seconds))
        .collect();
    println!("training took {} (two at a time)", times.join(", "));
}
// ANCHOR_END: ex3

// ANCHOR: ex6
/// `@addition` (a + b, 1 to 3 digits each) with the sums written as usual and with their digits reversed:
/// exact match of greedy decoding by the number of digits of the sum.
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
    let (train, test) = split(sizes, |n, rng| addition(n, 3, rng));
    let reversed = |pairs: &[(String, String)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(s, t)| (s.clone(), t.chars().rev().collect()))
            .collect()
    };
    println!(
        "@addition (a+b, 1 to 3 digits each): {} training pairs, {} test pairs (no test source is a training \
         source); LSTM, H = {}, E = {}, no attention, {} steps of 64",
        train.len(),
        test.len(),
        sizes.hidden,
        sizes.embed,
        sizes.steps
    );
    // the two models side by side, each with its own seeded numbers: only the times depend on it
    let (usual, flipped) = std::thread::scope(|scope| {
        let a = scope.spawn(|| fit(&train, sizes));
        let b = scope.spawn(|| fit(&reversed(&train), sizes));
        (a.join().unwrap(), b.join().unwrap())
    });
    let flipped_test = reversed(&test);
    let mut by_digits = [[(0, 0); 2]; 4];
    for ((s, t), (_, r)) in test.iter().zip(&flipped_test) {
        let slot = &mut by_digits[t.len() - 1];
        for (k, (model, target)) in [(&usual, t), (&flipped, r)].into_iter().enumerate() {
            slot[k].0 += usize::from(model.exact(s, target, 10));
            slot[k].1 += 1;
        }
    }
    println!("exact match of greedy decoding by digits of the sum:");
    println!(
        "{:>8} {:>8} {:>18} {:>18}",
        "digits", "pairs", "most significant", "least significant"
    );
    println!(
        "{:>8} {:>8} {:>18} {:>18}",
        "", "", "first (usual)", "first (reversed)"
    );
    for (d, slot) in by_digits.iter().enumerate() {
        println!(
            "{:>8} {:>8} {:>17.1}% {:>17.1}%",
            d + 1,
            slot[0].1,
            pct(slot[0]),
            pct(slot[1])
        );
    }
    let total = |k: usize| {
        by_digits
            .iter()
            .fold((0, 0), |a, s| (a.0 + s[k].0, a.1 + s[k].1))
    };
    println!(
        "{:>8} {:>8} {:>17.1}% {:>17.1}%",
        "all",
        test.len(),
        pct(total(0)),
        pct(total(1))
    );
    println!(
        "training took {:.0} s and {:.0} s on two threads",
        usual.seconds, flipped.seconds
    );
}
// ANCHOR_END: ex6

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    println!("// ANCHOR: ex3");
    exercise_3(quick);
    println!("// ANCHOR_END: ex3");
    println!("// ANCHOR: ex6");
    exercise_6(quick);
    println!("// ANCHOR_END: ex6");
}
