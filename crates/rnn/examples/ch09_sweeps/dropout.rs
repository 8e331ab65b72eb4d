//! Two sweeps of chapter 6's Elman model: dropout against the train/validation gap, and tanh against ReLU
//! in training.

use std::time::Instant;

use rnn::cells::{CellConfig, CellKind};
use rnn::plot::{DotChart, LineChart};

use crate::train::{mean_sd, parallel, train, Setup, BATCH, SEQ_LEN, SPIKE};
use crate::{closing_line, save, Args, Data};

/// Chapter 6's model and schedule: 128 Elman tanh units, Adam lr 2e-3, clip 5, 3,500 steps.
const HIDDEN: usize = 128;
const CH6_LR: f64 = 2e-3;
const CH6_STEPS: usize = 3500;

/// Dropout on the train/validation gap of chapter 6's model.
pub fn run_dropout(data: &Data, args: &Args) {
    let (rates, seeds, steps, hidden): (Vec<f64>, u64, usize, usize) = if args.quick {
        (vec![0.0, 0.3], 1, 20, 16)
    } else {
        (vec![0.0, 0.1, 0.2, 0.3, 0.5], 3, CH6_STEPS, HIDDEN)
    };
    println!(
        "chapter 6's model: Elman tanh, H = {hidden}, one-hot input, on Moby-Dick ({} train, {} validation \
         characters); B = {BATCH}, chunks of {SEQ_LEN}, Adam lr {CH6_LR}, clip 5, {steps} steps; dropout p on \
         the recurrent layer's output (training only); seeds 0 to {}",
        data.train.len(),
        data.val.len(),
        seeds - 1
    );
    println!("train and validation: nats per character in evaluation mode (no dropout), at the end of training");
    if !args.quick {
        println!("{} at the start", crate::train::load_line());
    }
    let jobs: Vec<(f64, u64)> = rates
        .iter()
        .flat_map(|&p| (0..seeds).map(move |s| (p, s)))
        .collect();
    let started = Instant::now();
    let outcomes = parallel(&jobs, |&(p, seed)| {
        let setup = Setup {
            cell: CellConfig::new(CellKind::RnnTanh),
            hidden,
            layers: 1,
            dropout: p,
            lr: CH6_LR,
            clip: Some(5.0),
            steps,
            seed,
            eval_every: 250.min(steps),
            score_train: true,
        };
        train(&setup, &data.vocab, &data.train, &data.val)
    });
    println!(
        "\n{:>7} {:>22} {:>22} {:>22} {:>15} {:>20} {:>12}",
        "dropout",
        "train per seed",
        "validation per seed",
        "gap per seed",
        "gap mean ± sd",
        "best val, mean @ step",
        "time per run"
    );
    let mut chart = LineChart::new(
        "Dropout on chapter 6's Elman model: the loss at the end (mean of seeds)",
        "dropout p",
        "nats per character",
    );
    let (mut train_pts, mut val_pts) = (Vec::new(), Vec::new());
    for &p in &rates {
        let runs: Vec<_> = jobs
            .iter()
            .zip(&outcomes)
            .filter(|(j, _)| j.0 == p)
            .map(|(_, o)| o)
            .collect();
        let tr: Vec<f64> = runs
            .iter()
            .map(|o| o.train_nats.unwrap_or(f64::NAN))
            .collect();
        let va: Vec<f64> = runs.iter().map(|o| o.val_final).collect();
        let gap: Vec<f64> = va.iter().zip(&tr).map(|(v, t)| v - t).collect();
        let fmt = |v: &[f64]| {
            v.iter()
                .map(|x| format!("{x:.3}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let (gm, gs) = mean_sd(&gap);
        let best: Vec<f64> = runs.iter().map(|o| o.val_best.0).collect();
        let best_step = runs.iter().map(|o| o.val_best.1).sum::<usize>() / runs.len();
        let time = runs.iter().map(|o| o.seconds).sum::<f64>() / runs.len() as f64;
        println!(
            "{:>7.1} {:>22} {:>22} {:>22} {:>7.3} ± {:.3} {:>13.3} @ {:<4} {:>10.0} s",
            p,
            fmt(&tr),
            fmt(&va),
            fmt(&gap),
            gm,
            gs,
            mean_sd(&best).0,
            best_step,
            time
        );
        train_pts.push((p, mean_sd(&tr).0));
        val_pts.push((p, mean_sd(&va).0));
    }
    closing_line(jobs.len(), started.elapsed().as_secs_f64(), args.quick);
    chart = chart
        .series("training text", train_pts)
        .series("validation text", val_pts);
    save(chart.to_svg(), args, "ch09-dropout.svg");
}

/// Elman tanh against Elman ReLU in training.
pub fn run_relu(data: &Data, args: &Args) {
    let (rates, seeds, steps, hidden): (Vec<f64>, u64, usize, usize) = if args.quick {
        (vec![2e-3], 1, 20, 16)
    } else {
        (vec![1e-3, 2e-3, 5e-3], 3, 1500, HIDDEN)
    };
    let cells = [("tanh", CellKind::RnnTanh), ("ReLU", CellKind::RnnRelu)];
    let clips = [Some(5.0), None];
    println!(
        "Elman tanh vs Elman ReLU, H = {hidden}, PyTorch's initialisation (uniform in ±1/√H), one-hot input, on \
         Moby-Dick; B = {BATCH}, chunks of {SEQ_LEN}, Adam, {steps} steps, with and without clipping by \
         global norm at 5; seeds 0 to {}",
        seeds - 1
    );
    println!(
        "a run diverges when its training loss stops being a finite number (it stops there); a spike is a \
         step whose gradient norm, before clipping, is above {SPIKE}"
    );
    if !args.quick {
        println!("{} at the start", crate::train::load_line());
    }
    let mut jobs = Vec::new();
    for (c, _) in cells.iter().enumerate() {
        for &clip in &clips {
            for &lr in &rates {
                for seed in 0..seeds {
                    jobs.push((c, clip, lr, seed));
                }
            }
        }
    }
    let started = Instant::now();
    let outcomes = parallel(&jobs, |&(c, clip, lr, seed)| {
        let setup = Setup {
            cell: CellConfig::new(cells[c].1),
            hidden,
            layers: 1,
            dropout: 0.0,
            lr,
            clip,
            steps,
            seed,
            eval_every: 250.min(steps),
            score_train: false,
        };
        train(&setup, &data.vocab, &data.train, &data.val)
    });
    println!(
        "\n{:<5} {:>5} {:>8} {:>30} {:>22} {:>16} {:>12}",
        "cell",
        "clip",
        "lr",
        "validation at the end per seed",
        "spikes per seed",
        "largest norm",
        "time per run"
    );
    let mut chart = DotChart::new(
        &format!(
            "Elman tanh vs ReLU on Moby-Dick, H = {hidden}, {steps} steps (diverged runs left out)"
        ),
        "validation nats per character",
    );
    for group in jobs.chunks(seeds as usize) {
        let (c, clip, lr, _) = group[0];
        let runs: Vec<_> = jobs
            .iter()
            .zip(&outcomes)
            .filter(|(j, _)| j.0 == c && j.1 == clip && j.2 == lr)
            .map(|(_, o)| o)
            .collect();
        let vals: Vec<String> = runs
            .iter()
            .map(|o| match o.diverged_at {
                Some(s) => format!("div@{s}"),
                None => format!("{:.3}", o.val_final),
            })
            .collect();
        let spikes: Vec<String> = runs.iter().map(|o| o.spikes.to_string()).collect();
        let largest = runs.iter().map(|o| o.max_grad).fold(0.0, f64::max);
        let time = runs.iter().map(|o| o.seconds).sum::<f64>() / runs.len() as f64;
        let clip_name = clip.map_or("none".to_string(), |c| format!("{c}"));
        println!(
            "{:<5} {:>5} {:>8.0e} {:>30} {:>22} {:>16.3e} {:>10.0} s",
            cells[c].0,
            clip_name,
            lr,
            vals.join(" "),
            spikes.join(" "),
            largest,
            time
        );
        let finite: Vec<f64> = runs
            .iter()
            .map(|o| o.val_final)
            .filter(|v| v.is_finite())
            .collect();
        let failed = runs.len() - finite.len();
        let mut label = format!(
            "{} {:.0e}{}",
            cells[c].0,
            lr,
            if clip.is_some() { "" } else { " nc" }
        );
        if failed > 0 {
            label.push_str(&format!(" ({failed} div)"));
        }
        chart = chart.category(&label, finite);
    }
    println!("(nc in the figure: no clipping)");
    closing_line(jobs.len(), started.elapsed().as_secs_f64(), args.quick);
    save(chart.size(1100, 440).to_svg(), args, "ch09-relu.svg");
}
