//! What a hyperparameter search looks like: random search (Bergstra and Bengio 2012) over four
//! hyperparameters of an LSTM char model, and how much of the spread of the results each one explains.

use std::time::Instant;

use rand::Rng as _;
use rnn::cells::{CellConfig, CellKind};
use rnn::plot::DotChart;

use crate::train::{parallel, train, Setup, BATCH, SEQ_LEN};
use crate::{closing_line, save, Args, Data};

/// The seed of the hyperparameter draws (each trial's training seed is its number).
const SEARCH_SEED: u64 = 2012;
const TRIALS: usize = 24;
const STEPS: usize = 1000;
const EVAL_EVERY: usize = 250;

/// One trial's hyperparameters.
#[derive(Clone, Copy)]
struct Trial {
    lr: f64,
    hidden: usize,
    layers: usize,
    dropout: f64,
}

/// Draws the trials: the learning rate log-uniform in [10^-3.5, 10^-1.5] (3.2e-4 to 3.2e-2), the width
/// log-uniform in [32, 192], 1, 2 or 3 layers with equal odds, dropout uniform in [0, 0.5].
fn draw(n: usize) -> Vec<Trial> {
    let mut rng = rnn::init::rng(SEARCH_SEED);
    (0..n)
        .map(|_| Trial {
            lr: 10f64.powf(rng.random_range(-3.5..-1.5)),
            hidden: (2f64.powf(rng.random_range(5.0..(192f64).log2()))).round() as usize,
            layers: rng.random_range(1..=3),
            dropout: rng.random_range(0.0..0.5),
        })
        .collect()
}

/// The share of the variance of `y` explained by grouping the trials into `groups` (one-way ANOVA's η²,
/// between-group sum of squares over the total).
fn eta_squared(y: &[f64], groups: &[usize]) -> f64 {
    let n = y.len() as f64;
    let mean = y.iter().sum::<f64>() / n;
    let total: f64 = y.iter().map(|v| (v - mean).powi(2)).sum();
    let k = groups.iter().max().map_or(0, |g| g + 1);
    let between: f64 = (0..k)
        .map(|g| {
            let ys: Vec<f64> = y
                .iter()
                .zip(groups)
                .filter(|(_, &gg)| gg == g)
                .map(|(v, _)| *v)
                .collect();
            if ys.is_empty() {
                return 0.0;
            }
            let m = ys.iter().sum::<f64>() / ys.len() as f64;
            ys.len() as f64 * (m - mean).powi(2)
        })
        .sum();
    between / total
}

/// The group of each value when `x` is cut at its quartiles into 4 groups of (nearly) equal size.
fn quartile_groups(x: &[f64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..x.len()).collect();
    order.sort_by(|&a, &b| x[a].total_cmp(&x[b]));
    let mut groups = vec![0; x.len()];
    for (rank, &i) in order.iter().enumerate() {
        groups[i] = rank * 4 / x.len();
    }
    groups
}

/// Spearman's rank correlation (no ties here: every value is a distinct random draw or loss).
fn spearman(x: &[f64], y: &[f64]) -> f64 {
    let ranks = |v: &[f64]| {
        let mut order: Vec<usize> = (0..v.len()).collect();
        order.sort_by(|&a, &b| v[a].total_cmp(&v[b]));
        let mut r = vec![0.0; v.len()];
        for (rank, &i) in order.iter().enumerate() {
            r[i] = rank as f64;
        }
        r
    };
    let (rx, ry) = (ranks(x), ranks(y));
    let n = x.len() as f64;
    let m = (n - 1.0) / 2.0;
    let cov: f64 = rx.iter().zip(&ry).map(|(a, b)| (a - m) * (b - m)).sum();
    let var: f64 = rx.iter().map(|a| (a - m).powi(2)).sum();
    cov / var
}

/// Runs the search and prints the trials, best first, and the share each hyperparameter explains.
pub fn run(data: &Data, args: &Args) {
    let (trials, steps) = if args.quick { (4, 20) } else { (TRIALS, STEPS) };
    let mut draws = draw(trials);
    if args.quick {
        // tiny models: the same code paths in seconds
        for t in &mut draws {
            t.hidden = t.hidden.min(12);
        }
    }
    println!(
        "random search, {trials} trials (draws seeded {SEARCH_SEED}; trial k trains from seed k): LSTM char \
         model of Moby-Dick, B = {BATCH}, chunks of {SEQ_LEN}, Adam, clip 5, {steps} steps; score = the best \
         validation loss of the run, scored every {} steps",
        EVAL_EVERY.min(steps)
    );
    println!("learning rate log-uniform in [3.2e-4, 3.2e-2], H log-uniform in [32, 192], 1-3 layers, dropout uniform in [0, 0.5]");
    if !args.quick {
        println!("{} at the start", crate::train::load_line());
    }
    let jobs: Vec<(usize, Trial)> = draws.iter().copied().enumerate().collect();
    let started = Instant::now();
    let outcomes = parallel(&jobs, |&(k, t)| {
        let setup = Setup {
            cell: CellConfig::new(CellKind::Lstm),
            hidden: t.hidden,
            layers: t.layers,
            dropout: t.dropout,
            lr: t.lr,
            clip: Some(5.0),
            steps,
            seed: k as u64,
            eval_every: EVAL_EVERY.min(steps),
            score_train: false,
        };
        train(&setup, &data.vocab, &data.train, &data.val)
    });
    let score: Vec<f64> = outcomes.iter().map(|o| o.val_best.0).collect();
    let mut order: Vec<usize> = (0..trials).collect();
    order.sort_by(|&a, &b| score[a].total_cmp(&score[b]));
    println!(
        "\n{:>5} {:>6} {:>10} {:>4} {:>7} {:>8} {:>11} {:>11} {:>9}",
        "rank", "trial", "lr", "H", "layers", "dropout", "parameters", "best val", "time"
    );
    for (rank, &k) in order.iter().enumerate() {
        let (t, o) = (draws[k], &outcomes[k]);
        println!(
            "{:>5} {:>6} {:>10.2e} {:>4} {:>7} {:>8.2} {:>11} {:>11.3} {:>7.0} s",
            rank + 1,
            k,
            t.lr,
            t.hidden,
            t.layers,
            t.dropout,
            o.params,
            score[k],
            o.seconds
        );
    }

    // ---- which hyperparameter explains the spread
    let lr: Vec<f64> = draws.iter().map(|t| t.lr.log10()).collect();
    let h: Vec<f64> = draws.iter().map(|t| t.hidden as f64).collect();
    let layers: Vec<f64> = draws.iter().map(|t| t.layers as f64).collect();
    let dropout: Vec<f64> = draws.iter().map(|t| t.dropout).collect();
    let layer_groups: Vec<usize> = draws.iter().map(|t| t.layers - 1).collect();
    println!(
        "\nshare of the variance of the score explained by each hyperparameter alone (η² of one-way ANOVA: \
         quartile groups, or the 3 depths), and Spearman's rank correlation with the score"
    );
    println!(
        "{:<16} {:>6} {:>10}   (one with no effect gives η² = (groups - 1)/(trials - 1) on average: {:.2} for \
         quartiles, {:.2} for the depths)",
        "hyperparameter",
        "η²",
        "Spearman",
        3.0 / (trials as f64 - 1.0),
        2.0 / (trials as f64 - 1.0)
    );
    let rows: [(&str, &Vec<f64>, Vec<usize>); 4] = [
        ("learning rate", &lr, quartile_groups(&lr)),
        ("width H", &h, quartile_groups(&h)),
        ("layers", &layers, layer_groups.clone()),
        ("dropout", &dropout, quartile_groups(&dropout)),
    ];
    for (name, x, groups) in &rows {
        println!(
            "{:<16} {:>6.2} {:>10.2}",
            name,
            eta_squared(&score, groups),
            spearman(x, &score)
        );
    }
    closing_line(jobs.len(), started.elapsed().as_secs_f64(), args.quick);

    // the figure: the scores grouped by each hyperparameter in turn (quartiles, or the depth)
    let mut chart = DotChart::new(
        &format!("Random search, {trials} trials: the same scores grouped four ways"),
        "best validation nats per character",
    );
    for (name, x, groups) in &rows {
        for g in 0..=*groups.iter().max().unwrap_or(&0) {
            let members: Vec<usize> = (0..trials).filter(|&i| groups[i] == g).collect();
            let lo = members.iter().map(|&i| x[i]).fold(f64::INFINITY, f64::min);
            let hi = members
                .iter()
                .map(|&i| x[i])
                .fold(f64::NEG_INFINITY, f64::max);
            let label = match *name {
                "learning rate" => format!("lr {:.0e}-{:.0e}", 10f64.powf(lo), 10f64.powf(hi)),
                "width H" => format!("H {lo}-{hi}"),
                "layers" => format!("{lo} layer{}", if lo > 1.0 { "s" } else { "" }),
                _ => format!("p {lo:.2}-{hi:.2}"),
            };
            chart = chart.category(&label, members.iter().map(|&i| score[i]).collect());
        }
    }
    save(chart.size(1100, 440).to_svg(), args, "ch09-search.svg");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eta_squared_is_one_for_a_perfect_grouping_and_zero_for_none() {
        let y = [1.0, 1.0, 3.0, 3.0];
        assert!((eta_squared(&y, &[0, 0, 1, 1]) - 1.0).abs() < 1e-12);
        assert!(eta_squared(&y, &[0, 1, 0, 1]).abs() < 1e-12);
    }

    #[test]
    fn spearman_sees_monotone_order() {
        let x = [1.0, 2.0, 3.0, 4.0];
        assert!((spearman(&x, &[10.0, 20.0, 25.0, 100.0]) - 1.0).abs() < 1e-12);
        assert!((spearman(&x, &[4.0, 3.0, 2.0, 1.0]) + 1.0).abs() < 1e-12);
    }

    #[test]
    fn quartiles_split_evenly() {
        let x: Vec<f64> = (0..8).map(|i| (7 - i) as f64).collect();
        assert_eq!(quartile_groups(&x), vec![3, 3, 2, 2, 1, 1, 0, 0]);
    }
}
