//! Chapter 11: the single-context-vector bottleneck, measured. Exact match against input length, with and
//! without attention, and the alignments attention learns, drawn as heatmaps.
//!
//! ```console
//! cargo run --release -p rnn --example ch11_attention -- book/src/figures  # the full run (long)
//! cargo run --release -p rnn --example ch11_attention -- --quick           # a small run (CI)
//! cargo run --release -p rnn --example ch11_attention -- --steps 12000     # another budget
//! ```
//!
//! Reversal of strings of 4 to 30 letters over a 16-letter alphabet (`rnn::tasks::seq2seq::reversal`),
//! learnt by three LSTM encoder-decoders with the same training data, optimiser, batches and steps:
//! - **no attention, H**: the decoder sees the source only through the encoder's final state (10.4);
//! - **attention, H**: the same sizes plus Bahdanau attention (11.1)-(11.4), attention size A = H;
//! - **no attention, 2H**: twice the hidden size, so more parameters than the attention model: if the
//!   attention model wins, it is not by having more weights.
//!
//! The test set has the same number of sources of every length (none of them in the training set). The
//! program prints exact match (greedy decoding) by source length and per-symbol accuracy (output position t
//! right), every few hundred steps and at the end, and draws the curves. A fourth model, dates with
//! attention (chapter 10's task, where the alignment is not a diagonal), gives the second heatmap; the
//! first is a reversal's. The heatmaps are α_{t,s} (11.2) of greedy decoding, row t the output token.

use std::collections::HashSet;
use std::path::Path;
use std::time::Instant;

use rnn::cells::CellKind;
use rnn::models::seq2seq::tokens::{Seq2SeqBatch, Split, Vocab};
use rnn::models::seq2seq::{Seq2Seq, Seq2SeqConfig};
use rnn::optim::{clip_by_global_norm, Adam, Optimizer};
use rnn::params::Parameters;
use rnn::plot::{Heatmap, LineChart};
use rnn::tasks::seq2seq::{dates, reversal};

/// The sizes of one run (full or quick).
#[derive(Clone, Copy)]
struct Sizes {
    train: usize,
    /// Test sources of each length.
    per_length: usize,
    min_len: usize,
    max_len: usize,
    hidden: usize,
    embed: usize,
    steps: usize,
    every: usize,
}

const FULL: Sizes = Sizes {
    train: 50_000,
    per_length: 40,
    min_len: 4,
    max_len: 30,
    hidden: 64,
    embed: 32,
    steps: 6000,
    every: 1000,
};
const QUICK: Sizes = Sizes {
    train: 600,
    per_length: 3,
    min_len: 4,
    max_len: 12,
    hidden: 8,
    embed: 4,
    steps: 60,
    every: 30,
};
const BATCH: usize = 64;
const LR: f64 = 2e-3;
const CLIP: f64 = 5.0;
const ALPHABET: &str = "abcdefghijklmnop";

/// (source, target) string pairs.
type Pairs = Vec<(String, String)>;

/// Token-id pairs.
type Ids = Vec<(Vec<usize>, Vec<usize>)>;

/// One model to train: its name, task and configuration.
struct Job {
    name: &'static str,
    task: &'static str,
    hidden: usize,
    attention: bool,
}

/// A trained model with its data and what was measured.
struct Trained {
    name: &'static str,
    model: Seq2Seq,
    src: Vocab,
    tgt: Vocab,
    test: Ids,
    /// (step, exact match over the whole test set, mean training loss since the previous evaluation)
    curve: Vec<(usize, f64, f64)>,
    seconds: f64,
}

/// Training and test pairs for a task; test sources never occur in training. Reversal's test set has
/// `per_length` sources of every length.
fn pairs(task: &str, sizes: Sizes) -> (Pairs, Pairs) {
    let mut rng = rnn::init::rng(110);
    let test: Pairs = if task == "dates" {
        dates(sizes.per_length * 25, &mut rng)
    } else {
        (sizes.min_len..=sizes.max_len)
            .flat_map(|len| reversal(sizes.per_length, len, len, ALPHABET, &mut rng))
            .collect()
    };
    let held: HashSet<String> = test.iter().map(|p| p.0.clone()).collect();
    let mut train = Vec::new();
    while train.len() < sizes.train {
        let more = if task == "dates" {
            dates(sizes.train - train.len(), &mut rng)
        } else {
            let n = sizes.train - train.len();
            reversal(n, sizes.min_len, sizes.max_len, ALPHABET, &mut rng)
        };
        train.extend(more.into_iter().filter(|p| !held.contains(&p.0)));
    }
    (train, test)
}

/// Whether greedy decoding reproduces each test target exactly.
fn exact(model: &Seq2Seq, test: &Ids, max_len: usize) -> Vec<bool> {
    test.iter()
        .map(|(s, y)| {
            let h = model.greedy(s, max_len).hypothesis;
            h.ended && h.tokens == *y
        })
        .collect()
}

fn train(job: &Job, sizes: Sizes) -> Trained {
    let started = Instant::now();
    let (train_pairs, test_pairs) = pairs(job.task, sizes);
    let src = Vocab::build(train_pairs.iter().map(|p| &p.0), Split::Chars);
    let tgt = Vocab::build(train_pairs.iter().map(|p| &p.1), Split::Chars);
    let encode = |ps: &[(String, String)]| -> Ids {
        ps.iter()
            .map(|(s, t)| (src.encode(s), tgt.encode(t)))
            .collect()
    };
    let (train_ids, test) = (encode(&train_pairs), encode(&test_pairs));
    let max_len = sizes.max_len + 10;
    let config = Seq2SeqConfig::new(
        CellKind::Lstm,
        src.len(),
        tgt.len(),
        sizes.embed,
        job.hidden,
    )
    .attention(job.attention.then_some(job.hidden));
    // The same seeds for every model: the same batches in the same order.
    let mut model = Seq2Seq::new(&config, &mut rnn::init::rng(1)).expect("a valid configuration");
    let mut opt = Adam::new(LR);
    let mut order: Vec<usize> = (0..train_ids.len()).collect();
    let mut rng = rnn::init::rng(2);
    let mut pos = order.len();
    let mut curve = Vec::new();
    let mut loss_sum = 0.0;
    for step in 1..=sizes.steps {
        if pos + BATCH > order.len() {
            use rand::seq::SliceRandom;
            order.shuffle(&mut rng);
            pos = 0;
        }
        let rows = &order[pos..pos + BATCH];
        pos += BATCH;
        let src_b: Vec<Vec<usize>> = rows.iter().map(|&i| train_ids[i].0.clone()).collect();
        let tgt_b: Vec<Vec<usize>> = rows.iter().map(|&i| train_ids[i].1.clone()).collect();
        let (loss, mut grads) = model.loss_and_grads(&Seq2SeqBatch::new(&src_b, &tgt_b));
        loss_sum += loss;
        clip_by_global_norm(&mut grads, CLIP);
        opt.step(&mut model, &grads);
        if step % sizes.every == 0 {
            let right = exact(&model, &test, max_len);
            let rate = right.iter().filter(|&&r| r).count() as f64 / right.len() as f64;
            curve.push((step, rate, loss_sum / sizes.every as f64));
            loss_sum = 0.0;
            eprintln!(
                "{}: step {step}, exact {:.1}%, {:.0} s",
                job.name,
                100.0 * rate,
                started.elapsed().as_secs_f64()
            );
        }
    }
    Trained {
        name: job.name,
        model,
        src,
        tgt,
        test,
        curve,
        seconds: started.elapsed().as_secs_f64(),
    }
}

/// Per source length: (exact-match rate, per-symbol accuracy) of greedy decoding. A symbol is right
/// when the output has the reference's symbol at that position.
fn by_length(t: &Trained, sizes: Sizes) -> Vec<(usize, f64, f64)> {
    let max_len = sizes.max_len + 10;
    let mut rows = Vec::new();
    for len in sizes.min_len..=sizes.max_len {
        let (mut n, mut right, mut symbols, mut symbols_right) = (0, 0, 0, 0);
        for (s, y) in t.test.iter().filter(|(s, _)| s.len() == len) {
            let h = t.model.greedy(s, max_len).hypothesis;
            n += 1;
            right += usize::from(h.ended && h.tokens == *y);
            symbols += y.len();
            symbols_right += y.iter().zip(&h.tokens).filter(|(a, b)| a == b).count();
        }
        rows.push((
            len,
            right as f64 / n.max(1) as f64,
            symbols_right as f64 / symbols.max(1) as f64,
        ));
    }
    rows
}

/// The heatmap of greedy decoding's attention for one test source, rows labelled by the output.
fn alignment(t: &Trained, source: usize, max_len: usize) -> (Heatmap, String, String, Vec<f64>) {
    let (s, _) = &t.test[source];
    let g = t.model.greedy(s, max_len);
    let weights = g.attention.expect("the model attends");
    let peaks = weights
        .rows()
        .into_iter()
        .map(|r| r.fold(0.0f64, |m, &v| m.max(v)))
        .collect();
    let symbols = |v: &Vocab, ids: &[usize]| -> Vec<String> {
        ids.iter()
            .map(|&i| v.symbol(i).unwrap_or("?").to_string())
            .collect()
    };
    let mut rows = symbols(&t.tgt, &g.hypothesis.tokens);
    if g.hypothesis.ended {
        rows.push("<eos>".into());
    }
    let (src_text, out_text) = (t.src.decode(s), t.tgt.decode(&g.hypothesis.tokens));
    let map = Heatmap::new(
        &format!("{}: attention of greedy decoding", t.name),
        "source",
        "output",
        weights,
    )
    .columns(symbols(&t.src, s))
    .rows(rows);
    (map, src_text, out_text, peaks)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    let mut sizes = if quick { QUICK } else { FULL };
    // `--steps N` trains for N steps instead (an evaluation every N/6 steps), to try other budgets.
    let steps_at = args.iter().position(|a| a == "--steps");
    if let Some(i) = steps_at {
        let n: usize = args
            .get(i + 1)
            .and_then(|v| v.parse().ok())
            .filter(|&n| n > 0)
            .unwrap_or_else(|| {
                eprintln!("error: --steps needs a positive number");
                std::process::exit(2)
            });
        sizes.steps = n;
        sizes.every = n.div_ceil(6);
    }
    let figures = args
        .iter()
        .enumerate()
        .find(|(i, a)| !a.starts_with("--") && steps_at.is_none_or(|s| *i != s + 1))
        .map(|(_, a)| Path::new(a));
    let h = sizes.hidden;
    let jobs = [
        Job {
            name: "no attention, H",
            task: "reversal",
            hidden: h,
            attention: false,
        },
        Job {
            name: "attention, H",
            task: "reversal",
            hidden: h,
            attention: true,
        },
        Job {
            name: "no attention, 2H",
            task: "reversal",
            hidden: 2 * h,
            attention: false,
        },
        Job {
            name: "dates, attention",
            task: "dates",
            hidden: h,
            attention: true,
        },
    ];
    println!(
        "reversal of {}-{} letters over {} symbols; {} training pairs, {} test sources of each length; \
         LSTM encoder-decoders, E = {}, H = {h}, batch {BATCH}, Adam {LR}, clip {CLIP}, {} steps",
        sizes.min_len,
        sizes.max_len,
        ALPHABET.len(),
        sizes.train,
        sizes.per_length,
        sizes.embed,
        sizes.steps
    );
    let started = Instant::now();
    let trained: Vec<Trained> = std::thread::scope(|scope| {
        let handles: Vec<_> = jobs
            .iter()
            .map(|job| scope.spawn(move || train(job, sizes)))
            .collect();
        handles
            .into_iter()
            .map(|t| t.join().expect("training"))
            .collect()
    });
    println!(
        "trained the four models at the same time in {:.0} s (each: {})",
        started.elapsed().as_secs_f64(),
        trained
            .iter()
            .map(|t| format!("{:.0} s", t.seconds))
            .collect::<Vec<_>>()
            .join(", ")
    );

    println!(
        "\nparameters; exact match on the model's whole test set during training (mean training loss since the last, nats per symbol)"
    );
    print!("{:<18} {:>10}", "model", "parameters");
    for (step, _, _) in &trained[0].curve {
        print!(" {:>16}", format!("@{step}"));
    }
    println!();
    for t in &trained {
        print!("{:<18} {:>10}", t.name, t.model.num_params());
        for (_, rate, loss) in &t.curve {
            print!(" {:>6.1}% ({:.4})", 100.0 * rate, loss);
        }
        println!();
    }

    println!("\nafter training, by source length: exact match (per-symbol accuracy)");
    let tables: Vec<Vec<(usize, f64, f64)>> =
        trained[..3].iter().map(|t| by_length(t, sizes)).collect();
    println!(
        "{:>6} {:>24} {:>24} {:>24}",
        "length", trained[0].name, trained[1].name, trained[2].name
    );
    for i in 0..tables[0].len() {
        print!("{:>6}", tables[0][i].0);
        for table in &tables {
            let (_, e, s) = table[i];
            print!(" {:>14.1}% ({:>5.1}%)", 100.0 * e, 100.0 * s);
        }
        println!();
    }

    let dates_model = &trained[3];
    let dates_exact = dates_model.curve.last().map_or(0.0, |c| c.1);
    println!(
        "\ndates with attention: exact match {:.1}% on {} test dates after {} steps",
        100.0 * dates_exact,
        dates_model.test.len(),
        sizes.steps
    );

    let max_len = sizes.max_len + 10;
    // The first test source of length 24 (or the longest the quick run has), and the first date.
    let long = trained[1]
        .test
        .iter()
        .position(|(s, _)| s.len() == 24.min(sizes.max_len))
        .expect("a source of that length");
    let (rev_map, rev_src, rev_out, rev_peaks) = alignment(&trained[1], long, max_len);
    let (date_map, date_src, date_out, date_peaks) = alignment(dates_model, 0, max_len);
    for (k, (src, out, peaks)) in [
        (rev_src, rev_out, rev_peaks),
        (date_src, date_out, date_peaks),
    ]
    .into_iter()
    .enumerate()
    {
        println!(
            "heatmap {}: {src} -> {out}; the largest weight of each output row: mean {:.3}, smallest {:.3}",
            k + 1,
            peaks.iter().sum::<f64>() / peaks.len() as f64,
            peaks.iter().fold(1.0f64, |m, &v| m.min(v))
        );
    }

    if let Some(dir) = figures {
        let lengths = |k: usize, field: usize| -> Vec<(f64, f64)> {
            tables[k]
                .iter()
                .map(|r| (r.0 as f64, 100.0 * if field == 0 { r.1 } else { r.2 }))
                .collect()
        };
        let mut chart = LineChart::new(
            "reversal: exact match by source length",
            "source length",
            "exact match, %",
        );
        for (k, t) in trained[..3].iter().enumerate() {
            chart = chart.series(t.name, lengths(k, 0));
        }
        let saves = [
            ("ch11_exact_by_length.svg", chart.to_svg()),
            ("ch11_alignment_reversal.svg", rev_map.to_svg()),
            ("ch11_alignment_dates.svg", date_map.to_svg()),
        ];
        for (file, svg) in saves {
            svg.save(&dir.join(file)).expect("write the figure");
            println!("wrote {}", dir.join(file).display());
        }
    }
}
