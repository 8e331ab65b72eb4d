//! Chapter 9: the questions readers of Karpathy's and colah's posts are left with, each a small sweep of
//! character models on the bundled *Moby-Dick*.
//!
//! ```console
//! cargo run --release -p rnn --example ch09_sweeps -- depth book/src/figures     # a full run (long)
//! cargo run --release -p rnn --example ch09_sweeps -- depth --quick              # a small run (CI)
//! ```
//!
//! The first argument names the sweep:
//!
//! - `depth`: more hidden units or another layer? LSTMs of 1, 2 and 3 layers at three parameter budgets,
//!   the width of each chosen so that its parameter count is the closest to the budget (`depth.rs`).
//! - `search`: a random search of 24 trials over the learning rate, the width, the depth and dropout, and
//!   how much of the spread each of them explains (`search.rs`).
//! - `dropout`: chapter 6's Elman model with dropout from 0 to 0.5: does it close the gap between the
//!   training and the validation loss? (`dropout.rs`)
//! - `relu`: Elman tanh against Elman ReLU in training, at three learning rates, with and without clipping:
//!   validation loss, gradient spikes and divergences (`dropout.rs`).
//! - `copy`: a GRU trained hard on 60,000 characters of one author: how much of what it writes is copied
//!   verbatim from its training text, against the temperature and dropout, next to the same measure for
//!   held-out text of the same author (`copy.rs`, `copying.rs`).
//!
//! Every model is a `CharLm` with one-hot input, trained as in chapters 6 and 8: the last 10% of the text
//! held out, 32 parallel streams, chunks of 50 characters, carried state, Adam, clipping by global norm at 5
//! unless said otherwise (`train.rs`). Every run has its own seed (weights and dropout masks); two run at a
//! time on two threads, so the results do not depend on the scheduling, only the times do. With a folder
//! argument a sweep writes its figure there. `--quick` runs the same code paths on 40,000 characters with
//! tiny models and a few steps, one seed: it checks that the program works, not what it finds.

mod copy;
mod copying;
mod depth;
mod dropout;
mod search;
mod train;

use std::path::PathBuf;

use rnn::data::{split_train_val, Vocab};

/// The text every sweep reads, encoded, and its two parts.
pub struct Data {
    /// The whole text (the copying sweep cuts its own small corpus from it).
    pub text: String,
    /// The characters of the whole text.
    pub vocab: Vocab,
    /// The first 90%, as ids.
    pub train: Vec<usize>,
    /// The last 10%, as ids.
    pub val: Vec<usize>,
}

/// What a sweep is told on the command line.
pub struct Args {
    /// A small run (CI): tiny models, few steps, one seed.
    pub quick: bool,
    /// Where to write the figure, if anywhere.
    pub out_dir: Option<PathBuf>,
}

const SWEEPS: [&str; 5] = ["depth", "search", "dropout", "relu", "copy"];

fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let sweep = argv.first().map(String::as_str).unwrap_or("");
    if !SWEEPS.contains(&sweep) {
        eprintln!(
            "usage: ch09_sweeps {} [--quick] [FIGURE_DIR]",
            SWEEPS.join("|")
        );
        std::process::exit(2);
    }
    let args = Args {
        quick: argv.iter().any(|a| a == "--quick"),
        out_dir: argv[1..]
            .iter()
            .find(|a| !a.starts_with("--"))
            .map(PathBuf::from),
    };
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/moby-dick.txt");
    let text =
        std::fs::read_to_string(path).expect("data/moby-dick.txt is bundled with the course");
    let text = if args.quick {
        text.chars().take(40_000).collect()
    } else {
        text
    };
    let vocab = Vocab::from_text(&text);
    let ids = vocab
        .encode(&text)
        .expect("the vocabulary comes from this text");
    let (train, val) = split_train_val(&ids, 0.1).expect("the text is long enough");
    let data = Data {
        vocab: vocab.clone(),
        train: train.to_vec(),
        val: val.to_vec(),
        text,
    };
    match sweep {
        "depth" => depth::run(&data, &args),
        "search" => search::run(&data, &args),
        "dropout" => dropout::run_dropout(&data, &args),
        "relu" => dropout::run_relu(&data, &args),
        _ => copy::run(&data, &args),
    }
}

/// The closing line of a sweep: how many runs, how long, and (full runs only) the machine's load.
pub fn closing_line(runs: usize, seconds: f64, quick: bool) {
    println!(
        "\n({runs} runs took {seconds:.0} s in all, {}; times are wall-clock with two runs in parallel and vary \
         with the machine)",
        if quick {
            "load not shown".to_string()
        } else {
            train::load_line()
        }
    );
}

/// Prints where a figure went.
pub fn save(svg: rnn::plot::Svg, args: &Args, name: &str) {
    let Some(dir) = &args.out_dir else { return };
    std::fs::create_dir_all(dir).expect("cannot create the figure folder");
    let path = dir.join(name);
    svg.save(&path).expect("cannot write the figure");
    println!("\nwrote {}", path.display());
}
