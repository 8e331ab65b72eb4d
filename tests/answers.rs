//! Every exercise of a chapter with answers has a worked answer, folded (docs/writing-a-chapter.md,
//! "Exercises and their answers").
//!
//! In the section `## Exercises` of each page in [`CHAPTERS_WITH_ANSWERS`], every numbered exercise
//! (`1. ...`, `2. ...`, numbered from 1 without gaps) must be followed, before the next exercise, by
//! exactly one answer block, written at the top level of the page (column 0):
//!
//! ```text
//! <details class="answer">
//! <summary>Answer</summary>
//!
//! ...Markdown...
//!
//! </details>
//! ```
//!
//! closed by default: no `open` attribute, and no other `<details>` or `<summary>` in the section. The browser
//! check (tools/browser_check.py) then checks in the built book that each block is closed at load, opens
//! when its summary is clicked, and shows its content (with its math rendered).

use std::path::Path;

/// The chapters whose exercises carry worked answers. Later chapters add themselves here when their
/// answers are written.
const CHAPTERS_WITH_ANSWERS: &[&str] = &[
    "ch01-sequences-and-notation.md",
    "ch02-elman-rnn.md",
    "ch03-language-models.md",
    "ch04-bptt.md",
    "ch05-vanishing-exploding.md",
    "ch06-char-lm.md",
];

const OPEN: &str = r#"<details class="answer">"#;
const SUMMARY: &str = "<summary>Answer</summary>";
const CLOSE: &str = "</details>";

/// The number of a line that starts an exercise (`12. **Title.** ...` at column 0), if it is one.
fn exercise_number(line: &str) -> Option<u32> {
    let (num, rest) = line.split_once(". ")?;
    if num.is_empty() || !num.bytes().all(|b| b.is_ascii_digit()) || rest.trim().is_empty() {
        return None;
    }
    num.parse().ok()
}

/// What is wrong with the answers of one page's `## Exercises` section; empty if nothing. Also returns
/// the number of exercises found.
fn answer_problems(page: &str, text: &str) -> (Vec<String>, usize) {
    let mut problems = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    let Some(start) = lines.iter().position(|l| l.trim_end() == "## Exercises") else {
        return (vec![format!("{page}: no `## Exercises` section")], 0);
    };
    let end = lines[start + 1..]
        .iter()
        .position(|l| l.starts_with("## "))
        .map_or(lines.len(), |i| start + 1 + i);
    let section = &lines[start + 1..end];
    let at = |i: usize| format!("{page}:{}", start + 2 + i);

    // Exercise k owns the lines from its own line to the next exercise (or the section's end).
    let starts: Vec<(usize, u32)> = section
        .iter()
        .enumerate()
        .filter_map(|(i, l)| exercise_number(l).map(|n| (i, n)))
        .collect();
    if starts.is_empty() {
        problems.push(format!("{page}: `## Exercises` has no numbered exercise"));
    }
    for (k, &(i, n)) in starts.iter().enumerate() {
        if n as usize != k + 1 {
            problems.push(format!(
                "{}: exercise numbered {n}, expected {} (number them 1, 2, 3, ...)",
                at(i),
                k + 1
            ));
        }
    }
    // Anything before the first exercise (the section's introduction) must not hold an answer.
    let first = starts.first().map_or(section.len(), |s| s.0);
    if section[..first].iter().any(|l| l.contains("<details")) {
        problems.push(format!(
            "{page}: an answer block before the first exercise of `## Exercises`"
        ));
    }
    for (k, &(i, n)) in starts.iter().enumerate() {
        let stop = starts.get(k + 1).map_or(section.len(), |s| s.0);
        let body = &section[i..stop];
        // Every <details>/<summary> in the exercise's lines, wherever it is and however it is written.
        let details: Vec<usize> = (0..body.len())
            .filter(|&j| body[j].contains("<details"))
            .collect();
        let summaries = body.iter().filter(|l| l.contains("<summary")).count();
        let closes: Vec<usize> = (0..body.len())
            .filter(|&j| body[j].contains(CLOSE))
            .collect();
        let name = format!("{}: exercise {n}", at(i));
        match details.as_slice() {
            [] => {
                problems.push(format!(
                    "{name} has no worked answer (a `{OPEN}` block after it)"
                ));
                continue;
            }
            [_] => {}
            _ => {
                problems.push(format!(
                    "{name} has {} answer blocks, expected one",
                    details.len()
                ));
                continue;
            }
        }
        let d = details[0];
        let line = body[d];
        if line != OPEN {
            let why = if line.contains("open") {
                " (it must be closed by default: no `open`)"
            } else if line.starts_with(' ') || line.starts_with('\t') {
                " (at column 0: inside the list item, an included listing would end the item)"
            } else {
                ""
            };
            problems.push(format!(
                "{}: exercise {n}'s answer starts with `{}`, expected exactly `{OPEN}`{why}",
                at(i + d),
                line.trim()
            ));
        }
        if d == 0 || !body[d - 1].trim().is_empty() {
            problems.push(format!(
                "{}: exercise {n}'s answer block needs a blank line before it",
                at(i + d)
            ));
        }
        if body.get(d + 1).copied() != Some(SUMMARY) || summaries != 1 {
            problems.push(format!(
                "{}: exercise {n}'s answer block must have `{SUMMARY}` on the line after `{OPEN}` (and no other summary)",
                at(i + d)
            ));
        }
        if body.get(d + 2).is_some_and(|l| !l.trim().is_empty()) {
            problems.push(format!(
                "{}: a blank line must follow `{SUMMARY}`, or its Markdown is not rendered",
                at(i + d + 2)
            ));
        }
        match closes.as_slice() {
            [c] if *c > d + 2 && body[*c] == CLOSE => {
                if !body[c - 1].trim().is_empty() {
                    problems.push(format!(
                        "{}: a blank line must precede `{CLOSE}`, or the Markdown before it is not rendered",
                        at(i + c)
                    ));
                }
                if body[d + 3..*c].iter().all(|l| l.trim().is_empty()) {
                    problems.push(format!("{name}'s answer is empty"));
                }
                if let Some(extra) = body[c + 1..].iter().position(|l| !l.trim().is_empty()) {
                    problems.push(format!(
                        "{}: text between exercise {n}'s answer and the next exercise",
                        at(i + c + 1 + extra)
                    ));
                }
            }
            [] => problems.push(format!("{name}'s answer block is not closed by `{CLOSE}`")),
            _ => problems.push(format!(
                "{name}'s answer block must be closed by one `{CLOSE}` alone on its line, after its content"
            )),
        }
    }
    (problems, starts.len())
}

#[test]
fn every_exercise_has_a_folded_worked_answer() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("book/src");
    let mut problems = Vec::new();
    for page in CHAPTERS_WITH_ANSWERS {
        let text = std::fs::read_to_string(src.join(page))
            .unwrap_or_else(|e| panic!("book/src/{page}: {e}"));
        let (found, n) = answer_problems(&format!("book/src/{page}"), &text);
        problems.extend(found);
        println!("book/src/{page}: {n} exercises");
    }
    assert!(
        problems.is_empty(),
        "worked answers (docs/writing-a-chapter.md, \"Exercises and their answers\"):\n  {}",
        problems.join("\n  ")
    );
}

/// The check itself: it accepts the convention and names each way of breaking it.
#[test]
fn the_answer_check_catches_each_mistake() {
    let good = "# T\n\n## Exercises\n\nIntro.\n\n1. **A.** Question\n   on two lines.\n\n\
                <details class=\"answer\">\n<summary>Answer</summary>\n\nText.\n\n</details>\n\n\
                2. **B.** Another.\n\n<details class=\"answer\">\n<summary>Answer</summary>\n\nMore.\n\n\
                </details>\n\n## Notebook\n\n1. Not an exercise.\n";
    let (problems, n) = answer_problems("good", good);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(n, 2);
    let cases = [
        (
            good.replacen(
                "<details class=\"answer\">\n<summary>Answer</summary>\n\nMore.\n\n</details>\n\n",
                "",
                1,
            ),
            "exercise 2 has no worked answer",
        ),
        (
            good.replacen(
                "<details class=\"answer\">",
                "<details class=\"answer\" open>",
                1,
            ),
            "closed by default",
        ),
        (
            good.replacen(
                "<details class=\"answer\">",
                "   <details class=\"answer\">",
                1,
            ),
            "at column 0",
        ),
        (
            good.replacen("<details class=\"answer\">", "<details>", 1),
            "expected exactly",
        ),
        (
            good.replacen("<summary>Answer</summary>\n", "", 1),
            "must have `<summary>Answer</summary>`",
        ),
        (
            good.replacen(
                "<summary>Answer</summary>\n\n",
                "<summary>Answer</summary>\n",
                1,
            ),
            "a blank line must follow",
        ),
        (
            good.replacen("Text.\n\n</details>", "Text.\n</details>", 1),
            "a blank line must precede",
        ),
        (
            good.replacen("Text.\n\n</details>\n", "Text.\n\n", 1),
            "not closed",
        ),
        (good.replacen("2. **B.**", "3. **B.**", 1), "expected 2"),
        (
            good.replacen(
                "Intro.\n",
                "Intro.\n\n<details>\n<summary>x</summary>\n\ny\n\n</details>\n",
                1,
            ),
            "before the first exercise",
        ),
        (
            good.replacen("</details>\n\n2.", "</details>\n\nStray text.\n\n2.", 1),
            "text between",
        ),
        (
            good.replacen("## Exercises", "## Problems", 1),
            "no `## Exercises` section",
        ),
    ];
    for (text, want) in cases {
        let (problems, _) = answer_problems("bad", &text);
        assert!(
            problems.iter().any(|p| p.contains(want)),
            "expected a problem containing {want:?}, got {problems:?} for:\n{text}"
        );
    }
}
