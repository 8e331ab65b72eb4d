//! Chapter 9: many-to-one classification. Is a first name female or male? Recurrent classifiers against
//! honest baselines.
//!
//! ```console
//! cargo run --release -p rnn --example ch09_names -- data/gender-names.tsv            # the full run (long)
//! cargo run --release -p rnn --example ch09_names -- --quick data/gender-names.tsv    # a small run (CI)
//! ```
//!
//! The data (`data/gender-names.tsv`, see `data/README.md`) are the two lists of English first names of
//! Grady Ward's Moby Word II, lower-cased: 4,525 names only in the female list (`f`), 3,478 only in the male
//! list (`m`) and 419 in both (`both`). The names in both lists have no single right answer: they are left
//! out of training and scoring, and only reported at the end (what the best model calls them). The other
//! 8,003 are shuffled once (seed 9) and cut 80/10/10 by name into train, validation and test, so no name is
//! in two splits.
//!
//! Baselines, fitted on train: the majority class; the last letter (the majority label of the training
//! names that end in it; the NLTK book's version of this gets about 76% on its own names corpus); the last
//! two letters (backing off to the last letter when the pair was not seen); naive Bayes on the bag of
//! characters (order thrown away); a logistic regression on letter counts plus one-hot last one, two and
//! three letters; and the same with the first one and two letters and the counts of every letter pair and
//! triple (start and end of the name marked) added, the strongest feature-engineered model here.
//!
//! The classifiers (`rnn::models::classifier`): the letters as token ids (0 is the pad) through an embedding
//! of 16, one recurrent layer of H = 64 units (Elman tanh, LSTM or GRU), one or both directions, read out
//! either at the last real step (`Readout::Last`) or as the mean over real steps (`Readout::Mean`), then a
//! linear head to 2 classes and softmax cross-entropy. Training: Adam (lr 3e-3), clipping by global norm at
//! 1, batches of 32 names in a fresh random order every epoch, padded to the longest name of the batch with
//! the lengths passed to the masked recurrence. After each epoch the validation set is scored; the run keeps
//! the model of the epoch with the best validation accuracy (ties: lower validation loss) and stops after 8
//! epochs without improving, or after 40. Test accuracy is of that model. Every model is trained from seeds
//! 0, 1, 2 (weights and batch order), two runs at a time on two threads; each run has its own random numbers,
//! so the results do not depend on the scheduling, only the times do.
//!
//! `--quick` runs the same code paths (all twelve models, every baseline) on 400/100/100 names (and 50 of
//! the names in both lists), H = 8 and at most four epochs (patience 1), seed 0 only. `--epochs N` caps the
//! epochs of either run, for a shorter check.

use std::sync::Mutex;
use std::time::Instant;

use ndarray::Array2;
use rand::seq::SliceRandom;
use rnn::cells::CellKind;
use rnn::models::classifier::{
    argmax_rows, Classifier, ClassifierConfig, InputConfig, Readout, SeqInput, Targets,
};
use rnn::optim::{clip_by_global_norm, Adam, Optimizer};
use rnn::params::Parameters;

mod baselines;

/// Id 0 is the pad; 'a'..='z' are 1..=26 and '-' is 27.
const VOCAB: usize = 28;
const EMBED: usize = 16;
const BATCH: usize = 32;
const LR: f64 = 3e-3;
const CLIP: f64 = 1.0;
const SPLIT_SEED: u64 = 9;
/// The names, when no `.tsv` file is given.
const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/gender-names.tsv");
/// The two classes, in the order of the head's outputs.
const CLASSES: [&str; 2] = ["f", "m"];

/// One labelled name: its letters as ids and its class (0 = f, 1 = m).
#[derive(Clone)]
struct Name {
    text: String,
    ids: Vec<usize>,
    label: usize,
}

/// The sizes of a run: the full one or `--quick`.
#[derive(Clone, Copy)]
struct Budget {
    hidden: usize,
    max_epochs: usize,
    patience: usize,
}

/// One of the twelve classifiers.
#[derive(Clone, Copy)]
struct Spec {
    cell: CellKind,
    readout: Readout,
    bidirectional: bool,
}

impl Spec {
    /// The row label, e.g. `GRU Last bi`.
    fn name(&self) -> String {
        let cell = match self.cell {
            CellKind::RnnTanh => "Elman",
            CellKind::Lstm => "LSTM",
            _ => "GRU",
        };
        let readout = if self.readout == Readout::Last {
            "Last"
        } else {
            "Mean"
        };
        let dirs = if self.bidirectional { "bi" } else { "uni" };
        format!("{cell} {readout} {dirs}")
    }
}

/// What one training run measured.
struct Outcome {
    best_epoch: usize,
    epochs_run: usize,
    val_acc: f64,
    val_loss: f64,
    test_acc: f64,
    /// P(m) of every test name, from the kept model.
    test_p_m: Vec<f64>,
    /// P(m) of every name that is in both lists.
    both_p_m: Vec<f64>,
    seconds: f64,
}

/// The ids of a name's letters (see [`VOCAB`]).
fn encode(name: &str) -> Vec<usize> {
    name.chars()
        .map(|c| match c {
            'a'..='z' => c as usize - 'a' as usize + 1,
            '-' => 27,
            _ => panic!("unexpected character {c:?} in {name:?}"),
        })
        .collect()
}

/// The two-class names and the names in both lists, from `name<TAB>label` lines.
fn read_names(path: &str) -> (Vec<Name>, Vec<Name>) {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
    let (mut two, mut both) = (Vec::new(), Vec::new());
    for line in text.lines() {
        let (name, label) = line.split_once('\t').expect("name<TAB>label");
        let label = match label {
            "f" => 0,
            "m" => 1,
            "both" => usize::MAX,
            other => panic!("unknown label {other:?}"),
        };
        let n = Name {
            text: name.to_string(),
            ids: encode(name),
            label,
        };
        if label == usize::MAX {
            both.push(n);
        } else {
            two.push(n);
        }
    }
    (two, both)
}

// ANCHOR: batch
/// A padded batch: ids `(T, B)` with T the longest name and 0 after each name's end, the lengths and
/// the labels.
fn batch(names: &[&Name]) -> (Array2<usize>, Vec<usize>, Vec<usize>) {
    let t_len = names.iter().map(|n| n.ids.len()).max().expect("a batch");
    let mut ids = Array2::zeros((t_len, names.len())); // (T, B), pads = 0
    for (b, n) in names.iter().enumerate() {
        for (t, &id) in n.ids.iter().enumerate() {
            ids[[t, b]] = id;
        }
    }
    let lengths = names.iter().map(|n| n.ids.len()).collect();
    let labels = names.iter().map(|n| n.label).collect();
    (ids, lengths, labels)
}
// ANCHOR_END: batch

/// Mean cross-entropy, accuracy and P(m) of every name (the labels of `names` may be anything for
/// P(m) alone), in batches of 256.
fn evaluate(model: &Classifier, names: &[&Name]) -> (f64, f64, Vec<f64>) {
    let (mut loss, mut right, mut p_m) = (0.0, 0, Vec::with_capacity(names.len()));
    for part in names.chunks(256) {
        let (ids, lengths, labels) = batch(part);
        let (logits, _) = model.forward(SeqInput::Tokens(ids.view()), Some(&lengths), None);
        if labels.iter().all(|&y| y < 2) {
            let (l, _) = model.loss(logits.view(), Targets::Classes(&labels), Some(&lengths));
            loss += l * part.len() as f64;
        }
        let predicted = argmax_rows(logits.view());
        right += predicted
            .iter()
            .zip(&labels)
            .filter(|(p, y)| p == y)
            .count();
        p_m.extend(
            logits
                .rows()
                .into_iter()
                .map(|r| 1.0 / (1.0 + (r[0] - r[1]).exp())),
        );
    }
    let n = names.len() as f64;
    (loss / n, right as f64 / n, p_m)
}

// ANCHOR: train
/// Trains one classifier with early stopping on the validation split; scores the kept model on test.
fn train(spec: Spec, seed: u64, budget: Budget, data: &Splits) -> Outcome {
    let started = Instant::now();
    let input = InputConfig::Embedding {
        vocab: VOCAB,
        dim: EMBED,
    };
    let config = ClassifierConfig::new(spec.cell, input, budget.hidden, spec.readout, 2)
        .bidirectional(spec.bidirectional);
    let mut model = Classifier::new(&config, &mut rnn::init::rng(seed)).expect("a valid config");
    let mut opt = Adam::new(LR);
    let mut order_rng = rnn::init::rng(1000 + seed);
    let mut order: Vec<&Name> = data.train.iter().collect();
    let val: Vec<&Name> = data.val.iter().collect();
    let (mut best, mut best_epoch, mut best_acc, mut best_loss) = (model.clone(), 0, -1.0, 0.0);
    let mut epochs_run = 0;
    for epoch in 1..=budget.max_epochs {
        epochs_run = epoch;
        order.shuffle(&mut order_rng);
        for part in order.chunks(BATCH) {
            let (ids, lengths, labels) = batch(part);
            let (logits, cache) = model.forward(SeqInput::Tokens(ids.view()), Some(&lengths), None);
            let (_, d_logits) =
                model.loss(logits.view(), Targets::Classes(&labels), Some(&lengths));
            let mut grads = model.zeros_like();
            model.backward(&cache, d_logits.view(), &mut grads);
            clip_by_global_norm(&mut grads, CLIP);
            opt.step(&mut model, &grads);
        }
        let (loss, acc, _) = evaluate(&model, &val);
        if acc > best_acc || (acc == best_acc && loss < best_loss) {
            (best, best_epoch, best_acc, best_loss) = (model.clone(), epoch, acc, loss);
        } else if epoch - best_epoch >= budget.patience {
            break;
        }
    }
    let test: Vec<&Name> = data.test.iter().collect();
    let (_, test_acc, test_p_m) = evaluate(&best, &test);
    let both: Vec<&Name> = data.both.iter().collect();
    let (_, _, both_p_m) = evaluate(&best, &both);
    Outcome {
        best_epoch,
        epochs_run,
        val_acc: best_acc,
        val_loss: best_loss,
        test_acc,
        test_p_m,
        both_p_m,
        seconds: started.elapsed().as_secs_f64(),
    }
}
// ANCHOR_END: train

/// The three splits, and the names in both lists.
struct Splits {
    train: Vec<Name>,
    val: Vec<Name>,
    test: Vec<Name>,
    both: Vec<Name>,
}

/// Runs every (model, seed) on up to two threads; results in job order.
fn run_all(jobs: &[(usize, u64)], specs: &[Spec], budget: Budget, data: &Splits) -> Vec<Outcome> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(2));
    let next = Mutex::new(0usize);
    let results: Mutex<Vec<Option<Outcome>>> = Mutex::new((0..jobs.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let i = {
                    let mut n = next.lock().unwrap();
                    *n += 1;
                    *n - 1
                };
                let Some(&(m, seed)) = jobs.get(i) else { break };
                let out = train(specs[m], seed, budget, data);
                results.lock().unwrap()[i] = Some(out);
            });
        }
    });
    results
        .into_inner()
        .unwrap()
        .into_iter()
        .map(|o| o.expect("every job ran"))
        .collect()
}

/// The machine's load average, from `/proc/loadavg`.
fn load_line() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| {
            let l: Vec<&str> = l.split_whitespace().take(3).collect();
            format!("load average {}", l.join(" "))
        })
        .unwrap_or_else(|_| "load average unknown".into())
}

/// The mean and the sample standard deviation (0 for a single value).
fn mean_sd(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1.0).max(1.0);
    (mean, var.sqrt())
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    let path = args
        .iter()
        .find(|a| a.ends_with(".tsv"))
        .map_or(DATA, String::as_str);
    let (mut two, both) = read_names(path);
    two.shuffle(&mut rnn::init::rng(SPLIT_SEED));
    let (n_train, n_val) = (two.len() * 8 / 10, two.len() / 10);
    let mut data = Splits {
        test: two.split_off(n_train + n_val),
        val: two.split_off(n_train),
        train: two,
        both,
    };
    let (budget, seeds): (Budget, &[u64]) = if quick {
        data.train.truncate(400);
        data.val.truncate(100);
        data.test.truncate(100);
        data.both.truncate(50);
        let b = Budget {
            hidden: 8,
            max_epochs: 4,
            patience: 1,
        };
        (b, &[0])
    } else {
        let b = Budget {
            hidden: 64,
            max_epochs: 40,
            patience: 8,
        };
        (b, &[0, 1, 2])
    };
    // `--epochs N` caps the epochs, for a shorter check of the full run
    let mut budget = budget;
    if let Some(i) = args.iter().position(|a| a == "--epochs") {
        let n = args.get(i + 1).and_then(|n| n.parse().ok());
        budget.max_epochs = n.expect("--epochs N");
    }
    println!(
        "first names by gender: Moby Word II's lists, lower-cased, split 80/10/10 by name \
         (seed {SPLIT_SEED})"
    );
    // the load varies from run to run: only the full run, whose times may be quoted, prints it
    if !quick {
        println!("{} at the start", load_line());
    }
    baselines::report(&data);
    report_models(&data, budget, seeds, quick);
}

/// Trains the twelve classifiers for every seed and prints the table, then the details of the best.
fn report_models(data: &Splits, budget: Budget, seeds: &[u64], quick: bool) {
    let mut specs = Vec::new();
    for cell in [CellKind::RnnTanh, CellKind::Lstm, CellKind::Gru] {
        for readout in [Readout::Last, Readout::Mean] {
            for bidirectional in [false, true] {
                specs.push(Spec {
                    cell,
                    readout,
                    bidirectional,
                });
            }
        }
    }
    let jobs: Vec<(usize, u64)> = (0..specs.len())
        .flat_map(|m| seeds.iter().map(move |&s| (m, s)))
        .collect();
    println!(
        "\nclassifiers: embedding {EMBED}, H = {}, head to 2 classes; Adam lr {LR}, clip {CLIP}, \
         batch {BATCH}; at most {} epochs, early stopping on validation accuracy (patience {}); \
         seeds {seeds:?}",
        budget.hidden, budget.max_epochs, budget.patience
    );
    let started = Instant::now();
    let outcomes = run_all(&jobs, &specs, budget, data);
    println!(
        "\n{:<16} {:>18} {:>10} {:>24} {:>16} {:>14}",
        "model",
        "epochs kept/run",
        "val acc",
        "test acc per seed",
        "test mean ± sd",
        "time per run"
    );
    let mut best = (0, f64::MIN);
    for (m, spec) in specs.iter().enumerate() {
        let runs: Vec<&Outcome> = jobs
            .iter()
            .zip(&outcomes)
            .filter(|(j, _)| j.0 == m)
            .map(|(_, o)| o)
            .collect();
        let epochs: Vec<String> = runs
            .iter()
            .map(|o| format!("{}/{}", o.best_epoch, o.epochs_run))
            .collect();
        let val = mean_sd(&runs.iter().map(|o| o.val_acc).collect::<Vec<_>>()).0;
        let tests: Vec<f64> = runs.iter().map(|o| o.test_acc).collect();
        let per_seed: Vec<String> = tests.iter().map(|a| format!("{:.2}%", 100.0 * a)).collect();
        let (mean, sd) = mean_sd(&tests);
        let time = runs.iter().map(|o| o.seconds).sum::<f64>() / runs.len() as f64;
        println!(
            "{:<16} {:>18} {:>9.2}% {:>24} {:>16} {:>12.0} s",
            spec.name(),
            epochs.join(" "),
            100.0 * val,
            per_seed.join(" "),
            format!("{:.2} ± {:.2}%", 100.0 * mean, 100.0 * sd),
            time
        );
        if quick {
            let losses: Vec<String> = runs.iter().map(|o| format!("{:.6}", o.val_loss)).collect();
            println!("{:<16} validation loss {}", "", losses.join(" "));
        }
        if val > best.1 {
            best = (m, val);
        }
    }
    println!(
        "\n(one entry per seed {seeds:?}; {} runs took {:.0} s in all, two at a time, {})",
        jobs.len(),
        started.elapsed().as_secs_f64(),
        if quick {
            "load not shown".to_string()
        } else {
            load_line()
        }
    );
    // the best model by mean validation accuracy, and its run with the best validation accuracy
    let (m, _) = best;
    let (_, run) = jobs
        .iter()
        .zip(&outcomes)
        .filter(|(j, _)| j.0 == m)
        .fold(None, |acc: Option<(u64, &Outcome)>, (j, o)| match acc {
            Some((_, a)) if a.val_acc >= o.val_acc => acc,
            _ => Some((j.1, o)),
        })
        .expect("a run");
    details(&specs[m].name(), run, data);
}

/// The confusion matrix, per-class accuracy and the most confidently wrong test names of one run, and
/// what it makes of the names in both lists.
fn details(name: &str, run: &Outcome, data: &Splits) {
    let mut confusion = [[0usize; 2]; 2]; // [true][predicted]
    let mut wrong = Vec::new();
    for (n, &p) in data.test.iter().zip(&run.test_p_m) {
        let predicted = usize::from(p > 0.5);
        confusion[n.label][predicted] += 1;
        if predicted != n.label {
            wrong.push((n, p));
        }
    }
    println!("\nbest by validation accuracy: {name} (its run with the best validation accuracy), on test:");
    println!(
        "{:>12} {:>12} {:>12} {:>14}",
        "true \\ said", "f", "m", "per class"
    );
    for (k, row) in confusion.iter().enumerate() {
        let total = (row[0] + row[1]).max(1);
        println!(
            "{:>12} {:>12} {:>12} {:>13.2}%",
            CLASSES[k],
            row[0],
            row[1],
            100.0 * row[k] as f64 / total as f64
        );
    }
    // most confident mistakes first: the farther P(m) from 0.5, the surer the model was
    wrong.sort_by(|a, b| {
        let (da, db) = ((a.1 - 0.5).abs(), (b.1 - 0.5).abs());
        db.total_cmp(&da).then_with(|| a.0.text.cmp(&b.0.text))
    });
    let shown: Vec<String> = wrong
        .iter()
        .take(12)
        .map(|(n, p)| format!("{} ({}, P(m) = {p:.2})", n.text, CLASSES[n.label]))
        .collect();
    println!("most confident mistakes: {}", shown.join(", "));
    let said_m = run.both_p_m.iter().filter(|&&p| p > 0.5).count();
    let examples: Vec<String> = data
        .both
        .iter()
        .zip(&run.both_p_m)
        .take(8)
        .map(|(n, p)| format!("{} {p:.2}", n.text))
        .collect();
    println!(
        "the {} names in both lists: the model says m for {said_m} and f for {}; P(m) of the first: {}",
        data.both.len(),
        data.both.len() - said_m,
        examples.join(", ")
    );
}
