//! Gradient clipping: by value and by global norm.

use crate::params::Parameters;

// ---------------------------------------------------------------------------------------------------------
// Gradient clipping
// ---------------------------------------------------------------------------------------------------------

/// The L2 norm of all gradients together, as if every tensor were flattened into one long vector:
///
/// ```text
/// (5.4)  ‖g‖ = √( Σ over tensors Σ over elements g² )
/// ```
///
/// ```
/// use rnn::prelude::*;
/// let mut grads = Elman::new(1, 1, &mut rnn::init::rng(0)).zeros_like();
/// grads.weight_ih[[0, 0]] = 3.0;
/// grads.bias_hh[0] = 4.0;
/// assert_eq!(rnn::optim::global_norm(&grads), 5.0);
/// ```
pub fn global_norm(grads: &dyn Parameters) -> f64 {
    let sum_of_squares: f64 = grads
        .params()
        .iter()
        .map(|(_, g)| g.iter().map(|x| x * x).sum::<f64>())
        .sum();
    sum_of_squares.sqrt()
}

/// Clamps every gradient element to `[-limit, limit]`, like char-rnn's `np.clip(g, -5, 5)` and
/// `torch.nn.utils.clip_grad_value_`:
///
/// ```text
/// (5.5)  g ← min(max(g, −limit), limit)
/// ```
/// Clipping by value changes the gradient's direction; [`clip_by_global_norm`] does not. NaN stays NaN.
///
/// # Panics
/// If `limit` is negative or NaN.
///
/// ```
/// use rnn::prelude::*;
/// let mut grads = Elman::new(1, 2, &mut rnn::init::rng(0)).zeros_like();
/// grads.bias_ih = ndarray::array![-7.0, 0.5];
/// rnn::optim::clip_by_value(&mut grads, 5.0);
/// assert_eq!(grads.bias_ih, ndarray::array![-5.0, 0.5]);
/// ```
// ANCHOR: clip_by_value
pub fn clip_by_value(grads: &mut dyn Parameters, limit: f64) {
    assert!(
        limit >= 0.0,
        "clip_by_value: the limit must be ≥ 0, got {limit}"
    );
    for (_, mut g) in grads.params_mut() {
        // (5.5) g ← min(max(g, −limit), limit)
        g.mapv_inplace(|x| x.clamp(-limit, limit));
    }
}
// ANCHOR_END: clip_by_value

/// Rescales all gradients together so that their global norm (5.4) is at most `max_norm`, as
/// `torch.nn.utils.clip_grad_norm_`, and returns the norm *before* clipping (worth logging: it is the
/// best early warning of exploding gradients).
///
/// ```text
/// (5.4)  c = max_norm / (‖g‖ + 1e-6)
/// (5.4)  g ← c · g      only if c < 1
/// ```
/// The direction of the gradient is kept. If the norm is infinite or NaN the gradients are left unchanged
/// and the non-finite norm is returned, so the caller can skip the step.
///
/// # Panics
/// If `max_norm` is negative or NaN.
///
/// ```
/// use rnn::prelude::*;
/// let mut grads = Elman::new(1, 2, &mut rnn::init::rng(0)).zeros_like();
/// grads.bias_ih = ndarray::array![3.0, 4.0];
/// let norm = rnn::optim::clip_by_global_norm(&mut grads, 1.0);
/// assert_eq!(norm, 5.0);
/// assert!((grads.bias_ih[0] - 0.6).abs() < 1e-6 && (grads.bias_ih[1] - 0.8).abs() < 1e-6);
/// ```
// ANCHOR: clip_by_global_norm
pub fn clip_by_global_norm(grads: &mut dyn Parameters, max_norm: f64) -> f64 {
    assert!(
        max_norm >= 0.0,
        "clip_by_global_norm: max_norm must be ≥ 0, got {max_norm}"
    );
    // (5.4) ‖g‖ over all tensors together
    let norm = global_norm(&*grads);
    // (5.4) c = max_norm / (‖g‖ + 1e-6)
    let coef = max_norm / (norm + 1e-6);
    // (5.4) g ← c · g, only if c < 1 (a non-finite norm makes c NaN or 0: leave g alone)
    if norm.is_finite() && coef < 1.0 {
        for (_, mut g) in grads.params_mut() {
            g.mapv_inplace(|x| x * coef);
        }
    }
    norm
}
// ANCHOR_END: clip_by_global_norm

/// [`clip_by_global_norm`] over several models' gradients at once (a cell and its output layer, say): one
/// norm (5.4) over every tensor of every model, and every tensor scaled by the same factor, as PyTorch's
/// `clip_grad_norm_` does for `list(cell.parameters()) + list(out.parameters())`. Clipping each model by
/// its own norm instead would change the direction of the whole update. Returns the norm before clipping.
///
/// ```
/// use rnn::prelude::*;
/// let mut cell = Elman::new(1, 1, &mut rnn::init::rng(0)).zeros_like();
/// let mut out = rnn::layers::Dense::new(1, 1, &mut rnn::init::rng(0)).zeros_like();
/// cell.bias_hh[0] = 3.0;
/// out.bias[0] = 4.0;
/// let norm = rnn::optim::clip_by_global_norm_all(&mut [&mut cell, &mut out], 1.0);
/// assert_eq!(norm, 5.0); // √(3² + 4²), over both models
/// assert!((cell.bias_hh[0] - 0.6).abs() < 1e-6 && (out.bias[0] - 0.8).abs() < 1e-6);
/// ```
pub fn clip_by_global_norm_all(grads: &mut [&mut dyn Parameters], max_norm: f64) -> f64 {
    assert!(
        max_norm >= 0.0,
        "clip_by_global_norm_all: max_norm must be ≥ 0, got {max_norm}"
    );
    // (5.4) ‖g‖ over all tensors of all models together
    let norm = grads
        .iter()
        .map(|g| global_norm(&**g).powi(2))
        .sum::<f64>()
        .sqrt();
    // (5.4) c = max_norm / (‖g‖ + 1e-6), applied only if c < 1
    let coef = max_norm / (norm + 1e-6);
    if norm.is_finite() && coef < 1.0 {
        for model in grads.iter_mut() {
            for (_, mut g) in model.params_mut() {
                g.mapv_inplace(|x| x * coef);
            }
        }
    }
    norm
}
