// Lab 6 · Gradient clipping and sampling with temperature (book chapters 5 and 3).
//
// Clipping by global norm (Pascanu et al. 2013; PyTorch's clip_grad_norm_): treat *all* gradient tensors as
// one long vector g. If its norm ‖g‖ exceeds max_norm, rescale every element by the same factor:
//
//     ‖g‖ = √(Σ_tensors Σ_elements g²),   g ← g · max_norm / (‖g‖ + 1e-6)   if that factor < 1     (5.4)
//
// It keeps the direction of the step and only shortens it. Return ‖g‖ *before* clipping.
//
// Clipping by value (PyTorch's clip_grad_value_) clamps each element on its own to [-clip, clip]. It can
// change the direction. They are different tools: don't mix them up.
//
// Sampling with temperature τ: p = softmax(z / τ)  (3.10). τ < 1 sharpens, τ > 1 flattens. Then draw an
// index from p with one uniform number u in [0, 1): the first i with u < p_0 + ... + p_i (inverse CDF).
//
// The tests compare with PyTorch's formulas and `rnn::sample`.
// This is a solution: compare it with yours once your tests pass.

use ndarray::ArrayD;

/// Clips all tensors together to a global norm of at most max_norm; returns the norm before clipping.
fn clip_by_global_norm(grads: &mut [ArrayD<f64>], max_norm: f64) -> f64 {
    // (5.4) one norm over every element of every tensor
    let total = grads
        .iter()
        .map(|g| g.iter().map(|v| v * v).sum::<f64>())
        .sum::<f64>()
        .sqrt();
    let coef = max_norm / (total + 1e-6);
    if coef < 1.0 {
        for g in grads.iter_mut() {
            g.mapv_inplace(|v| v * coef);
        }
    }
    total
}

/// Clamps every element of every tensor to [-clip, clip].
fn clip_by_value(grads: &mut [ArrayD<f64>], clip: f64) {
    for g in grads.iter_mut() {
        g.mapv_inplace(|v| v.clamp(-clip, clip));
    }
}

/// softmax(logits / temperature), computed stably.
fn temperature_probs(logits: &[f64], temperature: f64) -> Vec<f64> {
    let scaled: Vec<f64> = logits.iter().map(|z| z / temperature).collect();
    let m = scaled.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    // (3.10) p_i ∝ exp(z_i / τ - max)
    let e: Vec<f64> = scaled.iter().map(|s| (s - m).exp()).collect();
    let sum: f64 = e.iter().sum();
    e.iter().map(|v| v / sum).collect()
}

/// Inverse-CDF sampling: the first index i with u < p_0 + ... + p_i (the last index if rounding leaves u
/// above the total).
fn sample_index(probs: &[f64], u: f64) -> usize {
    let mut acc = 0.0;
    for (i, p) in probs.iter().enumerate() {
        acc += p;
        if u < acc {
            return i;
        }
    }
    probs.len() - 1
}

fn main() {
    let z = [2.0, 1.0, 0.1];
    for tau in [0.5, 1.0, 2.0] {
        println!("τ = {tau}: p = {:?}", temperature_probs(&z, tau));
    }
    let p = temperature_probs(&z, 1.0);
    println!(
        "u = 0.5 picks {}, u = 0.99 picks {}",
        sample_index(&p, 0.5),
        sample_index(&p, 0.99)
    );
    // Two tensors with global norm √(3² + 4²) = 5: clipping to 1 divides both by 5, keeping the direction.
    let mut by_norm = vec![
        ndarray::array![3.0].into_dyn(),
        ndarray::array![4.0].into_dyn(),
    ];
    let norm = clip_by_global_norm(&mut by_norm, 1.0);
    let mut by_value = vec![
        ndarray::array![3.0].into_dyn(),
        ndarray::array![4.0].into_dyn(),
    ];
    clip_by_value(&mut by_value, 1.0);
    println!("norm {norm}: by norm {by_norm:?}, by value {by_value:?}");
}

#[cfg(test)]
mod tests {
    use super::*;

    // One test that runs the checks in order, so the first failure reported is always the same one: a
    // later part (which often calls an earlier one) is checked only once the earlier parts are right.
    #[test]
    fn clipping_then_temperature_then_sampling() {
        labcheck::lab06::check_clip_by_global_norm(clip_by_global_norm);
        labcheck::lab06::check_clip_by_value(clip_by_value);
        labcheck::lab06::check_temperature(temperature_probs);
        labcheck::lab06::check_sample_index(sample_index);
    }
}
