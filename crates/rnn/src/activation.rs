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
    if a >= 0.0 {
        1.0 / (1.0 + (-a).exp())
    } else {
        let e = a.exp();
        e / (1.0 + e)
    }
}

/// σ applied element-wise.
pub fn sigmoid_arr<D: Dimension>(a: &Array<f64, D>) -> Array<f64, D> {
    a.mapv(sigmoid)
}

/// tanh applied element-wise.
pub fn tanh_arr<D: Dimension>(a: &Array<f64, D>) -> Array<f64, D> {
    a.mapv(f64::tanh)
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
