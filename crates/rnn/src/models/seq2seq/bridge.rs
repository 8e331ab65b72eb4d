//! The state bridge from a bidirectional encoder to the decoder, forward and backward.
//!
//! Layer k of the encoder ends with two states, h→_n (the forward direction at the source's last real
//! step) and h←_1 (the reverse direction at t = 0). The decoder's layer k starts from
//!
//! ```text
//! (10.2) s_0^(k) = tanh(W_b^(k) [h→_n^(k) ; h←_1^(k)] + b_b^(k))     (and the same, with its own W, for an LSTM's c)
//! ```
//!
//! A unidirectional encoder needs no bridge: its final states are copied (see [`super::Seq2Seq::encode`]).

use ndarray::{concatenate, s, Array2, ArrayViewD, ArrayViewMutD, Axis};

use crate::cells::State;
use crate::init::Rng;
use crate::layers::Dense;
use crate::params::Parameters;

/// One `Dense` 2H → H per layer for h, and per layer for c (LSTM only); see the module documentation.
#[derive(Clone, Debug, PartialEq)]
pub struct Bridge {
    /// W_b, b_b for h, one per layer: `h_l{k}.weight (H, 2H)`, `h_l{k}.bias (H)`.
    pub h: Vec<Dense>,
    /// The same for the LSTM's cell state c: `c_l{k}.weight`, `c_l{k}.bias`.
    pub c: Option<Vec<Dense>>,
}

/// What [`Bridge::forward`] keeps: per layer, the input `[h→ ; h←]` and the output, for h and for c.
pub(crate) struct BridgeCache {
    h: Vec<(Array2<f64>, Array2<f64>)>,
    c: Option<Vec<(Array2<f64>, Array2<f64>)>>,
}

/// `tanh(W [a ; b] + bias)` for `(B, H)` halves: returns the input `(B, 2H)` and the output `(B, H)`.
fn map(d: &Dense, fwd: &Array2<f64>, rev: &Array2<f64>) -> (Array2<f64>, Array2<f64>) {
    let x = concatenate![Axis(1), *fwd, *rev]; // (B, 2H)
                                               // (10.2) s_0 = tanh(W_b [h→ ; h←] + b_b)                                   (B, H)
    let y = d.forward(x.view()).mapv(f64::tanh);
    (x, y)
}

/// Backward of [`map`]: returns ∂L/∂[h→ ; h←] `(B, 2H)`.
fn map_back(
    d: &Dense,
    x: &Array2<f64>,
    y: &Array2<f64>,
    dy: &Array2<f64>,
    g: &mut Dense,
) -> Array2<f64> {
    // (10.6) ∂L/∂a = (1 - s_0²) ⊙ ∂L/∂s_0, then ∂L/∂[h→ ; h←] = W_bᵀ ∂L/∂a      (B, 2H)
    let da = dy * &y.mapv(|v| 1.0 - v * v);
    d.backward(x.view(), da.view(), g)
}

impl Bridge {
    /// A bridge for `layers` layers of size `hidden`, with maps for c if `lstm`.
    pub fn new(layers: usize, hidden: usize, lstm: bool, rng: &mut Rng) -> Self {
        let h = (0..layers)
            .map(|_| Dense::new(2 * hidden, hidden, rng))
            .collect();
        let c = lstm.then(|| {
            (0..layers)
                .map(|_| Dense::new(2 * hidden, hidden, rng))
                .collect()
        });
        Bridge { h, c }
    }

    /// The decoder's initial states from the encoder's `finals` (`h_n` order: layer k's forward state at
    /// 2k, reverse at 2k + 1). `zeros` are the decoder's zero states, which give whatever else a state
    /// holds (an FGR LSTM's gates start at zero).
    pub(crate) fn forward(&self, finals: &[State], zeros: &[State]) -> (Vec<State>, BridgeCache) {
        let mut init = zeros.to_vec();
        let mut ch = Vec::new();
        let mut cc = Vec::new();
        for (k, d) in self.h.iter().enumerate() {
            let (x, y) = map(d, &finals[2 * k].h, &finals[2 * k + 1].h);
            init[k].h = y.clone();
            ch.push((x, y));
            if let Some(cs) = &self.c {
                let fc = finals[2 * k].c.as_ref().expect("an LSTM state has c");
                let rc = finals[2 * k + 1].c.as_ref().expect("an LSTM state has c");
                let (x, y) = map(&cs[k], fc, rc);
                init[k].c = Some(y.clone());
                cc.push((x, y));
            }
        }
        let cache = BridgeCache {
            h: ch,
            c: self.c.is_some().then_some(cc),
        };
        (init, cache)
    }

    /// Backward: given ∂L/∂(initial states), adds into `grads` and returns ∂L/∂finals (`h_n` order).
    pub(crate) fn backward(
        &self,
        cache: &BridgeCache,
        finals: &[State],
        d_init: &[State],
        grads: &mut Bridge,
    ) -> Vec<State> {
        let mut d_finals: Vec<State> = finals.iter().map(State::zeros_like).collect();
        for (k, d) in self.h.iter().enumerate() {
            let hid = d.out_features();
            let (x, y) = &cache.h[k];
            let dx = map_back(d, x, y, &d_init[k].h, &mut grads.h[k]);
            d_finals[2 * k].h.assign(&dx.slice(s![.., ..hid]));
            d_finals[2 * k + 1].h.assign(&dx.slice(s![.., hid..]));
            if let (Some(cs), Some(cc), Some(gc)) = (&self.c, &cache.c, &mut grads.c) {
                let (x, y) = &cc[k];
                let dc = d_init[k].c.as_ref().expect("∂L/∂c of an LSTM state");
                let dx = map_back(&cs[k], x, y, dc, &mut gc[k]);
                if let Some(c) = &mut d_finals[2 * k].c {
                    c.assign(&dx.slice(s![.., ..hid]));
                }
                if let Some(c) = &mut d_finals[2 * k + 1].c {
                    c.assign(&dx.slice(s![.., hid..]));
                }
            }
        }
        d_finals
    }
}

impl Parameters for Bridge {
    /// `h_l0.weight`, `h_l0.bias`, ..., then `c_l0.weight`, ... for an LSTM.
    fn params(&self) -> Vec<(String, ArrayViewD<'_, f64>)> {
        let mut out = Vec::new();
        let groups = std::iter::once(("h", &self.h)).chain(self.c.iter().map(|c| ("c", c)));
        for (what, ds) in groups {
            for (k, d) in ds.iter().enumerate() {
                for (n, p) in d.params() {
                    out.push((format!("{what}_l{k}.{n}"), p));
                }
            }
        }
        out
    }

    fn params_mut(&mut self) -> Vec<(String, ArrayViewMutD<'_, f64>)> {
        let mut out = Vec::new();
        let groups = std::iter::once(("h", &mut self.h)).chain(self.c.iter_mut().map(|c| ("c", c)));
        for (what, ds) in groups {
            for (k, d) in ds.iter_mut().enumerate() {
                for (n, p) in d.params_mut() {
                    out.push((format!("{what}_l{k}.{n}"), p));
                }
            }
        }
        out
    }
}
