//! More hidden units or another layer? LSTMs of 1, 2 and 3 layers at equal parameter budgets.

use std::time::Instant;

use rnn::cells::{CellConfig, CellKind};
use rnn::models::char_lm::{CharLm, CharLmConfig};
use rnn::plot::DotChart;
use rnn::prelude::*;

use crate::train::{mean_sd, parallel, train, Setup, BATCH, SEQ_LEN};
use crate::{closing_line, save, Args, Data};

const LR: f64 = 2e-3;
const STEPS: usize = 2000;
const EVAL_EVERY: usize = 250;

/// The width H whose model (an LSTM char model of `layers` layers, vocabulary of `data`) has the parameter
/// count closest to `budget`, and that count: found by counting the parameters of every width, so the
/// count is the model's own.
fn width_for(budget: usize, layers: usize, data: &Data) -> (usize, usize) {
    let params = |h: usize| {
        let config = CharLmConfig::new("lstm", data.vocab.clone(), 0, h, layers, 0.0);
        CharLm::new(config, &mut rnn::init::rng(0))
            .expect("a valid configuration")
            .num_params()
    };
    let mut best = (1, params(1));
    for h in 2.. {
        let p = params(h);
        if p.abs_diff(budget) < best.1.abs_diff(budget) {
            best = (h, p);
        }
        if p > budget {
            break;
        }
    }
    best
}

/// Runs the sweep and prints its table.
pub fn run(data: &Data, args: &Args) {
    let (budgets, seeds, steps): (Vec<usize>, u64, usize) = if args.quick {
        (vec![4_000], 1, 20)
    } else {
        (vec![25_000, 100_000, 250_000], 3, STEPS)
    };
    println!(
        "Moby-Dick: {} train, {} validation characters, V = {}",
        data.train.len(),
        data.val.len(),
        data.vocab.len()
    );
    println!(
        "LSTM (PyTorch's), one-hot input; B = {BATCH} streams, chunks of {SEQ_LEN}, Adam lr {LR}, clip 5, \
         {steps} steps, no dropout; validation scored every {} steps; seeds 0 to {}",
        EVAL_EVERY.min(steps),
        seeds - 1
    );
    if !args.quick {
        println!("{} at the start", crate::train::load_line());
    }
    let mut jobs = Vec::new();
    for &budget in &budgets {
        for layers in 1..=3 {
            let (hidden, params) = width_for(budget, layers, data);
            for seed in 0..seeds {
                jobs.push((budget, layers, hidden, params, seed));
            }
        }
    }
    let started = Instant::now();
    let outcomes = parallel(&jobs, |&(_, layers, hidden, _, seed)| {
        let setup = Setup {
            cell: CellConfig::new(CellKind::Lstm),
            hidden,
            layers,
            dropout: 0.0,
            lr: LR,
            clip: Some(5.0),
            steps,
            seed,
            eval_every: EVAL_EVERY.min(steps),
            score_train: false,
        };
        train(&setup, &data.vocab, &data.train, &data.val)
    });
    println!(
        "\n{:>8} {:>6} {:>4} {:>10}  {:>26} {:>15} {:>22} {:>12}",
        "budget",
        "layers",
        "H",
        "parameters",
        "best validation per seed",
        "mean ± sd",
        "at the end, mean ± sd",
        "time per run"
    );
    let mut chart = DotChart::new(
        &format!("LSTMs of equal size on Moby-Dick, {steps} steps"),
        "best validation nats per character",
    );
    for group in jobs.chunks(seeds as usize) {
        let (budget, layers, hidden, params, _) = group[0];
        let runs: Vec<_> = jobs
            .iter()
            .zip(&outcomes)
            .filter(|(j, _)| j.0 == budget && j.1 == layers)
            .map(|(_, o)| o)
            .collect();
        let best: Vec<f64> = runs.iter().map(|o| o.val_best.0).collect();
        let last: Vec<f64> = runs.iter().map(|o| o.val_final).collect();
        let (bm, bs) = mean_sd(&best);
        let (lm, ls) = mean_sd(&last);
        let per_seed: Vec<String> = runs
            .iter()
            .map(|o| format!("{:.3}@{}", o.val_best.0, o.val_best.1))
            .collect();
        let time = runs.iter().map(|o| o.seconds).sum::<f64>() / runs.len() as f64;
        println!(
            "{:>8} {:>6} {:>4} {:>10}  {:>26} {:>7.3} ± {:.3} {:>14.3} ± {:.3} {:>10.0} s",
            budget,
            layers,
            hidden,
            params,
            per_seed.join(" "),
            bm,
            bs,
            lm,
            ls,
            time
        );
        chart = chart.category(&format!("{}k, {layers}L", budget / 1000), best);
    }
    println!("(best validation per seed: the lowest validation loss of the run @ the step it was reached)");
    closing_line(jobs.len(), started.elapsed().as_secs_f64(), args.quick);
    save(chart.size(900, 420).to_svg(), args, "ch09-depth.svg");
}
