//! How much of a text is copied verbatim from another: a suffix automaton of the training text gives, for
//! every position of a sample, the longest substring ending there that also occurs in the training text.

use std::collections::HashMap;

/// The suffix automaton of a text: the smallest automaton that accepts exactly its substrings. Built in
/// linear time (Blumer et al. 1985); each state stands for a set of substrings that end at the same
/// positions, `len` the longest of them, `link` the state of its longest suffix outside the set.
pub struct SuffixAutomaton {
    next: Vec<HashMap<char, usize>>,
    link: Vec<Option<usize>>,
    len: Vec<usize>,
}

impl SuffixAutomaton {
    /// The automaton of `text`.
    pub fn new(text: &str) -> Self {
        let mut sa = SuffixAutomaton {
            next: vec![HashMap::new()],
            link: vec![None],
            len: vec![0],
        };
        let mut last = 0;
        for c in text.chars() {
            let cur = sa.add_state(sa.len[last] + 1);
            let mut p = Some(last);
            while let Some(q) = p {
                if sa.next[q].contains_key(&c) {
                    break;
                }
                sa.next[q].insert(c, cur);
                p = sa.link[q];
            }
            match p {
                None => sa.link[cur] = Some(0),
                Some(p) => {
                    let q = sa.next[p][&c];
                    if sa.len[p] + 1 == sa.len[q] {
                        sa.link[cur] = Some(q);
                    } else {
                        // split q: a clone holds the shorter substrings, which now also end at the new position
                        let clone = sa.add_state(sa.len[p] + 1);
                        sa.next[clone] = sa.next[q].clone();
                        sa.link[clone] = sa.link[q];
                        let mut p = Some(p);
                        while let Some(r) = p {
                            if sa.next[r].get(&c) != Some(&q) {
                                break;
                            }
                            sa.next[r].insert(c, clone);
                            p = sa.link[r];
                        }
                        sa.link[q] = Some(clone);
                        sa.link[cur] = Some(clone);
                    }
                }
            }
            last = cur;
        }
        sa
    }

    fn add_state(&mut self, len: usize) -> usize {
        self.next.push(HashMap::new());
        self.link.push(None);
        self.len.push(len);
        self.len.len() - 1
    }

    /// For every character of `sample`, the length of the longest substring of `sample` ending there that
    /// occurs in the automaton's text.
    pub fn matches(&self, sample: &str) -> Vec<usize> {
        let (mut state, mut len) = (0, 0);
        let mut out = Vec::new();
        for c in sample.chars() {
            loop {
                if let Some(&s) = self.next[state].get(&c) {
                    state = s;
                    len += 1;
                    break;
                }
                match self.link[state] {
                    Some(l) => {
                        state = l;
                        len = self.len[l];
                    }
                    None => {
                        len = 0;
                        break;
                    }
                }
            }
            out.push(len);
        }
        out
    }
}

/// What a sample shares with the training text.
#[derive(Clone, Copy, Debug)]
pub struct Overlap {
    /// The longest substring of the sample that occurs in the training text, in characters.
    pub longest: usize,
    /// The share of the sample's n-grams (of characters) that occur in the training text, for each n of
    /// [`NGRAMS`].
    pub ngrams: [f64; 2],
}

/// The n-gram lengths of [`Overlap::ngrams`]: about two words, and about four.
pub const NGRAMS: [usize; 2] = [10, 20];

/// The overlap of `sample` with the automaton's text. The sample must have at least `NGRAMS[1]` characters.
pub fn overlap(sa: &SuffixAutomaton, sample: &str) -> Overlap {
    let m = sa.matches(sample);
    let ngrams = NGRAMS.map(|n| {
        // the n-gram ending at i occurs in the text exactly when the match ending at i is at least n long
        let ends = &m[n - 1..];
        ends.iter().filter(|&&l| l >= n).count() as f64 / ends.len() as f64
    });
    Overlap {
        longest: m.iter().copied().max().unwrap_or(0),
        ngrams,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The longest match ending at each position, by brute force over every substring.
    fn brute(text: &str, sample: &str) -> Vec<usize> {
        let s: Vec<char> = sample.chars().collect();
        (0..s.len())
            .map(|i| {
                (0..=i)
                    .filter(|&j| text.contains(&s[j..=i].iter().collect::<String>()))
                    .map(|j| i + 1 - j)
                    .max()
                    .unwrap_or(0)
            })
            .collect()
    }

    #[test]
    fn matches_equal_brute_force() {
        let text = "abracadabra, the cat sat on the mat; abba";
        for sample in [
            "cadabra",
            "the rat sat on a mat",
            "zzz",
            "abbabracad",
            "",
            "a",
        ] {
            assert_eq!(
                SuffixAutomaton::new(text).matches(sample),
                brute(text, sample),
                "{sample}"
            );
        }
    }

    #[test]
    fn overlap_counts_ngrams() {
        let text = "call me ishmael. some years ago, never mind how long precisely";
        let sa = SuffixAutomaton::new(text);
        // copied whole: every n-gram occurs, the longest match is the whole sample
        let copy = "some years ago, never mind how";
        let o = overlap(&sa, copy);
        assert_eq!(o.longest, copy.len());
        assert_eq!(o.ngrams, [1.0, 1.0]);
        // nothing in common beyond single letters
        let o = overlap(&sa, "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzz");
        assert_eq!((o.longest, o.ngrams), (0, [0.0, 0.0]));
    }
}
