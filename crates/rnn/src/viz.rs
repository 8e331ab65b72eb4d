//! Looking inside a trained network (after Karpathy, Johnson & Fei-Fei 2015, "Visualizing and Understanding
//! Recurrent Networks"): simple features of a text to compare hidden units with, the correlation that
//! compares them, and the colour scale that paints a unit's activation behind each character.
//!
//! ```
//! let text: Vec<char> = "say \"hi\" (now)\nok".chars().collect();
//! let features = rnn::viz::text_features(&text);
//! let (name, quotes) = &features[0];
//! assert_eq!(*name, "inside quotes");
//! assert_eq!(quotes[4..8], [1.0, 1.0, 1.0, 1.0]); // "hi" with its quote marks
//! assert_eq!(rnn::viz::pearson(&[1.0, 2.0, 3.0], &[2.0, 4.0, 6.0]), Some(1.0));
//! ```

// ANCHOR: features
/// Simple features of a text, one value per character: inside a quotation (the quote marks included;
/// straight quotes toggle, typographic “ ” open and close), the position in the line, inside parentheses,
/// inside a word.
pub fn text_features(text: &[char]) -> Vec<(&'static str, Vec<f64>)> {
    let (mut quotes, mut line_pos, mut parens, mut word) = (vec![], vec![], vec![], vec![]);
    let (mut in_quote, mut pos, mut depth) = (false, 0usize, 0usize);
    for &c in text {
        let is_quote = matches!(c, '"' | '“' | '”');
        match c {
            '"' => in_quote = !in_quote,
            '“' => in_quote = true,
            _ => {}
        }
        depth += usize::from(c == '(');
        quotes.push(f64::from(u8::from(in_quote || is_quote)));
        line_pos.push(pos as f64);
        parens.push(f64::from(u8::from(depth > 0)));
        word.push(f64::from(u8::from(c.is_alphanumeric())));
        if c == '”' {
            in_quote = false;
        }
        depth -= usize::from(c == ')' && depth > 0);
        pos = if c == '\n' { 0 } else { pos + 1 };
    }
    vec![
        ("inside quotes", quotes),
        ("position in line", line_pos),
        ("inside parentheses", parens),
        ("inside a word", word),
    ]
}
// ANCHOR_END: features

/// Pearson correlation of two series of the same length, or `None` if either is constant.
pub fn pearson(a: &[f64], b: &[f64]) -> Option<f64> {
    assert_eq!(
        a.len(),
        b.len(),
        "pearson: series of lengths {} and {}",
        a.len(),
        b.len()
    );
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        sab += (x - ma) * (y - mb);
        saa += (x - ma) * (x - ma);
        sbb += (y - mb) * (y - mb);
    }
    (saa > 1e-12 && sbb > 1e-12).then(|| sab / (saa * sbb).sqrt())
}

/// CSS background colour for an activation in [-1, 1]: blue for -1, white for 0, red for +1 (light enough
/// that black text stays readable on it).
pub fn activation_colour(v: f64) -> String {
    let fade = (255.0 - 170.0 * v.clamp(-1.0, 1.0).abs()).round() as u8;
    if v >= 0.0 {
        format!("rgb(255,{fade},{fade})")
    } else {
        format!("rgb({fade},{fade},255)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn features_follow_quotes_parentheses_lines_and_words() {
        let text: Vec<char> = "a “b” (c (d) e)\nfg".chars().collect();
        let f = text_features(&text);
        let get = |name: &str| f.iter().find(|(n, _)| *n == name).unwrap().1.clone();
        assert_eq!(get("inside quotes")[1..6], [0.0, 1.0, 1.0, 1.0, 0.0]);
        let parens = get("inside parentheses");
        assert_eq!(
            parens[6..15].iter().sum::<f64>(),
            9.0,
            "nested parentheses stay inside until the last )"
        );
        assert_eq!(parens[15], 0.0);
        let line = get("position in line");
        assert_eq!((line[15], line[16], line[17]), (15.0, 0.0, 1.0));
        assert_eq!(get("inside a word")[..2], [1.0, 0.0]);
    }

    #[test]
    fn pearson_and_colours() {
        assert_eq!(pearson(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]), Some(-1.0));
        assert_eq!(pearson(&[1.0, 1.0], &[0.0, 1.0]), None);
        assert_eq!(activation_colour(0.0), "rgb(255,255,255)");
        assert_eq!(activation_colour(1.0), "rgb(255,85,85)");
        assert_eq!(activation_colour(-5.0), "rgb(85,85,255)");
    }
}
