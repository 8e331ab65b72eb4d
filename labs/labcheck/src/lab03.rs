//! Lab 3: softmax and softmax cross-entropy, forward and backward, numerically stable. Expected answers come
//! from `rnn::loss`.

use ndarray::{Array2, Axis, array};

use crate::rand2;
use crate::reference;
use crate::report::{EXACT, Mistake, check, check_scalar, check_shape, fail, run};

const LAB: &str = "lab 3 · softmax cross-entropy";

const OVERFLOW: &str = "softmax overflow";
const OVERFLOW_FIX: &str = "exp(1000) is infinity in f64, and ∞/∞ is NaN. Softmax does not change if you subtract \
     the same number from every logit of a row: subtract the row's maximum before exp.";
const LSE_OVERFLOW: &str = "an overflowed log-sum-exp";
const LSE_OVERFLOW_FIX: &str = "ln Σ exp(z) overflows: exp(1000) is infinity in f64, so the loss is infinite \
     although every probability is fine. Subtract the row's maximum m first: log-sum-exp(z) = m + ln Σ exp(z - m).";
const UNDERFLOW: &str = "log of an underflowed probability";
const UNDERFLOW_FIX: &str = "p = exp(-1000) rounds to 0 and -ln 0 = ∞. Compute -ln p_y directly as \
     log-sum-exp(z) - z_y, with log-sum-exp(z) = m + ln Σ exp(z - m), m = max z.";

/// Softmax without subtracting the maximum: what the overflow mistake computes.
fn naive_softmax(z: &Array2<f64>) -> Array2<f64> {
    let e = z.mapv(f64::exp);
    let sums = e.sum_axis(Axis(1)).insert_axis(Axis(1));
    &e / &sums
}

/// Softmax normalised down the columns (Axis(0)) instead of along the rows.
fn column_softmax(z: &Array2<f64>) -> Array2<f64> {
    reference::softmax(&z.t().to_owned()).t().to_owned()
}

/// Checks the learner's row-wise `softmax(z (N, V)) -> p (N, V)`, including logits around ±1000.
#[track_caller]
pub fn check_softmax(softmax: impl Fn(&Array2<f64>) -> Array2<f64>) {
    let mut rng = rnn::init::rng(3);
    let cases = [
        rand2(3, 5, 2.0, &mut rng),
        array![[0.0, 0.0, 0.0]],
        array![[1000.0, 999.0, -1000.0], [-1000.0, -1001.0, -999.0]],
    ];
    for z in cases {
        let got = run(LAB, || softmax(&z));
        check_shape(LAB, "softmax(z)", got.shape(), z.shape(), "(N, V)");
        let want = rnn::loss::softmax(z.view());
        if got.iter().any(|v| !v.is_finite()) && naive_softmax(&z).iter().any(|v| !v.is_finite()) {
            fail(
                LAB,
                format!(
                    "softmax of logits\n{z}\ngave NaN or infinity:\n{got}\n  Likely mistake: {OVERFLOW}.\n  {OVERFLOW_FIX}"
                ),
            );
        }
        check(
            LAB,
            "softmax(z)",
            got.view().into_dyn(),
            want.view().into_dyn(),
            EXACT,
            &[Mistake::new(
                "normalising over the wrong axis",
                "Each *row* is one distribution over the V classes: take the max and the sum along Axis(1) \
                 (`sum_axis(Axis(1))`, then `.insert_axis(Axis(1))` to broadcast), not along Axis(0).",
                column_softmax(&z).into_dyn(),
            )],
            "p_i = exp(z_i - m) / Σ_j exp(z_j - m) for each row, with m the row's maximum; each row sums to 1.",
        );
    }
}

/// Checks the learner's `cross_entropy(z (N, V), targets) -> (mean loss, dL/dz (N, V))`.
#[track_caller]
pub fn check_cross_entropy(ce: impl Fn(&Array2<f64>, &[usize]) -> (f64, Array2<f64>)) {
    let mut rng = rnn::init::rng(33);
    let cases: Vec<(Array2<f64>, Vec<usize>)> = vec![
        (rand2(4, 6, 2.0, &mut rng), vec![0, 5, 2, 2]),
        (array![[0.0, 0.0, 0.0, 0.0]], vec![2]),
        (rand2(2, 3, 1.0, &mut rng), vec![1, 0]),
        (
            array![[1000.0, 0.0, -5.0], [3.0, 1000.0, 999.0]],
            vec![0, 2],
        ),
        (array![[0.0, -1000.0], [500.0, 0.0]], vec![1, 1]),
    ];
    for (z, y) in cases {
        let n = z.nrows() as f64;
        let (loss, dz) = run(LAB, || ce(&z, &y));
        let (want_loss, want_dz) = rnn::loss::softmax_cross_entropy(z.view(), &y, None);
        if !loss.is_finite() || dz.iter().any(|v| !v.is_finite()) {
            // Name only the mistake whose answer this is: the loss (or gradient) it gives on these logits
            // must be non-finite in the same way as the learner's.
            let same = |a: f64, b: f64| (a.is_nan() && b.is_nan()) || a == b;
            let naive = naive_softmax(&z);
            let stable = reference::softmax(&z);
            let mean_neg_ln = |p: &Array2<f64>| {
                y.iter()
                    .enumerate()
                    .map(|(i, &t)| -p[[i, t]].ln())
                    .sum::<f64>()
                    / n
            };
            let lse_no_max = y
                .iter()
                .enumerate()
                .map(|(i, &t)| z.row(i).mapv(f64::exp).sum().ln() - z[[i, t]])
                .sum::<f64>()
                / n;
            let underflow = mean_neg_ln(&stable);
            let overflow = mean_neg_ln(&naive);
            let (name, fix) = if !loss.is_finite()
                && !underflow.is_finite()
                && same(loss, underflow)
            {
                (UNDERFLOW, UNDERFLOW_FIX)
            } else if !loss.is_finite() && !lse_no_max.is_finite() && same(loss, lse_no_max) {
                (LSE_OVERFLOW, LSE_OVERFLOW_FIX)
            } else if (!loss.is_finite() && !overflow.is_finite() && same(loss, overflow))
                || (dz.iter().any(|v| v.is_nan()) && naive.iter().any(|v| v.is_nan()))
            {
                (OVERFLOW, OVERFLOW_FIX)
            } else {
                (
                    "NaN or infinity",
                    "none of the usual overflows explains it: check for a division by zero or a log of 0.",
                )
            };
            fail(
                LAB,
                format!(
                    "for logits\n{z}\nand targets {y:?} your loss is {loss} (expected {want_loss:.6}) and dL/dz is\n{dz}\n  \
                     Likely mistake: {name}.\n  {fix}"
                ),
            );
        }
        let p = reference::softmax(&z);
        check_scalar(
            LAB,
            "loss",
            loss,
            want_loss,
            EXACT,
            &[
                (
                    "summing instead of averaging",
                    "The loss is the mean over the N rows: divide the sum of -ln p_y by N.",
                    want_loss * n,
                ),
                (
                    "a sign error in the loss",
                    "The loss is -ln p_y = log-sum-exp(z) - z_y ≥ 0, not z_y - log-sum-exp(z).",
                    -want_loss,
                ),
            ],
            "loss = mean over rows of -ln softmax(z)[y] = mean of (log-sum-exp(z) - z_y).",
        );
        let mut onehot = Array2::zeros(z.raw_dim());
        for (i, &t) in y.iter().enumerate() {
            onehot[[i, t]] = 1.0;
        }
        let mistakes = [
            Mistake::new(
                "forgetting to subtract the one-hot target",
                "∂L/∂z = (p - onehot(y)) / N: subtract 1 at the target class of each row.",
                (&p / n).into_dyn(),
            ),
            Mistake::new(
                "forgetting the 1/N of the mean",
                "The loss is a mean over N rows, so its gradient is (p - onehot(y)) / N.",
                (&p - &onehot).into_dyn(),
            ),
            Mistake::new(
                "normalising over the wrong axis",
                "Each *row* is one distribution over the V classes: the softmax's max and sum run along Axis(1).",
                ((column_softmax(&z) - &onehot) / n).into_dyn(),
            ),
            Mistake::new(
                "sign error",
                "∂L/∂z = (p - onehot(y)) / N: the target's entry is negative, the others positive.",
                ((&onehot - &p) / n).into_dyn(),
            ),
        ];
        check(
            LAB,
            "dL/dz",
            dz.view().into_dyn(),
            want_dz.view().into_dyn(),
            EXACT,
            &mistakes,
            "∂L/∂z = (softmax(z) - onehot(y)) / N, row by row.",
        );
    }
}

/// Checks the learner's gradient against central finite differences of the learner's own loss.
#[track_caller]
pub fn check_gradient_numerically(ce: impl Fn(&Array2<f64>, &[usize]) -> (f64, Array2<f64>)) {
    let mut rng = rnn::init::rng(34);
    let z = rand2(3, 4, 1.5, &mut rng);
    let y = [3, 0, 1];
    let (loss, dz) = run(LAB, || ce(&z, &y));
    let (want_loss, _) = rnn::loss::softmax_cross_entropy(z.view(), &y, None);
    if !(loss - want_loss)
        .abs()
        .le(&(EXACT.atol + EXACT.rtol * want_loss.abs()))
    {
        fail(
            LAB,
            format!(
                "your loss is {loss:.10} where it should be {want_loss:.10}, so comparing your gradient with finite \
                 differences of your loss says nothing yet.\n  Fix the loss first (the cross-entropy test says \
                 what is wrong with it)."
            ),
        );
    }
    let numeric = rnn::gradcheck::numeric_gradient(&z.clone().into_dyn(), |zz| {
        ce(&zz.clone().into_dimensionality().unwrap(), &y).0
    });
    check(
        LAB,
        "dL/dz (vs finite differences of your loss)",
        dz.view().into_dyn(),
        numeric.view(),
        crate::report::NUMERIC,
        &[],
        "your loss and your gradient disagree: one of them is wrong. Check the forward first.",
    );
}
