//! `rnn`: train, sample, evaluate and look inside character-level RNN/LSTM/GRU language models.
//!
//! ```text
//! rnn train                                   # a small model on a bundled corpus, in about a minute
//! rnn train --data data/tinyshakespeare.txt --model lstm --hidden 256 --layers 2 --out runs/shakespeare
//! rnn sample --checkpoint runs/shakespeare/best.safetensors --prime "ROMEO:" --len 500
//! rnn eval   --checkpoint runs/shakespeare/best.safetensors --data data/tinyshakespeare.txt
//! rnn viz    --checkpoint runs/shakespeare/best.safetensors --data data/tinyshakespeare.txt --out viz.html
//! rnn download tinyshakespeare --to data/
//! rnn bench
//! rnn seq2seq train --data @dates --attention --out runs/dates      # encoder-decoder models
//! ```
//!
//! Every failure caused by input (files, flags, checkpoints) prints one line `error: ...` and exits with
//! status 1 (status 2 for command-line syntax errors, from clap); nothing already saved is overwritten.

mod bench;
mod ckpt;
mod seq2seq;
mod text;
mod train;
mod viz;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "rnn",
    version,
    about = "Train, sample and look inside character-level RNN/LSTM/GRU language models",
    long_about = None
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train a character-level language model on a text file (with no flags: a small model on a bundled corpus).
    Train(train::TrainArgs),
    /// Generate text from a trained model.
    Sample(SampleArgs),
    /// Score a text with a trained model: nats/char, bits/char, perplexity.
    Eval(EvalArgs),
    /// Write an HTML page colouring a text by a hidden unit, and list units that track simple features.
    Viz(viz::VizArgs),
    /// Download a classic corpus (tinyshakespeare) from its canonical address.
    Download(DownloadArgs),
    /// Measure training and sampling speed (chars/s), with a numpy reference run in the same command.
    Bench(bench::BenchArgs),
    /// Encoder-decoder (sequence-to-sequence) models: train, translate, eval.
    Seq2seq(seq2seq::Seq2SeqArgs),
}

#[derive(clap::Args)]
struct SampleArgs {
    /// Checkpoint to sample from (a run's best.safetensors or last.safetensors).
    #[arg(long)]
    checkpoint: PathBuf,
    /// Text to start from (every character must be in the model's vocabulary).
    #[arg(long, default_value = "")]
    prime: String,
    /// Number of characters to generate.
    #[arg(long, default_value_t = 500)]
    len: usize,
    /// Softmax temperature: below 1 is more conservative, above 1 more surprising, 0 is greedy.
    #[arg(long, allow_negative_numbers = true, default_value_t = 0.8)]
    temperature: f64,
    /// Sample only among the k most likely characters.
    #[arg(long)]
    top_k: Option<usize>,
    /// Random seed (the same seed gives the same text).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Beam search of width K instead of sampling: the K most probable continuations of --len
    /// characters (ignores --temperature, --top-k and --seed).
    #[arg(long, conflicts_with_all = ["temperature", "top_k"])]
    beam: Option<usize>,
    /// With --beam: print the N best continuations, each with its log-probability.
    #[arg(long, requires = "beam", default_value_t = 1)]
    nbest: usize,
}

#[derive(clap::Args)]
struct EvalArgs {
    /// Checkpoint to evaluate.
    #[arg(long)]
    checkpoint: PathBuf,
    /// Text file to score (every character must be in the model's vocabulary).
    #[arg(long)]
    data: PathBuf,
}

#[derive(clap::Args)]
struct DownloadArgs {
    /// What to download: `tinyshakespeare`.
    name: String,
    /// Folder to write into.
    #[arg(long, default_value = "data")]
    to: PathBuf,
}

const TINYSHAKESPEARE_URL: &str =
    "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt";

fn main() -> ExitCode {
    // A bug is still reported in one line (with where it happened), never as a backtrace; set RNN_DEBUG=1
    // to get Rust's usual panic output.
    if std::env::var_os("RNN_DEBUG").is_none() {
        std::panic::set_hook(Box::new(|info| {
            let msg = info
                .payload()
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| info.payload().downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            if msg.contains("Broken pipe") {
                // the reader went away (`rnn sample | head`): not an error worth a message
                std::process::exit(141);
            }
            let place = info
                .location()
                .map(|l| format!(" at {}:{}", l.file(), l.line()))
                .unwrap_or_default();
            eprintln!(
                "error: internal error: {}{place} (this is a bug in rnn; rerun with RNN_DEBUG=1 for details)",
                msg.replace('\n', " ")
            );
        }));
    }
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Train(a) => train::run(a),
        Command::Sample(a) => sample(a),
        Command::Eval(a) => eval(a),
        Command::Viz(a) => viz::run(a),
        Command::Download(a) => download(a),
        Command::Bench(a) => bench::run(a),
        Command::Seq2seq(a) => seq2seq::run(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // one line, the whole cause chain, never a backtrace
            let msg = format!("{e:#}").replace('\n', " ");
            eprintln!("error: {msg}");
            ExitCode::FAILURE
        }
    }
}

fn sample(a: SampleArgs) -> Result<()> {
    if !(a.temperature >= 0.0 && a.temperature.is_finite()) {
        bail!(
            "--temperature must be a number ≥ 0 (0 is greedy), got {}",
            a.temperature
        );
    }
    if a.top_k == Some(0) {
        bail!("--top-k must be at least 1");
    }
    if let Some(width) = a.beam {
        if width == 0 {
            bail!("--beam must be at least 1 (1 is greedy decoding)");
        }
        if a.nbest == 0 || a.nbest > width {
            bail!(
                "--nbest must be between 1 and the beam width ({width}), got {}",
                a.nbest
            );
        }
        let model = ckpt::load_model(&a.checkpoint)?;
        let hyps = model
            .beam_search(&a.prime, a.len, width)
            .context("--prime")?;
        if a.nbest == 1 {
            println!("{}{}", a.prime, hyps[0].text);
        } else {
            for (i, h) in hyps.iter().take(a.nbest).enumerate() {
                println!(
                    "=== {} of {} (log P {:.3} nats, {:.3} nats/char) ===\n{}{}",
                    i + 1,
                    a.nbest,
                    h.log_prob,
                    h.log_prob / a.len.max(1) as f64,
                    a.prime,
                    h.text
                );
            }
        }
        return Ok(());
    }
    let model = ckpt::load_model(&a.checkpoint)?;
    let text = model
        .sample(&a.prime, a.len, a.temperature, a.top_k, a.seed)
        .context("--prime")?;
    println!("{text}");
    Ok(())
}

fn eval(a: EvalArgs) -> Result<()> {
    let model = ckpt::load_model(&a.checkpoint)?;
    let text = text::read_text(&a.data)?;
    let ids = model
        .config
        .vocab
        .encode(&text)
        .with_context(|| format!("{} cannot be scored by this model", a.data.display()))?;
    let e = model.evaluate(&ids, 32, 64)?;
    println!(
        "{}: {:.4} nats/char, {:.4} bits/char, perplexity {:.3} ({} characters)",
        a.data.display(),
        e.nats,
        e.bits,
        e.perplexity,
        e.chars
    );
    Ok(())
}

fn download(a: DownloadArgs) -> Result<()> {
    if a.name != "tinyshakespeare" {
        bail!(
            "unknown corpus `{}`: the only downloadable corpus is `tinyshakespeare`",
            a.name
        );
    }
    let dest = a.to.join("tinyshakespeare.txt");
    if dest.exists() {
        println!("{} already exists", dest.display());
        return Ok(());
    }
    std::fs::create_dir_all(&a.to).with_context(|| format!("cannot create {}", a.to.display()))?;
    // RNN_TINYSHAKESPEARE_URL overrides the address (tests use it to simulate being offline)
    let url =
        std::env::var("RNN_TINYSHAKESPEARE_URL").unwrap_or_else(|_| TINYSHAKESPEARE_URL.into());
    let out = std::process::Command::new("curl")
        .args([
            "--fail",
            "--silent",
            "--show-error",
            "--location",
            "--max-time",
            "60",
        ])
        .arg(&url)
        .output();
    let out = match out {
        Ok(o) => o,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
            "downloading needs `curl`, which is not installed; fetch {url} by hand into {}",
            dest.display()
        ),
        Err(e) => bail!("cannot run curl: {e}"),
    };
    if !out.status.success() || out.stdout.is_empty() {
        let why = String::from_utf8_lossy(&out.stderr)
            .trim()
            .replace('\n', " ");
        bail!(
            "cannot download tinyshakespeare from {url} (are you offline?): {}",
            if why.is_empty() {
                "empty answer".to_string()
            } else {
                why
            }
        );
    }
    text::check_text(&out.stdout, &dest)?;
    rnn::files::write_atomic(&dest, &out.stdout)?;
    println!("wrote {} ({} bytes)", dest.display(), out.stdout.len());
    Ok(())
}
