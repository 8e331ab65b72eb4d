//! Seeded randomness and weight initialisers.
//!
//! All randomness in the library flows through [`Rng`], a ChaCha8 generator: the same seed gives the same
//! numbers on every platform and every run.

use ndarray::{Array2, ArrayD, IxDyn};
use rand::{Rng as _, SeedableRng};
use rand_distr::{Distribution, StandardNormal};

/// The library's random number generator: portable and reproducible.
pub type Rng = rand_chacha::ChaCha8Rng;

/// A generator seeded with `seed`.
///
/// ```
/// use rand::Rng as _;
/// let a: f64 = rnn::init::rng(7).random();
/// let b: f64 = rnn::init::rng(7).random();
/// assert_eq!(a, b);
/// ```
pub fn rng(seed: u64) -> Rng {
    Rng::seed_from_u64(seed)
}

/// A tensor of the given shape filled with samples from U(low, high).
pub fn uniform(shape: &[usize], low: f64, high: f64, rng: &mut Rng) -> ArrayD<f64> {
    ArrayD::from_shape_fn(IxDyn(shape), |_| rng.random_range(low..high))
}

/// A tensor of the given shape filled with samples from N(0, std²).
pub fn normal(shape: &[usize], std: f64, rng: &mut Rng) -> ArrayD<f64> {
    ArrayD::from_shape_fn(IxDyn(shape), |_| {
        let z: f64 = StandardNormal.sample(rng);
        std * z
    })
}

/// PyTorch's default for recurrent layers: every weight and bias from U(-1/√H, 1/√H).
pub fn pytorch_default(shape: &[usize], hidden_size: usize, rng: &mut Rng) -> ArrayD<f64> {
    let k = 1.0 / (hidden_size as f64).sqrt();
    uniform(shape, -k, k, rng)
}

/// Xavier/Glorot uniform for a `(fan_out, fan_in)` matrix: U(-a, a) with a = √(6 / (fan_in + fan_out)).
pub fn xavier_uniform(fan_out: usize, fan_in: usize, rng: &mut Rng) -> Array2<f64> {
    let a = (6.0 / (fan_in + fan_out) as f64).sqrt();
    Array2::from_shape_fn((fan_out, fan_in), |_| rng.random_range(-a..a))
}

/// A `(rows, cols)` matrix with orthonormal rows (if rows ≤ cols) or columns (if rows ≥ cols), scaled by
/// `gain` (Saxe et al. 2014), as `torch.nn.init.orthogonal_`.
///
/// Made by Gram-Schmidt (twice, for accuracy) on a Gaussian matrix, with column signs fixed so the result is
/// uniformly distributed over orthogonal matrices.
///
/// ```
/// let q = rnn::init::orthogonal(4, 4, 1.0, &mut rnn::init::rng(3));
/// let eye = q.dot(&q.t());
/// assert!((&eye - &ndarray::Array2::<f64>::eye(4)).iter().all(|v| v.abs() < 1e-12));
/// ```
pub fn orthogonal(rows: usize, cols: usize, gain: f64, rng: &mut Rng) -> Array2<f64> {
    let (n, m) = if rows >= cols {
        (rows, cols)
    } else {
        (cols, rows)
    };
    // Orthonormalise the m columns of an (n, m) Gaussian matrix, n ≥ m.
    let mut a = normal(&[n, m], 1.0, rng)
        .into_dimensionality::<ndarray::Ix2>()
        .expect("2-D");
    for j in 0..m {
        for _pass in 0..2 {
            for k in 0..j {
                let proj = a.column(k).dot(&a.column(j));
                let qk = a.column(k).to_owned();
                a.column_mut(j).scaled_add(-proj, &qk);
            }
        }
        let norm = a.column(j).dot(&a.column(j)).sqrt();
        a.column_mut(j).mapv_inplace(|v| v / norm);
    }
    let q = if rows >= cols { a } else { a.reversed_axes() };
    q * gain
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_numbers() {
        let a = uniform(&[3, 4], -1.0, 1.0, &mut rng(42));
        let b = uniform(&[3, 4], -1.0, 1.0, &mut rng(42));
        let c = uniform(&[3, 4], -1.0, 1.0, &mut rng(43));
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert!(a.iter().all(|v| (-1.0..1.0).contains(v)));
    }

    #[test]
    fn orthogonal_rectangular() {
        let q = orthogonal(6, 3, 2.0, &mut rng(0)); // orthogonal columns, norm 2
        let g = q.t().dot(&q);
        let want = Array2::<f64>::eye(3) * 4.0;
        assert!((&g - &want).iter().all(|v| v.abs() < 1e-12));
        let q = orthogonal(3, 6, 1.0, &mut rng(0)); // orthonormal rows
        let g = q.dot(&q.t());
        assert!((&g - &Array2::<f64>::eye(3))
            .iter()
            .all(|v| v.abs() < 1e-12));
    }

    #[test]
    fn xavier_bounds() {
        let w = xavier_uniform(10, 20, &mut rng(1));
        let a = (6.0f64 / 30.0).sqrt();
        assert!(w.iter().all(|v| v.abs() <= a));
        assert!(w.iter().any(|v| v.abs() > a / 2.0));
    }
}
