//! The embedded Reber grammar (Hochreiter & Schmidhuber 1997, Experiment 1; the grammar is Reber's 1967).
//!
//! The Reber grammar is a finite automaton over the symbols B, T, P, S, X, V, E. A string starts with B,
//! then walks the automaton, taking each of the two branches out of a state with probability 1/2, and ends
//! with E:
//!
//! ```text
//!   state  edges (symbol → state)     B starts in state 0; on reaching "end", E follows.
//!   0      T → 1,  P → 2
//!   1      S → 1,  X → 3              e.g.  B T S S X X T V V E
//!   2      T → 2,  V → 4                    B P V V E
//!   3      X → 2,  S → end                  B T X S E
//!   4      P → 3,  V → end
//! ```
//!
//! The table is [`REBER`]. The *embedded*
//! grammar wraps one Reber string between two copies of the same symbol, T or P: `B T <reber> T E` or
//! `B P <reber> P E`. Predicting the second-to-last symbol needs the second symbol, seen many steps
//! earlier; that is the long time lag the experiment tests.
//!
//! The task is next-symbol prediction. At every position all symbols that may legally come next are equally
//! right, so Hochreiter & Schmidhuber judge a string as processed correctly when, at every position, the k
//! most strongly predicted symbols are exactly the k legal ones ([`all_steps_correct`]). [`legal_next`]
//! gives those sets.

use ndarray::{Array2, Array3};
use rand::Rng as _;

use crate::init::Rng;

/// The 7 symbols, in the order of their ids: B = 0, T = 1, P = 2, S = 3, X = 4, V = 5, E = 6.
pub const SYMBOLS: [char; 7] = ['B', 'T', 'P', 'S', 'X', 'V', 'E'];
/// Number of symbols.
pub const NUM_SYMBOLS: usize = 7;
const B: usize = 0;
const T: usize = 1;
const P: usize = 2;
const S: usize = 3;
const X: usize = 4;
const V: usize = 5;
const E: usize = 6;
/// The state after the last Reber symbol, where only E may follow.
const END: usize = 5;

/// The Reber automaton after the initial B: for each state 0..5, its two edges `(symbol, next state)`.
/// State 5 is the end, where E follows.
pub const REBER: [[(usize, usize); 2]; 5] = [
    [(T, 1), (P, 2)], // 0: after B
    [(S, 1), (X, 3)], // 1: the T branch, S repeats
    [(T, 2), (V, 4)], // 2: the P branch, T repeats
    [(X, 2), (S, END)],
    [(P, 3), (V, END)],
];

/// A string's symbols as text, e.g. `"BTBPVVETE"`.
pub fn to_text(ids: &[usize]) -> String {
    ids.iter().map(|&i| SYMBOLS[i]).collect()
}

/// A string's ids from text; `None` if a character is not one of the 7 symbols.
pub fn from_text(text: &str) -> Option<Vec<usize>> {
    text.chars()
        .map(|c| SYMBOLS.iter().position(|&s| s == c))
        .collect()
}

/// One Reber string, `B ... E`, each branch taken with probability 1/2.
pub fn reber(rng: &mut Rng) -> Vec<usize> {
    let mut out = vec![B];
    let mut state = 0;
    while state != END {
        let (sym, next) = REBER[state][rng.random_range(0..2)];
        out.push(sym);
        state = next;
    }
    out.push(E);
    out
}

/// One embedded Reber string: `B`, then T or P (probability 1/2 each), a Reber string, the same T or P,
/// and `E`.
pub fn embedded_reber(rng: &mut Rng) -> Vec<usize> {
    let wrap = if rng.random_range(0..2) == 0 { T } else { P };
    let mut out = vec![B, wrap];
    out.extend(reber(rng));
    out.extend([wrap, E]);
    out
}

/// For every position of a Reber string (`B ... E`), the legal next symbols; `None` at the first symbol
/// that the automaton does not accept. The last entry (after E) is empty.
fn reber_legal(ids: &[usize]) -> Option<Vec<[bool; NUM_SYMBOLS]>> {
    let mut sets = Vec::with_capacity(ids.len());
    let set_of = |syms: &[usize]| {
        let mut m = [false; NUM_SYMBOLS];
        syms.iter().for_each(|&s| m[s] = true);
        m
    };
    if ids.first() != Some(&B) {
        return None;
    }
    let mut state = 0;
    for (n, &sym) in ids.iter().enumerate().skip(1) {
        if state == END {
            sets.push(set_of(&[E]));
            if sym != E || n + 1 != ids.len() {
                return None;
            }
            sets.push(set_of(&[]));
            return Some(sets);
        }
        let edges = REBER[state];
        sets.push(set_of(&[edges[0].0, edges[1].0]));
        state = edges.iter().find(|e| e.0 == sym)?.1;
    }
    None // ran out before E
}

/// For every position n of an embedded Reber string, the set of symbols that may legally follow
/// `ids[..=n]` (a mask over the 7 symbols); the entry for the final E is empty. `None` if the string is not
/// in the grammar.
///
/// ```
/// use rnn::tasks::reber::{from_text, legal_next, to_text, SYMBOLS};
/// let s = from_text("BTBPVVETE").unwrap();
/// let sets = legal_next(&s).unwrap();
/// let names = |m: &[bool; 7]| (0..7).filter(|&i| m[i]).map(|i| SYMBOLS[i]).collect::<String>();
/// assert_eq!(names(&sets[0]), "TP"); // after the first B
/// assert_eq!(names(&sets[6]), "T"); // after the inner E, only the symbol of step 1
/// ```
pub fn legal_next(ids: &[usize]) -> Option<Vec<[bool; NUM_SYMBOLS]>> {
    if ids.len() < 4 || ids[0] != B || !(ids[1] == T || ids[1] == P) {
        return None;
    }
    let n = ids.len();
    if ids[n - 2] != ids[1] || ids[n - 1] != E {
        return None;
    }
    let only = |s: usize| {
        let mut m = [false; NUM_SYMBOLS];
        m[s] = true;
        m
    };
    let mut sets = vec![
        {
            let mut m = [false; NUM_SYMBOLS];
            m[T] = true;
            m[P] = true;
            m
        },
        only(B),
    ];
    let inner = reber_legal(&ids[2..n - 2])?;
    sets.extend(&inner[..inner.len() - 1]); // the inner E is followed by the wrapping symbol
    sets.push(only(ids[1]));
    sets.push(only(E));
    sets.push([false; NUM_SYMBOLS]);
    Some(sets)
}

/// Whether `ids` is a string of the embedded Reber grammar (a recogniser).
pub fn is_embedded_reber(ids: &[usize]) -> bool {
    legal_next(ids).is_some()
}

/// Hochreiter & Schmidhuber's criterion at one position: with k legal next symbols, the k largest
/// `scores` are exactly the legal ones (ties at the boundary count as wrong).
pub fn top_k_is_legal(scores: &[f64], legal: &[bool; NUM_SYMBOLS]) -> bool {
    assert_eq!(scores.len(), NUM_SYMBOLS, "one score per symbol");
    let min_legal = (0..NUM_SYMBOLS)
        .filter(|&i| legal[i])
        .map(|i| scores[i])
        .fold(f64::INFINITY, f64::min);
    let max_illegal = (0..NUM_SYMBOLS)
        .filter(|&i| !legal[i])
        .map(|i| scores[i])
        .fold(f64::NEG_INFINITY, f64::max);
    min_legal > max_illegal
}

/// A padded batch of embedded Reber strings for next-symbol prediction. Step t of sequence b reads symbol
/// `ids[t]` and must predict the set `legal[t]` (and the symbol that came, `targets[t]`); a string of L
/// symbols gives L - 1 steps.
#[derive(Clone, Debug)]
pub struct ReberBatch {
    /// The strings.
    pub strings: Vec<Vec<usize>>,
    /// `(T_max, B)`: the input symbol at each step; 0 (B) after a sequence's end.
    pub inputs: Array2<usize>,
    /// `(T_max, B)`: the next symbol at each step; 0 after a sequence's end.
    pub targets: Array2<usize>,
    /// `(T_max, B, 7)`: 1.0 for the legal next symbols at each step; all 0 after a sequence's end.
    pub legal: Array3<f64>,
    /// `(B)`: the number of real steps, L - 1, of each sequence.
    pub lengths: Vec<usize>,
}

impl ReberBatch {
    /// `batch` fresh embedded Reber strings, padded into one batch.
    pub fn generate(batch: usize, rng: &mut Rng) -> Self {
        Self::from_strings((0..batch).map(|_| embedded_reber(rng)).collect())
    }

    /// A batch from given strings.
    ///
    /// # Panics
    /// If a string is not in the embedded Reber grammar.
    pub fn from_strings(strings: Vec<Vec<usize>>) -> Self {
        let lengths: Vec<usize> = strings.iter().map(|s| s.len() - 1).collect();
        let t_max = lengths.iter().copied().max().unwrap_or(0);
        let b = strings.len();
        let mut inputs = Array2::zeros((t_max, b)); // (T, B)
        let mut targets = Array2::zeros((t_max, b)); // (T, B)
        let mut legal = Array3::zeros((t_max, b, NUM_SYMBOLS)); // (T, B, 7)
        for (j, s) in strings.iter().enumerate() {
            let sets = legal_next(s)
                .unwrap_or_else(|| panic!("not an embedded Reber string: {}", to_text(s)));
            for t in 0..s.len() - 1 {
                inputs[[t, j]] = s[t];
                targets[[t, j]] = s[t + 1];
                for k in 0..NUM_SYMBOLS {
                    legal[[t, j, k]] = if sets[t][k] { 1.0 } else { 0.0 };
                }
            }
        }
        ReberBatch {
            strings,
            inputs,
            targets,
            legal,
            lengths,
        }
    }

    /// `(T_max, B, 7)`: the inputs one-hot encoded; all zero after a sequence's end.
    pub fn one_hot(&self) -> Array3<f64> {
        let (t_max, b) = self.inputs.dim();
        let mut x = Array3::zeros((t_max, b, NUM_SYMBOLS)); // (T, B, 7)
        for j in 0..b {
            for t in 0..self.lengths[j] {
                x[[t, j, self.inputs[[t, j]]]] = 1.0;
            }
        }
        x
    }
}

/// Whether every real step of sequence `b` meets [`top_k_is_legal`], given scores `(T_max, B, 7)`.
pub fn all_steps_correct(scores: &Array3<f64>, batch: &ReberBatch, b: usize) -> bool {
    (0..batch.lengths[b]).all(|t| {
        let row: Vec<f64> = (0..NUM_SYMBOLS).map(|k| scores[[t, b, k]]).collect();
        let mut legal = [false; NUM_SYMBOLS];
        (0..NUM_SYMBOLS).for_each(|k| legal[k] = batch.legal[[t, b, k]] == 1.0);
        top_k_is_legal(&row, &legal)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::init::rng;

    fn names(m: &[bool; NUM_SYMBOLS]) -> String {
        (0..NUM_SYMBOLS)
            .filter(|&i| m[i])
            .map(|i| SYMBOLS[i])
            .collect()
    }

    #[test]
    fn known_strings_are_recognised() {
        for s in ["BTSSXXTVVE", "BPVVE", "BTXXVPSE", "BPTVPXVVE", "BTXSE"] {
            assert!(reber_legal(&from_text(s).unwrap()).is_some(), "{s}");
        }
        for s in ["BTSSPXSE", "BPTVVB", "BTXXVVSE", "BPVV", "BPVVEE"] {
            assert!(reber_legal(&from_text(s).unwrap()).is_none(), "{s}");
        }
        assert!(is_embedded_reber(&from_text("BTBPVVETE").unwrap()));
        assert!(
            !is_embedded_reber(&from_text("BTBPVVEPE").unwrap()),
            "wrapping symbols differ"
        );
        assert!(!is_embedded_reber(&from_text("BPBTSSPXSEPE").unwrap()));
    }

    #[test]
    fn legal_sets_on_a_hand_checked_string() {
        // B P B T X S E P E: worked out by hand from the automaton
        let s = from_text("BPBTXSEPE").unwrap();
        let got: Vec<String> = legal_next(&s).unwrap().iter().map(names).collect();
        let want = ["TP", "B", "TP", "SX", "XS", "E", "P", "E", ""];
        let want: Vec<String> = want
            .iter()
            .map(|w| {
                let mut v: Vec<char> = w.chars().collect();
                v.sort_by_key(|c| SYMBOLS.iter().position(|s| s == c));
                v.into_iter().collect()
            })
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn generated_strings_are_in_the_grammar() {
        let mut r = rng(3);
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..2000 {
            let s = embedded_reber(&mut r);
            assert!(is_embedded_reber(&s), "{}", to_text(&s));
            let sets = legal_next(&s).unwrap();
            assert_eq!(sets.len(), s.len());
            // every symbol that came next was legal
            assert!((0..s.len() - 1).all(|n| sets[n][s[n + 1]]));
            seen.insert(to_text(&s));
        }
        assert!(seen.len() > 100, "only {} distinct strings", seen.len());
        let a: Vec<_> = (0..5).map(|_| embedded_reber(&mut rng(9))).collect();
        let b: Vec<_> = (0..5).map(|_| embedded_reber(&mut rng(9))).collect();
        assert_eq!(a, b);
    }

    #[test]
    fn batches_pad_and_judge() {
        let batch = ReberBatch::from_strings(vec![
            from_text("BTBPVVETE").unwrap(),
            from_text("BPBTXSEPE").unwrap(),
            from_text("BTBTSSXXTVVETE").unwrap(),
        ]);
        assert_eq!(batch.lengths, vec![8, 8, 13]);
        assert_eq!(batch.inputs.dim(), (13, 3));
        let x = batch.one_hot();
        assert_eq!(x.sum(), 29.0);
        assert_eq!(batch.targets[[7, 0]], E);
        assert_eq!(batch.legal.slice(ndarray::s![8.., 0, ..]).sum(), 0.0);
        // scores equal to the legal sets pass; moving one illegal symbol up fails
        let mut scores = batch.legal.clone();
        assert!((0..3).all(|b| all_steps_correct(&scores, &batch, b)));
        scores[[2, 2, E]] = 2.0;
        assert!(!all_steps_correct(&scores, &batch, 2));
        assert!(all_steps_correct(&scores, &batch, 1));
        assert!(!top_k_is_legal(
            &[1.0; 7],
            &[true, false, false, false, false, false, false]
        ));
        let g = ReberBatch::generate(4, &mut rng(0));
        assert_eq!(g.lengths.len(), 4);
    }
}
