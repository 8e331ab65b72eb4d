//! Activation functions and their derivatives.
//!
//! Each derivative is written *in terms of the function's output*, which is what a backward pass has in its
//! cache: for `y = tanh(a)`, `dy/da = 1 - y²`; for `y = σ(a)`, `dy/da = y (1 - y)`.

use ndarray::{Array, Dimension};

/// The logistic sigmoid σ(a) = 1 / (1 + e^(-a)), computed without overflow for large |a|.
///
/// ```
/// assert_eq!(rnn::activation::sigmoid(0.0), 0.5);
/// assert!(rnn::activation::sigmoid(-800.0) >= 0.0); // no NaN, no overflow
/// ```
pub fn sigmoid(a: f64) -> f64 {
    // e^{-|a|} ≤ 1 never overflows; σ(a) = 1/(1 + e^{-a}) for a ≥ 0 and e^{a}/(1 + e^{a}) below
    let e = exp(-a.abs());
    if a >= 0.0 {
        1.0 / (1.0 + e)
    } else {
        e / (1.0 + e)
    }
}

/// e^x, accurate to about one unit in the last place (the tests compare it with `f64::exp`), written without
/// branches or calls so that a loop over it compiles to vector instructions: the standard library's `exp`
/// is a call into the C library, one element at a time.
///
/// Range reduction: x = k ln 2 + r with k = round(x / ln 2) and |r| ≤ ln 2 / 2 (ln 2 split in two parts,
/// so that k ln 2 is exact); e^r by its Taylor series to degree 13 (truncation below 1e-17 relative);
/// then e^x = e^r · 2^k, applied as two powers of two so that results near overflow and subnormal results
/// come out right. Overflows to +∞ above 709.78, underflows to 0 below -745.1, NaN stays NaN.
///
/// ```
/// use rnn::activation::exp;
/// assert_eq!(exp(0.0), 1.0);
/// assert!((exp(1.0) - std::f64::consts::E).abs() < 1e-15);
/// assert_eq!(exp(1000.0), f64::INFINITY);
/// assert_eq!(exp(-1000.0), 0.0);
/// ```
#[inline(always)]
pub fn exp(x: f64) -> f64 {
    // ln 2 = LN2_HI + LN2_LO, LN2_HI with its low 32 bits zero so that k · LN2_HI is exact (|k| < 2^11)
    const LN2_HI: f64 = 6.931_471_803_691_238e-1; // bits 0x3fe62e42fee00000
    const LN2_LO: f64 = 1.908_214_929_270_587_7e-10; // bits 0x3dea39ef35793c76
                                                     // clamp so that k stays in [-1076, 1024]; beyond, the result is 0 or +∞ anyway (NaN passes through)
    let x = x.clamp(-746.0, 710.0);
    let k = (x * std::f64::consts::LOG2_E).round();
    let r = (x - k * LN2_HI) - k * LN2_LO;
    // e^r = 1 + r (1 + r/2 (1 + r/3 (... (1 + r/13))))
    let mut p = 1.0;
    for n in (1..=13).rev() {
        p = 1.0 + p * r * INV[n];
    }
    // 2^k as 2^{k1} · 2^{k2}, both in the range of normal numbers
    let k1 = (k * 0.5).floor();
    p * pow2(k1) * pow2(k - k1)
}

/// 1/n for the Taylor series of [`exp`] (index 0 unused).
const INV: [f64; 14] = [
    0.0,
    1.0,
    1.0 / 2.0,
    1.0 / 3.0,
    1.0 / 4.0,
    1.0 / 5.0,
    1.0 / 6.0,
    1.0 / 7.0,
    1.0 / 8.0,
    1.0 / 9.0,
    1.0 / 10.0,
    1.0 / 11.0,
    1.0 / 12.0,
    1.0 / 13.0,
];

/// 2^k for an integer-valued k in [-1022, 1023], built from its exponent bits.
#[inline(always)]
fn pow2(k: f64) -> f64 {
    f64::from_bits(((k as i64 + 1023) as u64) << 52)
}

/// σ applied element-wise.
pub fn sigmoid_arr<D: Dimension>(a: &Array<f64, D>) -> Array<f64, D> {
    let mut y = a.clone();
    y.mapv_inplace(sigmoid);
    y
}

/// tanh(a), accurate to a few units in the last place and several times as fast as `f64::tanh` (a call
/// to the C library's `expm1`-based tanh): one [`exp`] for |a| ≥ 0.625, a rational function below.
///
/// - |a| < 0.625: tanh a = a + a³ P(a²)/Q(a²), the odd rational approximation of the Cephes library
///   (Moshier): about 5e-16 relative error there (measured against 40-digit tanh);
/// - |a| ≥ 0.625: tanh |a| = (1 − e^{−2|a|})/(1 + e^{−2|a|}), with the sign of a (exactly ±1 once
///   e^{−2|a|} underflows).
///
/// The tests compare it with `f64::tanh` over the whole range.
///
/// ```
/// use rnn::activation::tanh;
/// assert_eq!(tanh(0.0), 0.0);
/// assert_eq!(tanh(800.0), 1.0);
/// assert!((tanh(0.5) - 0.5f64.tanh()).abs() < 1e-15);
/// ```
#[inline(always)]
pub fn tanh(a: f64) -> f64 {
    let m = a.abs();
    // both branches are computed and one is selected, which lets a loop over tanh use vector instructions
    let s = a * a;
    let p =
        (-9.643_991_794_250_523e-1 * s - 9.928_772_310_019_186e1) * s - 1.614_687_684_417_079_5e3;
    let q = ((s + 1.128_116_784_916_329_3e2) * s + 2.235_488_390_601_004_6e3) * s
        + 4.844_063_053_251_255e3;
    let small = a + a * s * (p / q);
    let t = exp(-2.0 * m); // in (0, e^{-1.25}] where it is used: no overflow, no cancellation
    let large = ((1.0 - t) / (1.0 + t)).copysign(a);
    let y = if m < 0.625 { small } else { large };
    if a == 0.0 {
        a // keeps the sign of -0
    } else {
        y
    }
}

/// tanh applied element-wise (with [`tanh`]).
pub fn tanh_arr<D: Dimension>(a: &Array<f64, D>) -> Array<f64, D> {
    let mut y = a.clone();
    y.mapv_inplace(tanh); // a plain loop over memory, which the compiler vectorises
    y
}

/// ReLU applied element-wise: max(0, a).
pub fn relu_arr<D: Dimension>(a: &Array<f64, D>) -> Array<f64, D> {
    a.mapv(|v| v.max(0.0))
}

/// dσ/da from the output y = σ(a): y (1 - y).
pub fn dsigmoid_from_output<D: Dimension>(y: &Array<f64, D>) -> Array<f64, D> {
    y.mapv(|v| v * (1.0 - v))
}

/// dtanh/da from the output y = tanh(a): 1 - y².
pub fn dtanh_from_output<D: Dimension>(y: &Array<f64, D>) -> Array<f64, D> {
    y.mapv(|v| 1.0 - v * v)
}

/// dReLU/da from the output y = max(0, a): 1 where y > 0, else 0.
pub fn drelu_from_output<D: Dimension>(y: &Array<f64, D>) -> Array<f64, D> {
    y.mapv(|v| if v > 0.0 { 1.0 } else { 0.0 })
}

/// The non-linearity of an Elman cell, as in `torch.nn.RNN(nonlinearity=...)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Nonlinearity {
    /// Hyperbolic tangent (the default).
    Tanh,
    /// Rectified linear unit (used with identity initialisation in IRNNs).
    Relu,
}

impl Nonlinearity {
    /// Applies the function element-wise.
    pub fn apply<D: Dimension>(self, a: &Array<f64, D>) -> Array<f64, D> {
        match self {
            Nonlinearity::Tanh => tanh_arr(a),
            Nonlinearity::Relu => relu_arr(a),
        }
    }

    /// The derivative, from the function's output.
    pub fn derivative_from_output<D: Dimension>(self, y: &Array<f64, D>) -> Array<f64, D> {
        match self {
            Nonlinearity::Tanh => dtanh_from_output(y),
            Nonlinearity::Relu => drelu_from_output(y),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn exp_matches_the_standard_library() {
        let mut worst: (f64, f64) = (0.0, 0.0);
        let mut check = |x: f64| {
            let (ours, std) = (exp(x), x.exp());
            let rel = (ours - std).abs() / std.max(f64::MIN_POSITIVE);
            if std >= f64::MIN_POSITIVE && rel > worst.0 {
                worst = (rel, x);
            }
        };
        for i in 0..1_000_000 {
            check(-708.0 + 1417.7 * (i as f64 / 1e6)); // the whole normal range
            check(-2.0 + 4.0 * (i as f64 / 1e6) * (1.0 + 1e-9)); // where activations live
        }
        // two units in the last place at most (one ulp is 1.1e-16 to 2.2e-16 relative)
        assert!(
            worst.0 < 4.5e-16,
            "exp: worst relative error {:e} at {}",
            worst.0,
            worst.1
        );
        assert_eq!(exp(0.0), 1.0);
        assert!((exp(709.0) / 709f64.exp() - 1.0).abs() < 4.5e-16); // near the top
        assert!(exp(709.0).is_finite() && exp(709.79).is_infinite());
        assert_eq!(exp(f64::INFINITY), f64::INFINITY);
        assert_eq!(exp(f64::NEG_INFINITY), 0.0);
        assert!(exp(f64::NAN).is_nan());
        // subnormal results: close to the standard library's in absolute terms
        for x in [-710.0, -720.0, -740.0, -745.0] {
            assert!((exp(x) - x.exp()).abs() <= 2.0 * 4.9e-324, "exp({x})");
        }
    }

    #[test]
    fn tanh_matches_the_standard_library() {
        // relative error against f64::tanh over a dense grid of |a| up to 40, both signs
        let (mut worst, mut at): (f64, f64) = (0.0, 0.0);
        for i in 0..400_000 {
            let m = i as f64 * 1e-4 * (1.0 + 1e-7 * i as f64); // irregular spacing
            for a in [m, -m] {
                let (ours, std) = (tanh(a), a.tanh());
                assert_eq!(ours.signum(), std.signum(), "sign of tanh({a})");
                let rel = (ours - std).abs() / std.abs().max(f64::MIN_POSITIVE);
                if rel > worst {
                    (worst, at) = (rel, a);
                }
            }
        }
        // a few units in the last place (one ulp is 1.1e-16 to 2.2e-16 relative)
        assert!(
            worst < 1e-15,
            "tanh: worst relative error {worst:e} against f64::tanh, at {at}"
        );
        assert_eq!(tanh(1e-300), 1e-300);
        assert_eq!(tanh(f64::INFINITY), 1.0);
        assert_eq!(tanh(f64::NEG_INFINITY), -1.0);
        assert!(tanh(f64::NAN).is_nan());
        assert!(tanh(-0.0).is_sign_negative());
    }

    #[test]
    fn sigmoid_is_stable_and_symmetric() {
        for a in [-1000.0, -30.0, -1.0, 0.0, 0.5, 30.0, 1000.0] {
            let s = sigmoid(a);
            assert!(s.is_finite() && (0.0..=1.0).contains(&s));
            assert!((s + sigmoid(-a) - 1.0).abs() < 1e-15);
        }
    }

    #[test]
    fn derivatives_match_finite_differences() {
        let h = 1e-5;
        for a in [-2.0, -0.3, 0.1, 1.7] {
            let x = array![a];
            let fd = |f: &dyn Fn(&ndarray::Array1<f64>) -> ndarray::Array1<f64>| {
                (f(&array![a + h])[0] - f(&array![a - h])[0]) / (2.0 * h)
            };
            let ds = dsigmoid_from_output(&sigmoid_arr(&x))[0];
            assert!((ds - fd(&|v| sigmoid_arr(v))).abs() < 1e-9);
            let dt = dtanh_from_output(&tanh_arr(&x))[0];
            assert!((dt - fd(&|v| tanh_arr(v))).abs() < 1e-9);
            let dr = drelu_from_output(&relu_arr(&x))[0];
            assert!((dr - fd(&|v| relu_arr(v))).abs() < 1e-9);
        }
    }
}
