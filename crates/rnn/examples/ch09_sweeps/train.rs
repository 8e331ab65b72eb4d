//! One training run of a character model, as in chapters 6 and 8, and the runner that does several at once.

use std::sync::Mutex;
use std::time::Instant;

use rnn::cells::CellConfig;
use rnn::data::{TbpttBatches, Vocab};
use rnn::models::char_lm::{CharLm, CharLmConfig};
use rnn::optim::{clip_by_global_norm, Adam, Optimizer};
use rnn::prelude::*;

/// B parallel streams, as in chapters 6 and 8.
pub const BATCH: usize = 32;
/// Chunks of this many characters, state carried between chunks.
pub const SEQ_LEN: usize = 50;
/// A gradient whose global norm (before clipping) is above this counts as a spike.
pub const SPIKE: f64 = 100.0;

/// What one run trains: the model, the optimiser's settings and the seed.
#[derive(Clone, Copy, Debug)]
pub struct Setup {
    /// The cell, variant included.
    pub cell: CellConfig,
    /// Units per layer.
    pub hidden: usize,
    /// Stacked recurrent layers.
    pub layers: usize,
    /// Dropout after every recurrent layer (the top one included), training only.
    pub dropout: f64,
    /// Adam's learning rate.
    pub lr: f64,
    /// Clipping by global norm at this value; `None`, no clipping.
    pub clip: Option<f64>,
    /// Training steps (one chunk of B x SEQ_LEN characters each).
    pub steps: usize,
    /// Seed of the weights and of the dropout masks.
    pub seed: u64,
    /// Score the validation text every this many steps (and at the end).
    pub eval_every: usize,
    /// Also score the training text at the end (in evaluation mode, no dropout).
    pub score_train: bool,
}

/// What a run measured.
pub struct Outcome {
    /// Validation nats per character at the end.
    pub val_final: f64,
    /// The lowest validation loss of any evaluation (what early stopping would keep), and its step.
    pub val_best: (f64, usize),
    /// Training text, nats per character at the end, evaluation mode (if asked).
    pub train_nats: Option<f64>,
    /// The step at which the training loss stopped being a finite number, if it did (the run stops there).
    pub diverged_at: Option<usize>,
    /// The largest global gradient norm seen before clipping, and how many steps had one above [`SPIKE`].
    pub max_grad: f64,
    /// Steps whose gradient norm, before clipping, was above [`SPIKE`].
    pub spikes: usize,
    /// Number of parameters.
    pub params: usize,
    /// Wall time of the run.
    pub seconds: f64,
    /// The trained model.
    pub model: CharLm,
}

/// Trains one model on `train` (ids of `vocab`), scoring `val`.
pub fn train(setup: &Setup, vocab: &Vocab, train: &[usize], val: &[usize]) -> Outcome {
    let started = Instant::now();
    let config = CharLmConfig::new(
        "rnn",
        vocab.clone(),
        0,
        setup.hidden,
        setup.layers,
        setup.dropout,
    )
    .with_cell(setup.cell);
    let mut rng = rnn::init::rng(setup.seed);
    let mut model = CharLm::new(config, &mut rng).expect("a valid configuration");
    let batches = TbpttBatches::new(train, BATCH, SEQ_LEN).expect("the text is long enough");
    let mut opt = Adam::new(setup.lr);
    let mut states = model.zero_states(BATCH);
    let score = |m: &CharLm| {
        m.evaluate(val, BATCH, SEQ_LEN)
            .expect("the held-out text is long enough")
            .nats
    };
    let (mut best, mut diverged_at, mut max_grad, mut spikes) =
        ((f64::INFINITY, 0), None, 0.0f64, 0);
    for step in 0..setup.steps {
        let k = step % batches.num_chunks();
        if k == 0 {
            states = model.zero_states(BATCH);
        }
        let (inputs, targets) = batches.chunk(k);
        let (loss, finals, cache) = model.forward(&inputs, &targets, Some(&states), Some(&mut rng));
        if !loss.is_finite() {
            diverged_at = Some(step);
            break;
        }
        let mut grads = model.zeros_like();
        model.backward(&cache, &mut grads);
        // the norm before clipping; no clipping is clipping at infinity
        let norm = clip_by_global_norm(&mut grads, setup.clip.unwrap_or(f64::INFINITY));
        max_grad = max_grad.max(norm);
        spikes += usize::from(norm > SPIKE);
        opt.step(&mut model, &grads);
        states = finals;
        if (step + 1) % setup.eval_every == 0 && step + 1 < setup.steps {
            let v = score(&model);
            if v < best.0 {
                best = (v, step + 1);
            }
        }
    }
    let val_final = if diverged_at.is_some() {
        f64::NAN
    } else {
        score(&model)
    };
    if val_final < best.0 {
        best = (val_final, setup.steps);
    }
    let train_nats = (setup.score_train && diverged_at.is_none()).then(|| {
        model
            .evaluate(train, BATCH, SEQ_LEN)
            .expect("the training text is long enough")
            .nats
    });
    Outcome {
        val_final,
        val_best: best,
        train_nats,
        diverged_at,
        max_grad,
        spikes,
        params: model.num_params(),
        seconds: started.elapsed().as_secs_f64(),
        model,
    }
}

/// Runs `f` on every job, two at a time on two threads (one on a single core), and returns the results in
/// the jobs' order. Each job has its own seeded random numbers, so only the times depend on the scheduling.
pub fn parallel<J: Sync, T: Send>(jobs: &[J], f: impl Fn(&J) -> T + Sync) -> Vec<T> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(2));
    let next = Mutex::new(0usize);
    let results: Mutex<Vec<Option<T>>> = Mutex::new((0..jobs.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let i = {
                    let mut n = next.lock().unwrap();
                    *n += 1;
                    *n - 1
                };
                let Some(job) = jobs.get(i) else { break };
                let out = f(job);
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

/// The machine's load, for the full runs whose times the book quotes.
pub fn load_line() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| {
            let l: Vec<&str> = l.split_whitespace().take(3).collect();
            format!("load average {}", l.join(" "))
        })
        .unwrap_or_else(|_| "load average unknown".into())
}

/// Mean and sample standard deviation (0 for one value).
pub fn mean_sd(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = if v.len() > 1 {
        v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    (mean, var.sqrt())
}
