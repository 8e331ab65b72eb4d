//! The baselines of chapter 9's example, fitted on the training names: the majority class, the majority
//! label by last letter or last two letters, naive Bayes on the bag of characters, and two logistic
//! regressions on hand-made features.

use std::collections::HashMap;

use super::{Name, Splits, CLASSES, VOCAB};

/// A baseline: the class it gives a name.
type Rule<'a> = dyn Fn(&Name) -> usize + 'a;

/// The fraction of `names` a rule classifies right.
fn accuracy(predict: impl Fn(&Name) -> usize, names: &[Name]) -> f64 {
    names.iter().filter(|n| predict(n) == n.label).count() as f64 / names.len() as f64
}

/// The majority label of each key, counted over the training names that have one.
fn majority_by<K: std::hash::Hash + Eq>(
    train: &[Name],
    key: impl Fn(&Name) -> Option<K>,
) -> HashMap<K, usize> {
    let mut counts: HashMap<K, [usize; 2]> = HashMap::new();
    for n in train {
        if let Some(k) = key(n) {
            counts.entry(k).or_default()[n.label] += 1;
        }
    }
    // ties go to class 0 (f), fixed so that the result does not depend on the map's order
    counts
        .into_iter()
        .map(|(k, c)| (k, usize::from(c[1] > c[0])))
        .collect()
}

/// The last `len` letters of a name, if it has that many.
fn suffix(n: &Name, len: usize) -> Option<Vec<usize>> {
    (n.ids.len() >= len).then(|| n.ids[n.ids.len() - len..].to_vec())
}

/// Multinomial naive Bayes on the bag of characters (add-one smoothing): log P(class) + Σ log P(c | class).
fn naive_bayes(train: &[Name]) -> impl Fn(&Name) -> usize {
    let mut counts = [[1.0f64; VOCAB]; 2];
    let mut docs = [0.0f64; 2];
    for n in train {
        docs[n.label] += 1.0;
        for &c in &n.ids {
            counts[n.label][c] += 1.0;
        }
    }
    let log_p: Vec<Vec<f64>> = counts
        .iter()
        .map(|row| {
            let total: f64 = row.iter().sum();
            row.iter().map(|c| (c / total).ln()).collect()
        })
        .collect();
    let prior: Vec<f64> = docs.iter().map(|d| (d / train.len() as f64).ln()).collect();
    move |n: &Name| {
        let score = |k: usize| prior[k] + n.ids.iter().map(|&c| log_p[k][c]).sum::<f64>();
        usize::from(score(1) > score(0))
    }
}

/// The features of a logistic regression, as keys (a tag, then letter ids) that each count once per
/// occurrence: the letters (a bag), the last one, two and three letters, and with `rich` also the first one
/// and two letters and every letter pair and triple, the name's start and end counting as the letter 0.
fn keys(n: &Name, rich: bool) -> Vec<Vec<usize>> {
    let mut keys: Vec<Vec<usize>> = n.ids.iter().map(|&c| vec![1, c]).collect();
    let ends = (1..=3).filter_map(|len| suffix(n, len));
    keys.extend(ends.map(|s| [vec![2], s].concat()));
    if rich {
        let starts = (1..=2).filter(|&len| n.ids.len() >= len);
        keys.extend(starts.map(|len| [vec![3], n.ids[..len].to_vec()].concat()));
        let padded = [vec![0], n.ids.clone(), vec![0]].concat();
        keys.extend(padded.windows(2).map(|w| [vec![4], w.to_vec()].concat()));
        keys.extend(padded.windows(3).map(|w| [vec![5], w.to_vec()].concat()));
    }
    keys
}

/// The sparse feature vector `(index, count)` of a name: its [`keys`] that `index` knows (those seen in
/// training).
fn features(n: &Name, rich: bool, index: &HashMap<Vec<usize>, usize>) -> Vec<(usize, f64)> {
    let mut x: Vec<(usize, f64)> = Vec::new();
    for i in keys(n, rich).iter().filter_map(|k| index.get(k)) {
        match x.iter_mut().find(|(j, _)| j == i) {
            Some(e) => e.1 += 1.0,
            None => x.push((*i, 1.0)),
        }
    }
    x
}

/// Logistic regression on [`features`]: P(m) = σ(w·x + b), full-batch Adam on the mean cross-entropy plus
/// 1e-4·‖w‖²/2, 300 steps of lr 0.05. Returns the classifier.
fn logistic_regression(train: &[Name], rich: bool) -> impl Fn(&Name) -> usize {
    let mut index = HashMap::new();
    for n in train {
        for k in keys(n, rich) {
            let next = index.len();
            index.entry(k).or_insert(next);
        }
    }
    let xs: Vec<Vec<(usize, f64)>> = train.iter().map(|n| features(n, rich, &index)).collect();
    let dim = index.len() + 1; // the last weight is the bias
    let (mut w, mut m, mut v) = (vec![0.0; dim], vec![0.0; dim], vec![0.0; dim]);
    let (b1, b2, lr, l2) = (0.9f64, 0.999f64, 0.05, 1e-4);
    let n = train.len() as f64;
    for step in 1..=300 {
        let mut g: Vec<f64> = w.iter().map(|wi| l2 * wi).collect();
        g[dim - 1] = 0.0;
        for (x, name) in xs.iter().zip(train) {
            let z = w[dim - 1] + x.iter().map(|&(i, xi)| w[i] * xi).sum::<f64>();
            let err = (1.0 / (1.0 + (-z).exp()) - name.label as f64) / n; // ∂loss/∂z
            g[dim - 1] += err;
            for &(i, xi) in x {
                g[i] += err * xi;
            }
        }
        for i in 0..dim {
            m[i] = b1 * m[i] + (1.0 - b1) * g[i];
            v[i] = b2 * v[i] + (1.0 - b2) * g[i] * g[i];
            let m_hat = m[i] / (1.0 - b1.powi(step));
            let v_hat = v[i] / (1.0 - b2.powi(step));
            w[i] -= lr * m_hat / (v_hat.sqrt() + 1e-8);
        }
    }
    move |name: &Name| {
        let x = features(name, rich, &index);
        let z = w[dim - 1] + x.iter().map(|&(i, xi)| w[i] * xi).sum::<f64>();
        usize::from(z > 0.0)
    }
}

/// Fits every baseline on train and prints its validation and test accuracy.
pub(super) fn report(data: &Splits) {
    let counts = |ns: &[Name]| {
        let m = ns.iter().filter(|n| n.label == 1).count();
        format!("{} ({} f, {m} m)", ns.len(), ns.len() - m)
    };
    println!(
        "train {}, validation {}, test {}; {} names in both lists left out",
        counts(&data.train),
        counts(&data.val),
        counts(&data.test),
        data.both.len()
    );
    let train = &data.train;
    let majority = usize::from(2 * train.iter().filter(|n| n.label == 1).count() > train.len());
    let last1 = majority_by(train, |n| suffix(n, 1));
    let last2 = majority_by(train, |n| suffix(n, 2));
    let by_last = move |n: &Name| {
        *suffix(n, 1)
            .and_then(|s| last1.get(&s))
            .unwrap_or(&majority)
    };
    let by_last2 = |n: &Name| {
        suffix(n, 2)
            .and_then(|s| last2.get(&s).copied())
            .unwrap_or_else(|| by_last(n))
    };
    let nb = naive_bayes(train);
    let lr = logistic_regression(train, false);
    let lr_rich = logistic_regression(train, true);
    println!(
        "\n{:<58} {:>10} {:>8}",
        "baseline (fitted on train)", "validation", "test"
    );
    let rows: [(&str, &Rule<'_>); 6] = [
        (
            &format!("majority class ({})", CLASSES[majority]),
            &|_: &Name| majority,
        ),
        ("last letter", &by_last),
        ("last two letters (back-off: last letter)", &by_last2),
        ("naive Bayes, bag of characters", &nb),
        (
            "logistic regression, letter counts + last 1/2/3 letters",
            &lr,
        ),
        (
            "  the same + first 1/2 letters + letter pairs, triples",
            &lr_rich,
        ),
    ];
    for (name, f) in rows {
        println!(
            "{name:<58} {:>9.2}% {:>7.2}%",
            100.0 * accuracy(f, &data.val),
            100.0 * accuracy(f, &data.test)
        );
    }
}
