//! Synthetic sequence tasks: small problems with a known answer, made to test whether a recurrent network
//! can carry information across many time steps.
//!
//! - [`adding`]: the adding problem, in the form of Le, Jaitly & Hinton (2015) ([`adding_problem`]) and in
//!   the original form of Hochreiter & Schmidhuber (1997), Experiment 4 ([`adding_problem_hs97`]);
//! - [`reber`]: the embedded Reber grammar of Hochreiter & Schmidhuber (1997), Experiment 1: strings, the set
//!   of legal next symbols at every position, and padded batches;
//! - [`copy`]: the copy-memory task (Arjovsky, Shah & Bengio 2016) and its chance-level baseline;
//! - [`seq2seq`]: string pairs for encoder-decoders: reversal, addition, date normalisation;
//! - [`pairs`]: pairs from a TSV file, split by source, and the scores of decoded outputs (exact match,
//!   token error rate).
//!
//! Every generator draws from a [`crate::init::Rng`], so the same seed gives the same data.
//!
//! ```
//! let mut rng = rnn::init::rng(0);
//! let (xs, ys) = rnn::tasks::adding_problem(50, 4, &mut rng);
//! assert_eq!(xs.dim(), (50, 4, 2)); // (T, B, 2): value channel, marker channel
//! assert_eq!(ys.len(), 4);
//! let s = rnn::tasks::reber::embedded_reber(&mut rng);
//! assert!(rnn::tasks::reber::is_embedded_reber(&s));
//! ```

pub mod adding;
pub mod copy;
pub mod pairs;
pub mod reber;
pub mod seq2seq;

pub use adding::{adding_problem, adding_problem_hs97, AddingHs97};
pub use copy::{copy_memory, CopyMemory};
pub use reber::{embedded_reber, ReberBatch};
