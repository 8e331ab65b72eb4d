//! One LSTM step after (7.1), forward and backward, for every variant [`LstmOptions`] can describe: the
//! PyTorch LSTM, peepholes and CIFG (8.1)-(8.8), and the other variants of Greff et al. (2015),
//! (8.32)-(8.41). [`Cell::forward`] and [`Lstm::forward_steps`] compute the
//! pre-activation a_t of (7.1) and call [`Lstm::gates`]; the backward paths call [`Lstm::gate_grads`].
//!
//! The variants of Greff et al. are each Greff's vanilla LSTM (with peepholes) changed in one place.
//! [`GreffVariant`] names them and [`LstmOptions::greff`] builds their options.

use ndarray::{s, Array1, Array2, Axis};

use super::{Cell, Lstm, LstmCache, LstmOptions, State};
use crate::activation::{dsigmoid_from_output, dtanh_from_output, sigmoid_arr, tanh_arr};
use crate::linalg::{add_at_b, linear, linear_back};
use crate::{Error, Result};

/// The eight LSTM variants of Greff et al. (2015, "LSTM: A Search Space Odyssey") and their vanilla LSTM.
///
/// Greff's *vanilla* LSTM has peephole connections; every variant but NP and FGR removes one thing from
/// it, NP removes the peepholes (and so is `torch.nn.LSTM`), FGR adds the recurrence between gates.
///
/// ```
/// use rnn::cells::{GreffVariant, LstmOptions};
/// use rnn::prelude::*;
/// let nig = LstmOptions::greff(GreffVariant::Nig);
/// assert!(nig.peephole && nig.no_input_gate);
/// let cell = Lstm::with_options(3, 5, nig, &mut rnn::init::rng(0));
/// assert_eq!(cell.weight_ih.dim(), (3 * 5, 3)); // rows: f, g, o (no input gate)
/// assert_eq!(LstmOptions::greff(GreffVariant::Np), LstmOptions::default()); // PyTorch's LSTM
/// assert_eq!("noaf".parse::<GreffVariant>().unwrap(), GreffVariant::Noaf);
/// assert_eq!(GreffVariant::ALL.map(|v| v.name()).join(" "), "V NIG NFG NOG NIAF NOAF NP CIFG FGR");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GreffVariant {
    /// V: the vanilla LSTM of Greff et al., with peepholes (8.1)-(8.3).
    Vanilla,
    /// NIG, no input gate: i_t = 1 (8.32).
    Nig,
    /// NFG, no forget gate: f_t = 1 (8.32).
    Nfg,
    /// NOG, no output gate: o_t = 1 (8.32).
    Nog,
    /// NIAF, no input activation function: g_t = a_g (8.34).
    Niaf,
    /// NOAF, no output activation function: h_t = o_t ⊙ c_t (8.36).
    Noaf,
    /// NP, no peepholes: PyTorch's LSTM, `LstmOptions::default()`.
    Np,
    /// CIFG, coupled input and forget gate: i_t = 1 - f_t (8.3).
    Cifg,
    /// FGR, full gate recurrence: the gates also read the previous step's gates (8.38).
    ///
    /// The reading implemented: the *activations* i_{t-1}, f_{t-1}, o_{t-1} (after the sigmoid) feed
    /// the pre-activations of i_t, f_t, o_t through nine H×H matrices, one for each (source, target)
    /// pair, added next to the input, recurrent and peephole terms; there is no extra bias, and the
    /// candidate g_t gets no gate recurrence. Before the first step the previous gates are zeros.
    Fgr,
}

impl GreffVariant {
    /// Every variant, in Greff et al.'s order: V, NIG, NFG, NOG, NIAF, NOAF, NP, CIFG, FGR.
    pub const ALL: [GreffVariant; 9] = [
        GreffVariant::Vanilla,
        GreffVariant::Nig,
        GreffVariant::Nfg,
        GreffVariant::Nog,
        GreffVariant::Niaf,
        GreffVariant::Noaf,
        GreffVariant::Np,
        GreffVariant::Cifg,
        GreffVariant::Fgr,
    ];

    /// Greff et al.'s short name: "V", "NIG", "NFG", "NOG", "NIAF", "NOAF", "NP", "CIFG" or "FGR".
    pub fn name(self) -> &'static str {
        match self {
            GreffVariant::Vanilla => "V",
            GreffVariant::Nig => "NIG",
            GreffVariant::Nfg => "NFG",
            GreffVariant::Nog => "NOG",
            GreffVariant::Niaf => "NIAF",
            GreffVariant::Noaf => "NOAF",
            GreffVariant::Np => "NP",
            GreffVariant::Cifg => "CIFG",
            GreffVariant::Fgr => "FGR",
        }
    }
}

impl std::str::FromStr for GreffVariant {
    type Err = Error;

    /// Parses a [`GreffVariant::name`], ignoring case.
    fn from_str(s: &str) -> Result<Self> {
        GreffVariant::ALL
            .into_iter()
            .find(|v| v.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                let names: Vec<_> = GreffVariant::ALL.iter().map(|v| v.name()).collect();
                Error::Config(format!(
                    "unknown LSTM variant `{s}`: expected one of {}",
                    names.join(", ")
                ))
            })
    }
}

impl LstmOptions {
    /// Greff et al.'s definition of `variant`: peepholes on (their vanilla LSTM has them) except for NP,
    /// plus the one change the variant names; forget bias 0.
    pub fn greff(variant: GreffVariant) -> Self {
        let vanilla = LstmOptions {
            peephole: true,
            ..LstmOptions::default()
        };
        match variant {
            GreffVariant::Vanilla => vanilla,
            GreffVariant::Nig => LstmOptions {
                no_input_gate: true,
                ..vanilla
            },
            GreffVariant::Nfg => LstmOptions {
                no_forget_gate: true,
                ..vanilla
            },
            GreffVariant::Nog => LstmOptions {
                no_output_gate: true,
                ..vanilla
            },
            GreffVariant::Niaf => LstmOptions {
                no_input_activation: true,
                ..vanilla
            },
            GreffVariant::Noaf => LstmOptions {
                no_output_activation: true,
                ..vanilla
            },
            GreffVariant::Np => LstmOptions::default(),
            GreffVariant::Cifg => LstmOptions {
                cifg: true,
                ..vanilla
            },
            GreffVariant::Fgr => LstmOptions {
                full_gate_recurrence: true,
                ..vanilla
            },
        }
    }

    /// Whether the cell has an input gate with its own weights (not with CIFG or NIG).
    pub fn has_input_gate(&self) -> bool {
        !self.cifg && !self.no_input_gate
    }

    /// [`Error::Config`] for options that contradict each other: CIFG with NIG or NFG (i_t = 1 - f_t
    /// needs a forget gate and replaces the input gate), and FGR with a removed or coupled gate (FGR's
    /// recurrence connects the three gates i, f, o, so all three must exist).
    pub fn validate(&self) -> Result<()> {
        if self.cifg && (self.no_input_gate || self.no_forget_gate) {
            return Err(Error::Config(
                "an LSTM with coupled gates (cifg) needs its forget gate and has no input gate to remove"
                    .into(),
            ));
        }
        let removed = self.cifg || self.no_input_gate || self.no_forget_gate || self.no_output_gate;
        if self.full_gate_recurrence && removed {
            return Err(Error::Config(
                "full gate recurrence connects the gates i, f and o: none of them may be removed or coupled"
                    .into(),
            ));
        }
        Ok(())
    }

    /// Where each gate's block of H rows sits in the stacked weights: the gates that exist, in the order
    /// i, f, g, o.
    pub(super) fn blocks(&self) -> Blocks {
        let mut next = 0;
        let mut take = |exists: bool| {
            exists.then(|| {
                next += 1;
                next - 1
            })
        };
        let i = take(self.has_input_gate());
        let f = take(!self.no_forget_gate);
        let g = take(true).expect("the candidate g always exists");
        let o = take(!self.no_output_gate);
        Blocks { i, f, g, o }
    }
}

/// The gate blocks of [`LstmOptions::blocks`]: indices into the stacked weights, `None` for a gate the
/// variant does not have.
#[derive(Clone, Copy, Debug)]
pub(super) struct Blocks {
    pub i: Option<usize>,
    pub f: Option<usize>,
    pub g: usize,
    pub o: Option<usize>,
}

/// Columns `[k·H, (k+1)·H)` of a `(B, n·H)` array: block k.
fn block(a: &Array2<f64>, k: usize, h: usize) -> Array2<f64> {
    a.slice(s![.., k * h..(k + 1) * h]).to_owned()
}

/// The gradient accumulator of an optional tensor that the cell has (panics if `grads` lacks it).
fn grad_of<'a, T>(grad: &'a mut Option<T>, name: &str) -> &'a mut T {
    grad.as_mut().unwrap_or_else(|| {
        panic!("LSTM backward: the gradient accumulator has no {name}, but the cell has one")
    })
}

/// `a += b` for an optional `a` (a gate the variant may not have).
fn add_to(a: &mut Option<Array2<f64>>, b: Array2<f64>) {
    if let Some(a) = a {
        *a += &b;
    }
}

/// `a += c ⊙ w` for an optional pre-activation and an optional peephole weight.
fn peep(a: &mut Option<Array2<f64>>, c: &Array2<f64>, w: &Option<Array1<f64>>) {
    if let (Some(a), Some(w)) = (a, w) {
        *a += &(c * w);
    }
}

impl Lstm {
    // ANCHOR: lstm_gates
    /// (7.2)-(7.7), the peepholes (8.1)-(8.3) and Greff's variants (8.32)-(8.38) of one step: the gates,
    /// c_t and h_t from the pre-activation `a` = a_t `(B, G·H)` of (7.1), the previous state `h_prev`,
    /// `c_prev` `(B, H)` and (FGR only) the previous gates `gates_prev` `(B, 3H)`; `x` `(B, D)` only goes
    /// into the cache. [`Cell::forward`] and the sequence path
    /// [`Lstm::forward_steps`] compute a_t differently and share this.
    pub(super) fn gates(
        &self,
        a: Array2<f64>,
        x: Array2<f64>,
        h_prev: &Array2<f64>,
        c_prev: &Array2<f64>,
        gates_prev: Option<&Array2<f64>>,
    ) -> (State, LstmCache) {
        let (h, opt, k) = (self.hidden_size(), &self.options, self.options.blocks());
        let (mut a_i, mut a_f, a_g, mut a_o) = (
            k.i.map(|k| block(&a, k, h)),
            k.f.map(|k| block(&a, k, h)),
            block(&a, k.g, h),
            k.o.map(|k| block(&a, k, h)),
        );
        let gates_prev = self.weight_gg.as_ref().map(|w_gg| {
            let gp = gates_prev
                .expect("LSTM step (FGR): the previous state has no gates (use Lstm::zero_state)");
            // (8.38) FGR: [a_i, a_f, a_o] += [i_{t-1}, f_{t-1}, o_{t-1}] W_ggᵀ              (B, 3H)
            let r = linear(gp, w_gg);
            add_to(&mut a_i, block(&r, 0, h));
            add_to(&mut a_f, block(&r, 1, h));
            add_to(&mut a_o, block(&r, 2, h));
            gp.clone()
        });
        let ones = || Array2::<f64>::ones(c_prev.raw_dim());
        // (8.1) peephole: a_f += w_cf ⊙ c_{t-1}                                                  (B, H)
        peep(&mut a_f, c_prev, &self.weight_cf);
        // (7.3) f_t = σ(a_f), or (8.32) NFG: f_t = 1                                             (B, H)
        let f = a_f.map_or_else(ones, |a_f| sigmoid_arr(&a_f));
        let i = if opt.cifg {
            // (8.3) CIFG: i_t = 1 - f_t                                                          (B, H)
            f.mapv(|f| 1.0 - f)
        } else {
            // (8.1) peephole: a_i += w_ci ⊙ c_{t-1}                                              (B, H)
            peep(&mut a_i, c_prev, &self.weight_ci);
            // (7.2) i_t = σ(a_i), or (8.32) NIG: i_t = 1                                         (B, H)
            a_i.map_or_else(ones, |a_i| sigmoid_arr(&a_i))
        };
        // (7.4) g_t = tanh(a_g), or (8.34) NIAF: g_t = a_g                                       (B, H)
        let g = if opt.no_input_activation {
            a_g
        } else {
            tanh_arr(&a_g)
        };
        // (7.6) c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t                                                  (B, H)
        let c = &f * c_prev + &i * &g;
        // (8.2) peephole: a_o += w_co ⊙ c_t (the output gate sees the *new* cell state)          (B, H)
        peep(&mut a_o, &c, &self.weight_co);
        // (7.5) o_t = σ(a_o), or (8.32) NOG: o_t = 1                                             (B, H)
        let o = a_o.map_or_else(ones, |a_o| sigmoid_arr(&a_o));
        // (7.7) h_t = o_t ⊙ tanh(c_t), or (8.36) NOAF: h_t = o_t ⊙ c_t                          (B, H)
        let tanh_c = if opt.no_output_activation {
            c.clone()
        } else {
            tanh_arr(&c)
        };
        let h_next = &o * &tanh_c;
        // (8.38) FGR: the gates of this step are part of the state the next step reads      (B, 3H)
        let gates = gates_prev.is_some().then(|| {
            ndarray::concatenate(Axis(1), &[i.view(), f.view(), o.view()]).expect("(B, H) each")
        });
        let cache = LstmCache {
            x,
            h_prev: h_prev.clone(),
            c_prev: c_prev.clone(),
            gates_prev,
            i,
            f,
            g,
            o,
            c: c.clone(),
            tanh_c,
        };
        let next = State {
            h: h_next,
            c: Some(c),
            gates,
        };
        (next, cache)
    }
    // ANCHOR_END: lstm_gates

    // ANCHOR: lstm_gate_grads
    /// (7.8)-(7.18), the peepholes (8.4)-(8.8) and Greff's variants (8.33)-(8.41) of one backward step:
    /// from `dh` = ∂L/∂h_t, `dc_next` = the gradient reaching c_t from step t+1 `(B, H)` and (FGR only)
    /// `dgates_next` = the gradient reaching this step's gates from step t+1 `(B, 3H)`, returns ∂L/∂a_t
    /// `(B, G·H)` (in the weights' gate order), ∂L/∂c_{t-1} `(B, H)` and (FGR only) ∂L/∂gates_{t-1}
    /// `(B, 3H)`, and adds the peephole and W_gg gradients into `grads`. The weight and bias gradients,
    /// ∂L/∂x_t and ∂L/∂h_{t-1} all follow from ∂L/∂a_t: one step at a time in
    /// [`Cell::backward`], for every step at once in [`Lstm::backward_steps`].
    pub(super) fn gate_grads(
        &self,
        cache: &LstmCache,
        dh: &Array2<f64>,
        dc_next: &Array2<f64>,
        dgates_next: Option<&Array2<f64>>,
        grads: &mut Lstm,
    ) -> (Array2<f64>, Array2<f64>, Option<Array2<f64>>) {
        let LstmCache {
            c_prev,
            i,
            f,
            g,
            o,
            c,
            tanh_c,
            ..
        } = cache;
        let (hs, opt, k) = (self.hidden_size(), &self.options, self.options.blocks());
        // (8.39) FGR: the gates also reach the loss through step t+1                            (B, 3H)
        let dgn = self.weight_gg.as_ref().map(|_| {
            dgates_next.expect("LSTM backward (FGR): the state gradient has no gates part")
        });
        let from_next = |j: usize| dgn.map(|d| block(d, j, hs));
        // (7.8)  ∂L/∂o_t = ∂L/∂h_t ⊙ tanh(c_t), or (8.37) NOAF: ∂L/∂h_t ⊙ c_t                 (B, H)
        let mut d_o = dh * tanh_c;
        if let Some(d) = from_next(2) {
            // (8.39) FGR: ∂L/∂o_t += ∂L/∂o_t from step t+1                                      (B, H)
            d_o += &d;
        }
        // (7.9)  ∂L/∂a_o = ∂L/∂o_t ⊙ o_t ⊙ (1 - o_t), or (8.33) NOG: no a_o                    (B, H)
        let da_o = k.o.map(|_| d_o * dsigmoid_from_output(o));
        let mut dc = if opt.no_output_activation {
            // (8.37) NOAF: ∂L/∂c_t = dc_next + ∂L/∂h_t ⊙ o_t                                     (B, H)
            dc_next + &(dh * o)
        } else {
            // (7.10) ∂L/∂c_t = dc_next (from step t+1) + ∂L/∂h_t ⊙ o_t ⊙ (1 - tanh²(c_t))        (B, H)
            dc_next + &(dh * o * dtanh_from_output(tanh_c))
        };
        if let (Some(da_o), Some(w_co)) = (&da_o, &self.weight_co) {
            // (8.4) peephole: c_t also reaches the loss through a_o, dc += ∂L/∂a_o ⊙ w_co        (B, H)
            dc += &(da_o * w_co);
            // (8.5) ∂L/∂w_co += Σ_batch ∂L/∂a_o ⊙ c_t                                               (H)
            *grad_of(&mut grads.weight_co, "weight_co") += &(da_o * c).sum_axis(Axis(0));
        }
        // (7.11) ∂L/∂i_t = ∂L/∂c_t ⊙ g_t                                                         (B, H)
        let mut d_i = &dc * g;
        // (7.12) ∂L/∂g_t = ∂L/∂c_t ⊙ i_t                                                         (B, H)
        let d_g = &dc * i;
        // (7.13) ∂L/∂f_t = ∂L/∂c_t ⊙ c_{t-1}                                                     (B, H)
        let mut d_f = &dc * c_prev;
        if let (Some(di), Some(df)) = (from_next(0), from_next(1)) {
            // (8.39) FGR: ∂L/∂i_t and ∂L/∂f_t += their gradients from step t+1                  (B, H)
            d_i += &di;
            d_f += &df;
        }
        if opt.cifg {
            // (8.6) CIFG: i_t = 1 - f_t, so the input gate's gradient reaches f_t negated        (B, H)
            d_f -= &d_i;
        }
        // (7.14) ∂L/∂a_f = ∂L/∂f_t ⊙ f_t ⊙ (1 - f_t), or (8.33) NFG: no a_f                    (B, H)
        let da_f = k.f.map(|_| d_f * dsigmoid_from_output(f));
        let da_g = if opt.no_input_activation {
            // (8.35) NIAF: ∂L/∂a_g = ∂L/∂g_t                                                     (B, H)
            d_g
        } else {
            // (7.15) ∂L/∂a_g = ∂L/∂g_t ⊙ (1 - g_t²)                                              (B, H)
            d_g * dtanh_from_output(g)
        };
        // (7.16) ∂L/∂c_{t-1} = ∂L/∂c_t ⊙ f_t: the constant error carousel, where the gradient
        //        flows back through a product with f_t alone, with no weight matrix in the way   (B, H)
        let mut dc_prev = &dc * f;
        if let (Some(da_f), Some(w_cf)) = (&da_f, &self.weight_cf) {
            // (8.7) peephole: dc_prev += ∂L/∂a_f ⊙ w_cf                                          (B, H)
            dc_prev += &(da_f * w_cf);
            // (8.8) ∂L/∂w_cf += Σ_batch ∂L/∂a_f ⊙ c_{t-1}                                           (H)
            *grad_of(&mut grads.weight_cf, "weight_cf") += &(da_f * c_prev).sum_axis(Axis(0));
        }
        // (7.17) ∂L/∂a_i = ∂L/∂i_t ⊙ i_t ⊙ (1 - i_t), or (8.33) NIG (and CIFG): no a_i         (B, H)
        let da_i = k.i.map(|_| d_i * dsigmoid_from_output(i));
        if let (Some(da_i), Some(w_ci)) = (&da_i, &self.weight_ci) {
            // (8.7) peephole: dc_prev += ∂L/∂a_i ⊙ w_ci                                          (B, H)
            dc_prev += &(da_i * w_ci);
            // (8.8) ∂L/∂w_ci += Σ_batch ∂L/∂a_i ⊙ c_{t-1}                                           (H)
            *grad_of(&mut grads.weight_ci, "weight_ci") += &(da_i * c_prev).sum_axis(Axis(0));
        }
        let dgates_prev = self.weight_gg.as_ref().map(|w_gg| {
            let (da_i, da_f, da_o) = (da_i.as_ref(), da_f.as_ref(), da_o.as_ref());
            let pre = [da_i, da_f, da_o].map(|d| d.expect("FGR has gates i, f, o").view());
            let da_ifo = ndarray::concatenate(Axis(1), &pre).expect("(B, H) each"); // (B, 3H)
            let gp = cache
                .gates_prev
                .as_ref()
                .expect("an FGR cache has the previous gates");
            // (8.40) ∂L/∂W_gg += [∂L/∂a_i, ∂L/∂a_f, ∂L/∂a_o]ᵀ [i_{t-1}, f_{t-1}, o_{t-1}]   (3H, 3H)
            add_at_b(grad_of(&mut grads.weight_gg, "weight_gg"), &da_ifo, gp);
            // (8.41) ∂L/∂[i_{t-1}, f_{t-1}, o_{t-1}] = [∂L/∂a_i, ∂L/∂a_f, ∂L/∂a_o] W_gg      (B, 3H)
            linear_back(&da_ifo, w_gg)
        });
        // (7.18) ∂L/∂a_t = [∂L/∂a_i, ∂L/∂a_f, ∂L/∂a_g, ∂L/∂a_o]; (8.33) only the blocks that exist (B, G·H)
        let blocks: Vec<_> = [da_i.as_ref(), da_f.as_ref(), Some(&da_g), da_o.as_ref()]
            .into_iter()
            .flatten()
            .map(|d| d.view())
            .collect();
        let da = ndarray::concatenate(Axis(1), &blocks).expect("every gate block is (B, H)");
        (da, dc_prev, dgates_prev)
    }
    // ANCHOR_END: lstm_gate_grads
}
