//! `rnn bench`: training and sampling speed in characters per second, on real text.
//!
//! 1. The min-char-rnn setup (vanilla RNN, H = 100, T = 25, B = 1, one-hot input, Adagrad lr 0.1, gradients
//!    clipped to ±5), against a numpy implementation of the same loop (`bench/min_char_rnn.py`).
//! 2. LSTM 256×1 and 512×2, B = 32, T = 64, Adam, global-norm clipping, against PyTorch's `nn.LSTM` in f64
//!    on one thread (`bench/torch_lstm.py`, if torch is importable; else the issue's figures, about 10k and
//!    1.1k chars/s).
//! 3. Sampling with H = 256, batch 1, for the Elman, GRU and LSTM cells, next to this core's read bandwidth.
//!
//! Each comparison alternates ours and the reference for `--rounds` rounds, each measurement after one
//! untimed warm-up step, and reports the ratio of the medians (see `docs/performance.md`).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use rnn::data::{TbpttBatches, Vocab};
use rnn::models::char_lm::{CharLm, CharLmConfig};
use rnn::params::Parameters;

use rnn::optim::{self, Optimizer};

/// Flags of `rnn bench`.
#[derive(clap::Args)]
pub struct BenchArgs {
    /// Text to train on (default: `data/tinyshakespeare.txt`, which `rnn download tinyshakespeare --to data/`
    /// writes, if it exists in the current directory; else the bundled Moby-Dick).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Seconds to spend on each measurement.
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    /// Python interpreter for the numpy reference (default: .venv/bin/python if `cargo xtask setup` made it,
    /// else python3).
    #[arg(long)]
    python: Option<String>,
    /// Rounds of each comparison with a reference (numpy, PyTorch): each round times ours, then the
    /// reference; the medians are reported, so that a burst of other work on the machine does not decide
    /// the ratio.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=20))]
    rounds: u32,
    /// Python interpreter with PyTorch for the LSTM reference (`bench/torch_lstm.py`); if it cannot import
    /// torch, the LSTM lines compare with the PyTorch figures of the issue instead.
    #[arg(long, default_value = "python3")]
    torch_python: String,
    /// Only these benchmarks (comma-separated: minchar, lstm256, lstm512, sample).
    #[arg(long, default_value = "minchar,lstm256,lstm512,sample")]
    only: String,
}

/// The default text when it exists: where `rnn download tinyshakespeare --to data/` puts Tiny Shakespeare.
const DOWNLOADED_TINYSHAKESPEARE: &str = "data/tinyshakespeare.txt";

/// Timed training of one model on one text: each call of [`Speeds::train`] continues where the last one
/// stopped (same batches, carried state, same optimiser).
struct Speeds {
    batches: TbpttBatches,
    states: Vec<rnn::cells::State>,
    step: usize,
    budget: Duration,
    min_steps: usize,
}

impl Speeds {
    fn new(
        ids: &[usize],
        batch: usize,
        seq_len: usize,
        model: &CharLm,
        budget: Duration,
        min_steps: usize,
    ) -> Result<Self> {
        Ok(Speeds {
            batches: TbpttBatches::new(ids, batch, seq_len)?,
            states: model.zero_states(batch),
            step: 0,
            budget,
            min_steps,
        })
    }

    /// One training step; returns the loss.
    fn step(
        &mut self,
        model: &mut CharLm,
        opt: &mut dyn Optimizer,
        clip: &impl Fn(&mut CharLm),
    ) -> f64 {
        let (x, y) = self.batches.chunk(self.step % self.batches.num_chunks());
        let (loss, finals, cache) = model.forward(&x, &y, Some(&self.states), None);
        let mut g = model.zeros_like();
        model.backward(&cache, &mut g);
        clip(&mut g);
        opt.step(model, &g);
        self.states = finals;
        self.step += 1;
        loss
    }

    /// One untimed warm-up step, then steps for about `budget` (at least `min_steps`); returns
    /// (chars/s, last loss).
    fn train(
        &mut self,
        model: &mut CharLm,
        opt: &mut dyn Optimizer,
        clip: impl Fn(&mut CharLm),
    ) -> Result<(f64, f64)> {
        self.step(model, opt, &clip);
        let start = Instant::now();
        let (mut n, mut loss) = (0usize, 0.0);
        while n < self.min_steps || start.elapsed() < self.budget {
            loss = self.step(model, opt, &clip);
            n += 1;
        }
        let cps = (n * self.batches.chars_per_chunk()) as f64 / start.elapsed().as_secs_f64();
        Ok((cps, loss))
    }
}

/// Measures ours and a reference alternately for `rounds` rounds, prints every round and the ratio of the
/// medians against `goal`. Without a reference, compares with `fallback` (a figure quoted by the issue) if
/// given.
fn compare(
    what: &str,
    rounds: u32,
    mut ours: impl FnMut() -> Result<(f64, f64)>,
    (ref_name, mut reference): (&str, impl FnMut() -> Result<f64>),
    goal: f64,
    fallback: Option<f64>,
) -> Result<()> {
    let (mut us, mut them) = (Vec::new(), Vec::new());
    let mut missing = None;
    println!("{what}:");
    for round in 1..=rounds {
        let (cps, loss) = ours()?;
        us.push(cps);
        let line = format!("  round {round}: ours {cps:>9.0} chars/s (loss {loss:.3})");
        match (missing.is_none()).then(&mut reference) {
            Some(Ok(r)) => {
                them.push(r);
                println!("{line}, reference {r:>9.0} chars/s, ratio {:.2}x", cps / r);
            }
            Some(Err(e)) => {
                println!("{line}");
                missing = Some(e);
            }
            None => println!("{line}"),
        }
    }
    let us = median(&mut us);
    match missing {
        None => {
            let them = median(&mut them);
            println!(
                "  median: ours {us:.0} chars/s, {ref_name} {them:.0} chars/s: ratio {:.2}x (goal ≥ {goal}x)",
                us / them
            );
        }
        Some(e) => {
            println!("  median: ours {us:.0} chars/s; reference unavailable: {e:#}");
            if let Some(f) = fallback {
                println!(
                    "  vs the issue's figure for PyTorch f64 on 1 thread, ≈ {f:.0} chars/s: {:.2}x",
                    us / f
                );
            }
        }
    }
    Ok(())
}

fn model(cell: &str, vocab: &Vocab, hidden: usize, layers: usize) -> Result<CharLm> {
    let config = CharLmConfig::new(cell, vocab.clone(), 0, hidden, layers, 0.0);
    Ok(CharLm::new(config, &mut rnn::init::rng(1))?)
}

pub fn run(a: BenchArgs) -> Result<()> {
    if !(a.seconds.is_finite() && a.seconds > 0.0 && a.seconds <= 3600.0) {
        anyhow::bail!(
            "--seconds must be a time in seconds above 0 (at most 3600), got {}",
            a.seconds
        );
    }
    let only: Vec<&str> = a.only.split(',').map(str::trim).collect();
    const KNOWN: [&str; 4] = ["minchar", "lstm256", "lstm512", "sample"];
    if let Some(bad) = only.iter().find(|n| !KNOWN.contains(n)) {
        anyhow::bail!(
            "--only: unknown benchmark {bad:?} (choose from {})",
            KNOWN.join(", ")
        );
    }
    // `source` names the text for the Python references (a path, or @name of a bundled corpus); `which`
    // says, in the report, why this text was chosen
    let (text, source, which) = match &a.data {
        Some(p) => {
            let name = p.display().to_string();
            (crate::text::load(&name)?, name, "--data")
        }
        None if std::path::Path::new(DOWNLOADED_TINYSHAKESPEARE).is_file() => (
            crate::text::read_text(std::path::Path::new(DOWNLOADED_TINYSHAKESPEARE))?,
            DOWNLOADED_TINYSHAKESPEARE.to_string(),
            "the default: the downloaded Tiny Shakespeare",
        ),
        None => (
            crate::text::load("@moby-dick")?,
            "@moby-dick".to_string(),
            "bundled; the default data/tinyshakespeare.txt is absent: \
             `rnn download tinyshakespeare --to data/` fetches it",
        ),
    };
    let vocab = Vocab::from_text(&text);
    let ids = vocab.encode(&text)?;
    let budget = Duration::from_secs_f64(a.seconds);
    println!(
        "rnn bench on {source} ({which}; {} chars, vocabulary {}), f64, {} s per measurement",
        ids.len(),
        vocab.len(),
        a.seconds
    );

    if only.contains(&"minchar") {
        let mut m = model("rnn", &vocab, 100, 1)?;
        let mut opt = optim::Adagrad::new(0.1);
        let clip = |g: &mut CharLm| optim::clip_by_value(g, 5.0);
        let mut speeds = Speeds::new(&ids, 1, 25, &m, budget, 10)?;
        compare(
            "min-char-rnn (rnn H=100, T=25, B=1, Adagrad 0.1, clip ±5)",
            a.rounds,
            || speeds.train(&mut m, &mut opt, clip),
            ("numpy, same loop (bench/min_char_rnn.py)", || {
                numpy_reference(&a, &source)
            }),
            5.0,
            None,
        )?;
    }
    for (name, hidden, layers, issue_figure) in
        [("lstm256", 256, 1, 10_000.0), ("lstm512", 512, 2, 1_100.0)]
    {
        if !only.contains(&name) {
            continue;
        }
        let mut m = model("lstm", &vocab, hidden, layers)?;
        let mut opt = optim::Adam::new(2e-3);
        let clip = |g: &mut CharLm| {
            optim::clip_by_global_norm(g, 5.0);
        };
        let mut speeds = Speeds::new(&ids, 32, 64, &m, budget, 2)?;
        compare(
            &format!("lstm {hidden}x{layers} training (B=32, T=64, Adam, clip 5)"),
            a.rounds,
            || speeds.train(&mut m, &mut opt, clip),
            (
                "PyTorch nn.LSTM f64, 1 thread (bench/torch_lstm.py)",
                || torch_reference(&a, &source, hidden, layers),
            ),
            1.0,
            Some(issue_figure),
        )?;
    }
    if only.contains(&"sample") {
        for cell in ["rnn", "gru", "lstm"] {
            let m = model(cell, &vocab, 256, 1)?;
            let start = Instant::now();
            let mut n = 0usize;
            while n < 200 || start.elapsed() < budget / 3 {
                n += m.sample("", 100, 1.0, None, n as u64)?.chars().count();
            }
            let cps = n as f64 / start.elapsed().as_secs_f64();
            // every step reads all the weights but W_ih, of which one column (one-hot input)
            let bytes = 8 * m
                .params()
                .iter()
                .map(|(name, p)| {
                    if name.starts_with("rnn.weight_ih") {
                        p.shape()[0]
                    } else {
                        p.len()
                    }
                })
                .sum::<usize>();
            let bw = read_bandwidth(bytes, budget / 6);
            println!(
                "{cell:<4} 256 sampling (batch 1):                          {cps:>10.0} chars/s   (goal ≥ 20000); \
                 reads {:.2} MB of weights per char: {:.0}% of this core's {:.1} GB/s read bandwidth",
                bytes as f64 / 1e6,
                100.0 * cps * bytes as f64 / bw,
                bw / 1e9
            );
        }
    }
    if let Ok(load) = std::fs::read_to_string("/proc/loadavg") {
        let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
        println!(
            "(load average during the run: {}; {cores} cores: numbers fall when other work shares them)",
            load.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
        );
    }
    Ok(())
}

/// The median of `v` (the mean of the middle two for an even count).
fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Bytes per second at which this core sums an f64 array of `bytes` bytes, read over and over for about
/// `budget`: what reading a model's weights once per character costs at best.
fn read_bandwidth(bytes: usize, budget: Duration) -> f64 {
    let data: Vec<f64> = (0..bytes / 8).map(|i| i as f64).collect();
    let start = Instant::now();
    let (mut passes, mut total) = (0usize, 0.0);
    while passes < 10 || start.elapsed() < budget {
        // eight independent sums, so the adds do not wait on each other
        let mut acc = [0.0; 8];
        for c in data.chunks_exact(8) {
            for l in 0..8 {
                acc[l] += c[l];
            }
        }
        total += acc.iter().sum::<f64>();
        passes += 1;
    }
    std::hint::black_box(total);
    (passes * bytes) as f64 / start.elapsed().as_secs_f64()
}

/// The text as a file the Python references can read (bundled corpora are written to a temporary file).
fn data_file(data: &str) -> Result<PathBuf> {
    Ok(if let Some(name) = data.strip_prefix('@') {
        let p = std::env::temp_dir().join(format!("rnn-bench-{name}.txt"));
        std::fs::write(&p, crate::text::load(data)?)?;
        p
    } else {
        PathBuf::from(data)
    })
}

/// Runs `bench/min_char_rnn.py` (numpy) and returns its chars/s.
fn numpy_reference(a: &BenchArgs, data: &str) -> Result<f64> {
    let venv = PathBuf::from(".venv/bin/python");
    let python = a.python.clone().unwrap_or_else(|| {
        if venv.exists() {
            venv.display().to_string()
        } else {
            "python3".to_string()
        }
    });
    let seconds = a.seconds.to_string();
    python_reference(&python, "min_char_rnn.py", data, &["--seconds", &seconds])
}

/// Runs `bench/torch_lstm.py` (PyTorch nn.LSTM, f64, one thread) and returns its chars/s.
fn torch_reference(a: &BenchArgs, data: &str, hidden: usize, layers: usize) -> Result<f64> {
    let (h, l, seconds) = (
        hidden.to_string(),
        layers.to_string(),
        a.seconds.to_string(),
    );
    let args = ["--hidden", &h, "--layers", &l, "--seconds", &seconds];
    python_reference(&a.torch_python, "torch_lstm.py", data, &args)
}

/// Runs `bench/<script> --data <file> <args>` with `python` on one thread and returns the number it prints
/// on its `chars/s N` line.
fn python_reference(python: &str, script: &str, data: &str, args: &[&str]) -> Result<f64> {
    let script = find_script(script)?;
    let out = std::process::Command::new(python)
        // one thread, as the Rust side
        .env("OMP_NUM_THREADS", "1")
        .env("OPENBLAS_NUM_THREADS", "1")
        .env("MKL_NUM_THREADS", "1")
        .arg(&script)
        .arg("--data")
        .arg(data_file(data)?)
        .args(args)
        .output()
        .with_context(|| format!("cannot run {python}"))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        anyhow::bail!(
            "{} failed: {}",
            script.display(),
            err.lines().last().unwrap_or("no output")
        );
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout
        .lines()
        .find_map(|l| {
            l.strip_prefix("chars/s ")
                .and_then(|v| v.trim().parse().ok())
        })
        .with_context(|| format!("{} printed no `chars/s N` line", script.display()))
}

fn find_script(name: &str) -> Result<PathBuf> {
    let candidates = [
        PathBuf::from("bench").join(name),
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../bench")
            .join(name),
    ];
    candidates
        .into_iter()
        .find(|p| p.exists())
        .with_context(|| format!("bench/{name} not found (run from the repository root)"))
}
