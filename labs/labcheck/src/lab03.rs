//! Lab 3: softmax and softmax cross-entropy, forward and backward, numerically stable. Expected answers come
//! from `rnn::loss`.

use ndarray::{Array2, array};

use crate::rand2;
use crate::reference;
use crate::report::{EXACT, Mistake, check, check_scalar, check_shape, fail, run};

const LAB: &str = "lab 3 · softmax cross-entropy";

const OVERFLOW: &str = "softmax overflow";
const OVERFLOW_FIX: &str = "exp(1000) is infinity in f64, and ∞/∞ is NaN. Softmax does not change if you subtract \
     the same number from every logit of a row: subtract the row's maximum before exp.";
const UNDERFLOW: &str = "log of an underflowed probability";
const UNDERFLOW_FIX: &str = "p = exp(-1000) rounds to 0 and -ln 0 = ∞. Compute -ln p_y directly as \
     log-sum-exp(z) - z_y, with log-sum-exp(z) = m + ln Σ exp(z - m), m = max z.";

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
        if got.iter().any(|v| !v.is_finite()) {
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
            &[],
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
        let big = z.iter().any(|v| v.abs() >= 500.0);
        if !loss.is_finite() || dz.iter().any(|v| !v.is_finite()) {
            let (name, fix) = if !big {
                (
                    "NaN or infinity",
                    "check for a division by zero or a log of 0.",
                )
            } else if dz.iter().all(|v| v.is_finite()) {
                (UNDERFLOW, UNDERFLOW_FIX)
            } else {
                (OVERFLOW, OVERFLOW_FIX)
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
            &[(
                "summing instead of averaging",
                "The loss is the mean over the N rows: divide the sum of -ln p_y by N.",
                want_loss * n,
            )],
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
    let (_, dz) = run(LAB, || ce(&z, &y));
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
