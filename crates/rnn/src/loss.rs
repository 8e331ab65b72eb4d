//! Losses: softmax cross-entropy for next-token prediction, mean squared error for regression, and the
//! two numbers a language model is judged by, perplexity and bits per character.
//!
//! Every loss returns `(value, gradient)`: the scalar loss and its gradient with respect to the loss's
//! input, ready to be fed into a backward pass. Conventions follow PyTorch: cross-entropy takes raw
//! *logits* (it applies the softmax itself, as `torch.nn.functional.cross_entropy` does) and averages over
//! the positions that count, so the loss is measured in *nats per token*.
//!
//! The equations are those of chapter 3 of the book:
//!
//! ```text
//! (3.1)  p_v       = exp(z_v - m) / Σ_u exp(z_u - m),        m = max_u z_u   (softmax)
//! (3.2)  log p_v   = z_v - m - ln Σ_u exp(z_u - m)                            (log-softmax)
//! (3.3)  ℓ_n       = -log p_n[y_n]                                            (one position)
//! (3.4)  L         = Σ_n m_n ℓ_n / Σ_n m_n                                    (masked mean)
//! (3.5)  ∂L/∂z_n   = m_n (p_n - onehot(y_n)) / Σ_n m_n
//! (3.6)  MSE       = Σ_i (p_i - t_i)² / N
//! (3.7)  ∂MSE/∂p_i = 2 (p_i - t_i) / N
//! (3.8)  PPL       = exp(L)
//! (3.9)  BPC       = L / ln 2
//! ```

use crate::activation::exp;
use ndarray::{
    Array, Array2, Array3, ArrayView, ArrayView1, ArrayView2, ArrayView3, ArrayViewMut1, Axis,
    Dimension, Zip,
};

/// ln Σ_u exp(z_u) of one row, split as `(m, tail)` with `ln Σ_u exp(z_u) = m + tail`, computed without
/// overflow or underflow.
///
/// With k the index of the largest entry m = z_k, `ln Σ_u exp(z_u) = m + ln(1 + Σ_{u≠k} exp(z_u - m))`.
/// Every exponent is ≤ 0, so nothing overflows. Keeping m and the tail apart (and using `ln_1p`) keeps small
/// losses exact: for logits `[40, 0]` and target 0 the loss is `(m - z_0) + tail = 0 + e^-40`, where
/// `(40 + e^-40) - 40` would round to 0.
fn log_sum_exp_parts<'a>(row: impl IntoIterator<Item = &'a f64> + Clone) -> (f64, f64) {
    let (k, m) = arg_max(row.clone());
    let rest: f64 = row
        .into_iter()
        .enumerate()
        .filter(|&(i, _)| i != k)
        .map(|(_, &z)| exp(z - m))
        .sum();
    (m, rest.ln_1p())
}

/// `(k, z_k)` for the first largest entry of a row (`(0, -∞)` for an empty one).
fn arg_max<'a>(row: impl IntoIterator<Item = &'a f64>) -> (usize, f64) {
    row.into_iter()
        .enumerate()
        .fold((0, f64::NEG_INFINITY), |(bk, bm), (i, &z)| {
            if z > bm {
                (i, z)
            } else {
                (bk, bm)
            }
        })
}

/// Writes `e_u = exp(z_u - m)` into `out` for one row `z`, m = max_u z_u, and returns `(m, rest)` with
/// `rest = Σ_{u≠k} e_u` over every entry but the largest (whose e_k is exactly 1): each exponential once, for
/// both the loss and the softmax.
fn exps_into(z: ArrayView1<'_, f64>, mut out: ArrayViewMut1<'_, f64>) -> (f64, f64) {
    let (k, m) = arg_max(z);
    Zip::from(&mut out)
        .and(&z)
        .for_each(|e, &v| *e = exp(v - m));
    let rest = out
        .iter()
        .enumerate()
        .filter(|&(u, _)| u != k)
        .map(|(_, e)| e)
        .sum();
    (m, rest)
}

fn assert_has_classes(fn_name: &str, logits: &ArrayView2<'_, f64>) {
    assert!(
        logits.ncols() > 0,
        "{fn_name}: logits have shape {:?}, expected (N, V) with at least one class V ≥ 1",
        logits.dim()
    );
}

// ANCHOR: softmax
/// Row-wise softmax of `(N, V)` logits: each row becomes a probability distribution over V classes.
///
/// (3.1) `p_v = exp(z_v - m) / Σ_u exp(z_u - m)` with `m = max_u z_u`. Subtracting the row maximum does not
/// change the result (it cancels between numerator and denominator) but keeps every exponent ≤ 0, so logits
/// of ±1000 give exact probabilities instead of `inf / inf = NaN`.
///
/// ```
/// use ndarray::array;
/// let p = rnn::loss::softmax(array![[1000.0, 0.0, -1000.0], [1.0, 1.0, 1.0]].view());
/// assert_eq!(p[[0, 0]], 1.0);
/// assert!((p[[1, 2]] - 1.0 / 3.0).abs() < 1e-15);
/// assert!(p.iter().all(|v| v.is_finite()));
/// ```
///
/// # Panics
/// If the logits have no columns (V = 0).
pub fn softmax(logits: ArrayView2<'_, f64>) -> Array2<f64> {
    assert_has_classes("softmax", &logits);
    let mut p = logits.to_owned(); // (N, V)
    for mut row in p.rows_mut() {
        let m = row.fold(f64::NEG_INFINITY, |a, &b| a.max(b));
        row.mapv_inplace(|z| exp(z - m));
        let s = row.sum();
        row.mapv_inplace(|e| e / s);
    }
    p
}
// ANCHOR_END: softmax

/// Row-wise log-softmax of `(N, V)` logits: `log p_v` computed directly, never as `ln(softmax)`.
///
/// (3.2) `log p_v = z_v - m - ln Σ_u exp(z_u - m)`. Unlike `softmax(z).ln()`, this stays finite for very
/// unlikely classes: the log-probability of a class 2000 nats below the best is -2000, not `ln 0 = -inf`.
///
/// ```
/// use ndarray::array;
/// let lp = rnn::loss::log_softmax(array![[1000.0, -1000.0]].view());
/// assert_eq!(lp[[0, 0]], 0.0);
/// assert_eq!(lp[[0, 1]], -2000.0);
/// ```
///
/// # Panics
/// If the logits have no columns (V = 0).
pub fn log_softmax(logits: ArrayView2<'_, f64>) -> Array2<f64> {
    assert_has_classes("log_softmax", &logits);
    let mut lp = logits.to_owned(); // (N, V)
    for mut row in lp.rows_mut() {
        let (m, tail) = log_sum_exp_parts(row.iter());
        row.mapv_inplace(|z| (z - m) - tail);
    }
    lp
}

// ANCHOR: softmax_cross_entropy
/// Softmax cross-entropy of `(N, V)` logits against integer targets: the loss of next-token prediction.
///
/// Returns `(L, ∂L/∂logits)`, with the gradient of shape `(N, V)`.
///
/// **The loss.** Row n holds the logits z_n of one position; its target is the class y_n. With
/// p_n = softmax(z_n) (3.1), the position's loss is the negative log-likelihood of the right class,
/// (3.3) `ℓ_n = -log p_n[y_n] = ln Σ_u exp(z_nu) - z_n[y_n]`, and the batch loss is the mean over the
/// positions that count, (3.4) `L = Σ_n m_n ℓ_n / Σ_n m_n`. Without a mask every m_n = 1 and L is the plain
/// mean over N rows. With a 0/1 mask (padding at the end of shorter sequences) this is PyTorch's
/// `cross_entropy(reduction="mean")` with `ignore_index` marking the zeros; other non-negative weights give a
/// weighted mean. The loss is therefore in *nats per token*, whatever the batch size or padding.
///
/// **The gradient.** Differentiate ℓ_n with respect to one logit z_nv:
/// `∂/∂z_nv ln Σ_u exp(z_nu) = exp(z_nv) / Σ_u exp(z_nu) = p_nv`, and `∂z_n[y_n]/∂z_nv = [v = y_n]`, so
/// `∂ℓ_n/∂z_n = p_n - onehot(y_n)`: "predicted minus true", the same simple form as for logistic regression.
/// Scaling by the mask and the mean's denominator gives (3.5) `∂L/∂z_n = m_n (p_n - onehot(y_n)) / Σ_n m_n`.
/// Each row of the gradient sums to zero, and masked rows get exactly zero.
///
/// If no position counts (Σ m = 0, or N = 0) the loss is defined here as 0 with a zero gradient (PyTorch
/// returns NaN): an all-padding batch contributes nothing rather than poisoning training.
///
/// ```
/// use ndarray::array;
/// use rnn::loss::softmax_cross_entropy;
///
/// // Uniform logits over V = 4 classes: every class has p = 1/4, so the loss is ln 4.
/// let (loss, dlogits) = softmax_cross_entropy(array![[0.0, 0.0, 0.0, 0.0]].view(), &[2], None);
/// assert!((loss - 4f64.ln()).abs() < 1e-15);
/// // ∂L/∂z = p - onehot(2) = [1/4, 1/4, -3/4, 1/4]
/// assert!((dlogits[[0, 2]] + 0.75).abs() < 1e-15 && (dlogits[[0, 0]] - 0.25).abs() < 1e-15);
///
/// // A mask leaves out the second position (padding): the loss is the first position's alone.
/// let logits = array![[2.0, 0.0], [0.0, 5.0]];
/// let (masked, d) = softmax_cross_entropy(logits.view(), &[0, 0], Some(&[1.0, 0.0]));
/// let (first, _) = softmax_cross_entropy(logits.slice(ndarray::s![0..1, ..]), &[0], None);
/// assert_eq!(masked, first);
/// assert_eq!(d.row(1).to_vec(), vec![0.0, 0.0]);
/// ```
///
/// # Panics
/// If `targets` (or `mask`) does not have one entry per row of `logits`, if a target is not a valid class
/// (`≥ V`), if V = 0, or if a mask entry is negative or not finite.
pub fn softmax_cross_entropy(
    logits: ArrayView2<'_, f64>,
    targets: &[usize],
    mask: Option<&[f64]>,
) -> (f64, Array2<f64>) {
    let (n, v) = logits.dim();
    assert_has_classes("softmax_cross_entropy", &logits);
    assert_eq!(
        targets.len(),
        n,
        "softmax_cross_entropy: logits have shape {:?} = (N, V), so N = {n} targets were expected, got {}",
        (n, v),
        targets.len()
    );
    if let Some(&bad) = targets.iter().find(|&&y| y >= v) {
        panic!(
            "softmax_cross_entropy: target class {bad} is out of range for logits of shape {:?} \
             (V = {v} classes, so targets must be < {v})",
            (n, v)
        );
    }
    if let Some(m) = mask {
        assert_eq!(
            m.len(),
            n,
            "softmax_cross_entropy: mask has {} entries, expected one per row of logits {:?} (N = {n})",
            m.len(),
            (n, v)
        );
        assert!(
            m.iter().all(|w| w.is_finite() && *w >= 0.0),
            "softmax_cross_entropy: mask entries must be finite and ≥ 0 (1 = counts, 0 = ignored)"
        );
    }
    let weight = |i: usize| mask.map_or(1.0, |m| m[i]);

    // Σ_n m_n: the number of positions that count.                      scalar
    let total: f64 = (0..n).map(weight).sum();
    let mut dlogits = Array2::zeros((n, v)); // (N, V)
    if total == 0.0 {
        return (0.0, dlogits);
    }

    let mut loss = 0.0;
    for (i, (z, mut dz)) in logits
        .axis_iter(Axis(0))
        .zip(dlogits.axis_iter_mut(Axis(0)))
        .enumerate()
    {
        let m_i = weight(i);
        if m_i == 0.0 {
            continue; // an ignored position: no loss, zero gradient
        }
        let y = targets[i];
        // e_u = exp(z_u - m) for every class, written into dz; rest = Σ_{u≠k} e_u   (V), scalar
        let (m, rest) = exps_into(z, dz.view_mut());
        // (3.2) ln Σ_u exp(z_u) = m + ln(1 + rest), stably                     scalar
        let tail = rest.ln_1p();
        // (3.3) ℓ_n = -log p_n[y_n] = ln Σ_u exp(z_u) - z_y                   scalar
        loss += m_i * ((m - z[y]) + tail);
        // (3.1) p_n = e / Σ_u e_u = e / (1 + rest)                             (V)
        // (3.5) ∂L/∂z_n = m_n (p_n - onehot(y_n)) / Σ m                         (V)
        let scale = m_i / (total * (1.0 + rest));
        dz.mapv_inplace(|e| e * scale);
        dz[y] -= m_i / total;
    }
    // (3.4) L = Σ_n m_n ℓ_n / Σ_n m_n                                     scalar
    (loss / total, dlogits)
}
// ANCHOR_END: softmax_cross_entropy

/// Softmax cross-entropy over a whole time-major batch of sequences: logits `(T, B, V)`, targets `(T, B)`,
/// an optional mask `(T, B)`.
///
/// The `T·B` positions are flattened into rows and passed to [`softmax_cross_entropy`], so the loss is the
/// mean over every (unmasked) position of every sequence (nats per token) and the gradient `(T, B, V)` is
/// (3.5) at each position. This is what a character-level language model trains on: the output at step t
/// predicts the input at step t + 1.
///
/// ```
/// use ndarray::{Array2, Array3};
/// use rnn::loss::sequence_cross_entropy;
///
/// let logits = Array3::<f64>::zeros((5, 2, 3)); // (T, B, V), uniform predictions
/// let targets = Array2::<usize>::zeros((5, 2)); // (T, B)
/// let (loss, dlogits) = sequence_cross_entropy(logits.view(), targets.view(), None);
/// assert!((loss - 3f64.ln()).abs() < 1e-15);
/// assert_eq!(dlogits.dim(), (5, 2, 3));
/// ```
///
/// # Panics
/// If `targets` or `mask` is not `(T, B)`, or for any reason [`softmax_cross_entropy`] panics.
pub fn sequence_cross_entropy(
    logits: ArrayView3<'_, f64>,
    targets: ArrayView2<'_, usize>,
    mask: Option<ArrayView2<'_, f64>>,
) -> (f64, Array3<f64>) {
    let (t, b, v) = logits.dim();
    assert_eq!(
        targets.dim(),
        (t, b),
        "sequence_cross_entropy: logits have shape {:?} = (T, B, V), so targets must be (T, B) = {:?}, \
         got {:?}",
        (t, b, v),
        (t, b),
        targets.dim()
    );
    if let Some(m) = &mask {
        assert_eq!(
            m.dim(),
            (t, b),
            "sequence_cross_entropy: logits have shape {:?} = (T, B, V), so the mask must be (T, B) = {:?}, \
             got {:?}",
            (t, b, v),
            (t, b),
            m.dim()
        );
    }
    // (T, B, V) -> (T·B, V): row t·B + b is position (t, b); iteration order matches below.
    let flat = logits
        .as_standard_layout()
        .into_owned()
        .into_shape_with_order((t * b, v))
        .expect("a standard-layout array reshapes");
    let ys: Vec<usize> = targets.iter().copied().collect(); // (T·B), row-major
    let ms: Option<Vec<f64>> = mask.map(|m| m.iter().copied().collect());
    let (loss, d) = softmax_cross_entropy(flat.view(), &ys, ms.as_deref());
    let d = d
        .into_shape_with_order((t, b, v))
        .expect("(T·B, V) reshapes back to (T, B, V)"); // (T, B, V)
    (loss, d)
}

// ANCHOR: mse
/// Mean squared error between a prediction and a target of the same shape, and its gradient.
///
/// (3.6) `L = Σ_i (p_i - t_i)² / N` over all N elements (PyTorch's `mse_loss` with `reduction="mean"`), and
/// (3.7) `∂L/∂p_i = 2 (p_i - t_i) / N`. Works for any dimensionality (`(B, 1)` regression targets, `(T, B, D)`
/// sequences, ...); the gradient has the prediction's shape.
///
/// ```
/// use ndarray::array;
/// let (loss, grad) = rnn::loss::mse(array![1.0, 2.0].view(), array![0.0, 4.0].view());
/// assert_eq!(loss, (1.0 + 4.0) / 2.0);
/// assert_eq!(grad, array![1.0, -2.0]); // 2 (p - t) / N
/// ```
///
/// # Panics
/// If the shapes differ or the arrays are empty.
pub fn mse<D: Dimension>(
    pred: ArrayView<'_, f64, D>,
    target: ArrayView<'_, f64, D>,
) -> (f64, Array<f64, D>) {
    assert_eq!(
        pred.shape(),
        target.shape(),
        "mse: prediction has shape {:?} but target has shape {:?}; they must match",
        pred.shape(),
        target.shape()
    );
    assert!(
        !pred.is_empty(),
        "mse: empty arrays (shape {:?}) have no mean",
        pred.shape()
    );
    let n = pred.len() as f64;
    // p - t, same shape as pred
    let diff = &pred - &target;
    // (3.6) L = Σ (p - t)² / N
    let loss = diff.iter().map(|d| d * d).sum::<f64>() / n;
    // (3.7) ∂L/∂p = 2 (p - t) / N
    let grad = diff.mapv(|d| 2.0 * d / n);
    (loss, grad)
}
// ANCHOR_END: mse

/// Perplexity from a cross-entropy in nats per token: (3.8) `PPL = exp(L)`.
///
/// Perplexity is the effective number of equally likely choices the model is hesitating between at each
/// step: a model that spreads its probability uniformly over V symbols has loss ln V and perplexity V; a
/// perfect model has perplexity 1. Pass the *mean* loss per token, as [`softmax_cross_entropy`] returns it.
///
/// ```
/// let v = 65.0; // Tiny Shakespeare has 65 distinct characters
/// assert!((rnn::loss::perplexity(f64::ln(v)) - v).abs() < 1e-9);
/// assert_eq!(rnn::loss::perplexity(0.0), 1.0);
/// ```
pub fn perplexity(nats_per_token: f64) -> f64 {
    nats_per_token.exp()
}

/// Bits per character from a cross-entropy in nats per character: (3.9) `BPC = L / ln 2`.
///
/// The same quantity as the loss, measured with base-2 logarithms: the average number of bits an ideal
/// compressor driven by the model would spend per character. Character-level language-modelling papers
/// report this (good models of English text reach about 1.2 to 1.5 bpc); `2^BPC` is the perplexity.
///
/// ```
/// assert!((rnn::loss::bits_per_char(2f64.ln()) - 1.0).abs() < 1e-15); // a fair coin: 1 bit
/// let nats = 1.3;
/// let bpc = rnn::loss::bits_per_char(nats);
/// assert!((2f64.powf(bpc) - rnn::loss::perplexity(nats)).abs() < 1e-12);
/// ```
pub fn bits_per_char(nats: f64) -> f64 {
    nats / std::f64::consts::LN_2
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn softmax_rows_sum_to_one_and_match_log_softmax() {
        let z = array![[0.3, -1.2, 2.0, 0.0], [1e3, 999.0, -1e3, 0.5]];
        let p = softmax(z.view());
        let lp = log_softmax(z.view());
        for (pr, lr) in p.rows().into_iter().zip(lp.rows()) {
            assert!((pr.sum() - 1.0).abs() < 1e-15);
            for (a, b) in pr.iter().zip(lr.iter()) {
                assert!((a - b.exp()).abs() < 1e-15, "{a} vs exp({b})");
            }
        }
    }

    #[test]
    fn log_sum_exp_keeps_the_tiny_tail() {
        // ℓ = ln(e^40 + e^0) - 40 = ln(1 + e^-40) ≈ e^-40; computing 40 + ln(1 + e^-40) first and then
        // subtracting 40 would round it to 0.
        let (loss, _) = softmax_cross_entropy(array![[40.0, 0.0]].view(), &[0], None);
        let want = (-40f64).exp();
        assert!((loss - want).abs() / want < 1e-12, "{loss:e} vs {want:e}");
    }

    #[test]
    fn all_masked_gives_zero() {
        let (l, d) = softmax_cross_entropy(
            array![[1.0, 2.0], [3.0, 4.0]].view(),
            &[0, 1],
            Some(&[0.0, 0.0]),
        );
        assert_eq!(l, 0.0);
        assert!(d.iter().all(|&v| v == 0.0));
    }
}
