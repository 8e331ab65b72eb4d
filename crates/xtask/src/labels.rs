//! `cargo xtask labels`: one equation-numbering scheme, the book's, enforced.
//!
//! The book numbers its equations per chapter with `\tag{N.M}` in display math (`$$ ... $$`): chapter N's
//! equations are (N.1), (N.2), ... in order of first appearance, appendix X's are (X.1), (X.2), ....
//! Code comments, labs and notebooks cite equations by these labels. This check reads every label and
//! fails, naming `file:line` and the label, when
//!
//! 1. a label used in `crates/`, `labs/`, `notebooks/` or `tests/` is not defined by a `\tag` in the book;
//! 2. one label tags two different equations (their TeX, whitespace normalised, differs);
//! 3. the book's prose refers to a label that no `\tag` defines;
//! 4. within a chapter, its own tags are not numbered 1, 2, 3, ... in order of first appearance (a gap
//!    or a step back), a tag mixes a plain number with lettered ones ((8.11) and (8.11a)), or a tag is not
//!    of the form N.M at all (e.g. a primed 6.1'). Letters name alternatives, not a sequence: in chapter
//!    8, *a* is PyTorch's GRU and *b* Cho et al.'s, so (8.20b) may exist without an (8.20a).
//! 5. a tag of chapter N sits in another page, but chapter N's own page does not define it, or a range
//!    ((4.8)-(4.10)) spans two chapters or runs backwards.
//!
//! **What is a label.** `(N.M)` or `(N.Ms)`: N a chapter 1..=12 or an appendix letter A..=Z, M in
//! 1..=99 without a leading zero, s an optional lowercase letter (the book uses them for the two GRU
//! forms, (8.11a) and (8.11b)); a primed `(6.1')` is read as a label too, so that a stale one fails.
//! Numbers such as (0.5), (1.0), (50.0) or (1.766) are not labels. A range `(4.8)-(4.10)` (also with
//! `–`, `--` or ` to `) uses both ends and every number between them; `(4.8), (4.9)` are two labels.
//! In prose, a number that looks like a label, such as a loss of 1.64 in parentheses, has to be written
//! so that it does not (e.g. "(loss 1.64)").
//!
//! **Where labels are read.** Rust files: only comments (`//`, `///`, `//!`, `/* */`), except in the labs'
//! checker `labs/labcheck/`, whose string literals (the messages a learner reads) count too. Notebooks:
//! markdown cells, and comments in code cells. Markdown, TOML and shell files: all of the text; in the
//! book's pages, everything outside display math (tags are read from inside it).
//!
//! **Restating an equation.** A page may repeat an equation of another chapter under that chapter's
//! label, as chapter 4 repeats (2.1) and (2.2). That is fine when the TeX is the same. When the restated
//! form is written differently on purpose, put `<!-- restates -->` on the line directly above the
//! block's opening `$$`; the block's tags are then not compared with the definition (they must still be
//! defined by their own chapter).

use super::*;

// ---------------------------------------------------------------------------------------------------------
// Labels

/// The chapter part of a label: a chapter number or an appendix letter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Part {
    Chapter(u8),
    Appendix(char),
}

impl std::fmt::Display for Part {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Part::Chapter(n) => write!(f, "{n}"),
            Part::Appendix(c) => write!(f, "{c}"),
        }
    }
}

/// An equation label such as 4.8 or 8.11a.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Label {
    part: Part,
    num: u32,
    /// A lowercase letter, or `'` for a (stale) primed label.
    suffix: Option<char>,
}

impl std::fmt::Display for Label {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "({}.{}", self.part, self.num)?;
        if let Some(s) = self.suffix {
            write!(f, "{s}")?;
        }
        write!(f, ")")
    }
}

/// Parses the inside of a label, `N.M` with an optional suffix, and nothing else.
fn parse_label(s: &str) -> Option<Label> {
    let (part, rest) = s.split_once('.')?;
    let part = match part.as_bytes() {
        [c] if c.is_ascii_uppercase() => Part::Appendix(*c as char),
        [b'1'..=b'9'] | [b'1', b'0'..=b'2'] => Part::Chapter(part.parse().ok()?),
        _ => return None,
    };
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let (num, suffix) = rest.split_at(digits);
    if !(1..=2).contains(&digits) || num.starts_with('0') {
        return None;
    }
    let suffix = match suffix.as_bytes() {
        [] => None,
        [c] if c.is_ascii_lowercase() || *c == b'\'' => Some(*c as char),
        _ => return None,
    };
    Some(Label {
        part,
        num: num.parse().ok()?,
        suffix,
    })
}

/// One occurrence of a label in a text: its byte offset and, for the far end of a range, the range's
/// start.
#[derive(Clone, Debug, PartialEq)]
struct Found {
    at: usize,
    label: Label,
    range_from: Option<Label>,
}

/// Every `(N.M)` in `text`, with ranges `(a)-(b)`, `(a)–(b)`, `(a)--(b)` and `(a) to (b)` marked on
/// their far end.
fn find_labels(text: &str) -> Vec<Found> {
    let mut found: Vec<Found> = Vec::new();
    let mut i = 0;
    while let Some(off) = text[i..].find('(') {
        let start = i + off;
        i = start + 1;
        let Some(len) = text[start + 1..].find(')') else {
            break;
        };
        if len > 6 {
            continue;
        }
        let Some(label) = parse_label(&text[start + 1..start + 1 + len]) else {
            continue;
        };
        let end = start + len + 2;
        // A label directly after a digit or letter, like `f(1.5)`, is still a label; no context needed.
        let range_from = found.last().and_then(|prev| {
            let prev_end = prev.at + prev.label.to_string().len();
            let between = text.get(prev_end..start)?;
            let sep = between.trim();
            // the separator may wrap onto the next line of a paragraph
            (prev_end <= start && ["-", "–", "—", "--", "to"].contains(&sep)).then_some(prev.label)
        });
        found.push(Found {
            at: start,
            label,
            range_from,
        });
        i = end;
    }
    found
}

// ---------------------------------------------------------------------------------------------------------
// What to scan in each kind of file

/// Keeps the bytes in `keep` ranges of `text` and turns every other byte into a space (newlines stay), so
/// offsets and line numbers still match the original.
fn mask(text: &str, keep: &[(usize, usize)]) -> String {
    let mut out: Vec<u8> = text
        .bytes()
        .map(|c| if c == b'\n' { b'\n' } else { b' ' })
        .collect();
    for &(a, z) in keep {
        out[a..z].copy_from_slice(&text.as_bytes()[a..z]);
    }
    String::from_utf8(out).expect("kept ranges start and end on ASCII delimiters")
}

/// The byte ranges of the comments of Rust source `text` (and of its string literals too, if
/// `strings`). A small lexer: it knows strings, raw strings, chars and lifetimes, so that a `//` inside
/// a string is not a comment.
fn rust_ranges(text: &str, strings: bool) -> Vec<(usize, usize)> {
    let b = text.as_bytes();
    let mut keep = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'/' if b.get(i + 1) == Some(&b'/') => {
                let end = text[i..].find('\n').map_or(b.len(), |n| i + n);
                keep.push((i, end));
                i = end;
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let (mut depth, mut j) = (1, i + 2);
                while j < b.len() && depth > 0 {
                    if b[j..].starts_with(b"/*") {
                        depth += 1;
                        j += 2;
                    } else if b[j..].starts_with(b"*/") {
                        depth -= 1;
                        j += 2;
                    } else {
                        j += 1;
                    }
                }
                keep.push((i, j));
                i = j;
            }
            b'r' if (b.get(i + 1) == Some(&b'"') || b.get(i + 1) == Some(&b'#'))
                && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_')) =>
            {
                let hashes = b[i + 1..].iter().take_while(|&&c| c == b'#').count();
                if b.get(i + 1 + hashes) != Some(&b'"') {
                    i += 1;
                    continue;
                }
                let open = i + 2 + hashes;
                let close = format!("\"{}", "#".repeat(hashes));
                let end = text[open..]
                    .find(&close)
                    .map_or(b.len(), |n| open + n + close.len());
                if strings {
                    keep.push((i, end));
                }
                i = end;
            }
            b'"' => {
                let mut j = i + 1;
                while j < b.len() && b[j] != b'"' {
                    j += if b[j] == b'\\' { 2 } else { 1 };
                }
                let end = (j + 1).min(b.len());
                if strings {
                    keep.push((i, end));
                }
                i = end;
            }
            b'\'' => {
                // a char literal ('x', '\n', '\u{..}', 'é') or a lifetime ('a)
                if b.get(i + 1) == Some(&b'\\') {
                    let j = text[i + 2..].find('\'').map_or(b.len(), |n| i + 3 + n);
                    i = j;
                } else if let Some(c) = text[i + 1..].chars().next() {
                    let j = i + 1 + c.len_utf8();
                    i = if b.get(j) == Some(&b'\'') { j + 1 } else { j };
                } else {
                    i += 1;
                }
            }
            _ => i += 1,
        }
    }
    keep
}

/// A display-math block of a book page: its TeX, its tags, and whether it is marked as a restatement.
#[derive(Debug)]
struct Block {
    restates: bool,
    /// Each tag, the byte offset of its `\tag`, and the TeX of its equation (whitespace normalised, the
    /// tag removed): the block's text from the end of the previous tag (or the block's start) to it.
    tags: Vec<(String, usize, String)>,
}

/// Splits a book page into its display-math blocks and the prose around them (masked: the math is
/// blanked).
fn markdown_math(text: &str) -> (Vec<Block>, String) {
    let mut blocks = Vec::new();
    let mut prose = Vec::new();
    let mut i = 0;
    loop {
        let Some(open) = text[i..].find("$$").map(|n| i + n) else {
            prose.push((i, text.len()));
            break;
        };
        prose.push((i, open));
        let body = open + 2;
        let close = text[body..].find("$$").map_or(text.len(), |n| body + n);
        let before = text[..open].trim_end_matches([' ', '\t']);
        let before = before.strip_suffix('\n').unwrap_or(before);
        let restates = before.trim_end().ends_with("<!-- restates -->");
        let mut tags = Vec::new();
        let mut from = body;
        let mut j = body;
        while let Some(t) = text[j..close].find("\\tag").map(|n| j + n) {
            let open_brace = text[t..close].find('{').map(|n| t + n);
            let close_brace = open_brace.and_then(|o| text[o..close].find('}').map(|n| o + n));
            let (Some(o), Some(c)) = (open_brace, close_brace) else {
                break;
            };
            let tex = normalise(&text[from..t]);
            tags.push((text[o + 1..c].trim().to_string(), t, tex));
            from = c + 1;
            j = c + 1;
        }
        blocks.push(Block { restates, tags });
        i = (close + 2).min(text.len());
        if close >= text.len() {
            break;
        }
    }
    (blocks, mask(text, &prose))
}

/// TeX with every run of whitespace made one space, trimmed, and trailing `\\` and `,` or `.` (sentence
/// punctuation that ends a display) dropped.
fn normalise(tex: &str) -> String {
    let s = tex.split_whitespace().collect::<Vec<_>>().join(" ");
    s.trim_end_matches([',', '.', ' ', '\\']).to_string()
}

/// A minimal JSON value, enough to read a notebook.
#[derive(Debug)]
enum Json {
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
    Other,
}

impl Json {
    fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Obj(kv) => kv.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }
    /// A string, or an array of strings joined (a notebook's `source`).
    fn text(&self) -> Option<String> {
        match self {
            Json::Str(s) => Some(s.clone()),
            Json::Arr(a) => a.iter().map(|v| v.text()).collect(),
            _ => None,
        }
    }
}

fn parse_json(s: &str) -> std::result::Result<Json, String> {
    let b = s.as_bytes();
    let mut i = 0;
    let v = json_value(s, b, &mut i)?;
    json_ws(b, &mut i);
    if i != b.len() {
        return Err(format!("trailing text at byte {i}"));
    }
    Ok(v)
}

fn json_ws(b: &[u8], i: &mut usize) {
    while *i < b.len() && b[*i].is_ascii_whitespace() {
        *i += 1;
    }
}

fn json_value(s: &str, b: &[u8], i: &mut usize) -> std::result::Result<Json, String> {
    json_ws(b, i);
    let err = |what: &str, at: usize| format!("{what} at byte {at}");
    match b.get(*i) {
        Some(b'{') => {
            *i += 1;
            let mut kv = Vec::new();
            loop {
                json_ws(b, i);
                if b.get(*i) == Some(&b'}') {
                    *i += 1;
                    return Ok(Json::Obj(kv));
                }
                let Json::Str(k) = json_value(s, b, i)? else {
                    return Err(err("expected a key", *i));
                };
                json_ws(b, i);
                if b.get(*i) != Some(&b':') {
                    return Err(err("expected `:`", *i));
                }
                *i += 1;
                kv.push((k, json_value(s, b, i)?));
                json_ws(b, i);
                match b.get(*i) {
                    Some(b',') => *i += 1,
                    Some(b'}') => {}
                    _ => return Err(err("expected `,` or `}`", *i)),
                }
            }
        }
        Some(b'[') => {
            *i += 1;
            let mut a = Vec::new();
            loop {
                json_ws(b, i);
                if b.get(*i) == Some(&b']') {
                    *i += 1;
                    return Ok(Json::Arr(a));
                }
                a.push(json_value(s, b, i)?);
                json_ws(b, i);
                match b.get(*i) {
                    Some(b',') => *i += 1,
                    Some(b']') => {}
                    _ => return Err(err("expected `,` or `]`", *i)),
                }
            }
        }
        Some(b'"') => {
            *i += 1;
            let mut out = String::new();
            loop {
                let start = *i;
                while *i < b.len() && b[*i] != b'"' && b[*i] != b'\\' {
                    *i += 1;
                }
                out.push_str(&s[start..*i]);
                match b.get(*i) {
                    Some(b'"') => {
                        *i += 1;
                        return Ok(Json::Str(out));
                    }
                    Some(b'\\') => {
                        let c = *b.get(*i + 1).ok_or_else(|| err("unfinished escape", *i))?;
                        *i += 2;
                        match c {
                            b'n' => out.push('\n'),
                            b't' => out.push('\t'),
                            b'r' => out.push('\r'),
                            b'b' => out.push('\u{8}'),
                            b'f' => out.push('\u{c}'),
                            b'u' => {
                                let hex = |at: usize| {
                                    s.get(at..at + 4)
                                        .and_then(|h| u32::from_str_radix(h, 16).ok())
                                        .ok_or_else(|| err("bad \\u escape", at))
                                };
                                let mut code = hex(*i)?;
                                *i += 4;
                                if (0xD800..0xDC00).contains(&code) && s[*i..].starts_with("\\u") {
                                    let low = hex(*i + 2)?;
                                    code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
                                    *i += 6;
                                }
                                out.push(char::from_u32(code).unwrap_or('\u{fffd}'));
                            }
                            c => out.push(c as char),
                        }
                    }
                    _ => return Err(err("unfinished string", start)),
                }
            }
        }
        Some(_) => {
            while *i < b.len()
                && !matches!(b[*i], b',' | b']' | b'}')
                && !b[*i].is_ascii_whitespace()
            {
                *i += 1;
            }
            Ok(Json::Other)
        }
        None => Err(err("unexpected end", *i)),
    }
}

// ---------------------------------------------------------------------------------------------------------
// The check

/// Where a label was seen: a file and a 1-based line (for notebooks, a cell and a line in it).
#[derive(Clone, Debug, PartialEq)]
struct Place {
    file: String,
    cell: Option<usize>,
    line: usize,
}

impl std::fmt::Display for Place {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.cell {
            Some(c) => write!(f, "{}:cell {}:{}", self.file, c, self.line),
            None => write!(f, "{}:{}", self.file, self.line),
        }
    }
}

fn place(file: &str, cell: Option<usize>, text: &str, at: usize) -> Place {
    Place {
        file: file.to_string(),
        cell,
        line: text[..at].matches('\n').count() + 1,
    }
}

/// The chapter a book page belongs to, from its file name: `chNN-*.md` or `appendix-x-*.md`.
fn page_part(file: &str) -> Option<Part> {
    let name = file.rsplit('/').next().unwrap_or(file);
    if let Some(rest) = name.strip_prefix("ch") {
        let n: String = rest.chars().take_while(char::is_ascii_digit).collect();
        return n.parse().ok().map(Part::Chapter);
    }
    let rest = name.strip_prefix("appendix-")?;
    let c = rest.chars().next()?.to_ascii_uppercase();
    (c.is_ascii_uppercase() && rest[1..].starts_with('-')).then_some(Part::Appendix(c))
}

/// How a file's text is read for labels.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    /// Rust: comments only, or comments and string literals.
    Rust { strings: bool },
    /// Markdown, TOML, shell: all of it.
    Text,
    /// A Jupyter notebook: markdown cells and code-cell comments.
    Notebook,
}

fn kind_of(file: &str) -> Option<Kind> {
    let ext = file.rsplit_once('.').map(|(_, e)| e)?;
    match ext {
        "rs" => Some(Kind::Rust {
            strings: file.starts_with("labs/labcheck/"),
        }),
        "md" | "toml" | "sh" | "txt" => Some(Kind::Text),
        "ipynb" => Some(Kind::Notebook),
        _ => None,
    }
}

/// The texts of `file` to scan, each with its notebook cell (if any), already masked.
fn scan_texts(
    file: &str,
    text: &str,
    kind: Kind,
) -> std::result::Result<Vec<(Option<usize>, String)>, String> {
    Ok(match kind {
        Kind::Rust { strings } => vec![(None, mask(text, &rust_ranges(text, strings)))],
        Kind::Text => vec![(None, text.to_string())],
        Kind::Notebook => {
            let nb =
                parse_json(text).map_err(|e| format!("{file}: not a readable notebook: {e}"))?;
            let Some(Json::Arr(cells)) = nb.get("cells") else {
                return Err(format!("{file}: a notebook without `cells`"));
            };
            let mut out = Vec::new();
            for (n, cell) in cells.iter().enumerate() {
                let src = cell.get("source").and_then(Json::text).unwrap_or_default();
                match cell.get("cell_type") {
                    Some(Json::Str(t)) if t == "markdown" => out.push((Some(n + 1), src)),
                    Some(Json::Str(t)) if t == "code" => {
                        let masked = mask(&src, &rust_ranges(&src, false));
                        out.push((Some(n + 1), masked));
                    }
                    _ => {}
                }
            }
            out
        }
    })
}

/// One failure of the check.
#[derive(Debug, PartialEq)]
struct Problem {
    at: Place,
    message: String,
}

/// Runs every rule. `book` holds the book's pages and `others` the files that cite labels, as
/// (path relative to the repository, contents).
fn check(book: &[(String, String)], others: &[(String, String)]) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut say = |at: Place, message: String| problems.push(Problem { at, message });

    // Tags: (label, place, TeX, restates, defining: whether the tag sits in its own chapter's page).
    struct Tag {
        label: Label,
        at: Place,
        tex: String,
        restates: bool,
    }
    let mut defining: Vec<Tag> = Vec::new();
    let mut foreign: Vec<Tag> = Vec::new();
    let mut uses: Vec<(Place, Found)> = Vec::new();
    for (file, text) in book {
        let part = page_part(file);
        let (blocks, prose) = markdown_math(text);
        // rule 4: the page's own tags run 1, 2, 3, ... in order of first appearance
        let mut seen_nums: Vec<u32> = Vec::new();
        let mut suffixes: HashMap<u32, Vec<Option<char>>> = HashMap::new();
        for block in &blocks {
            for (raw, off, tex) in &block.tags {
                let at = place(file, None, text, *off);
                let label = match parse_label(raw) {
                    Some(l) if l.suffix != Some('\'') => l,
                    _ => {
                        say(
                            at,
                            format!(
                                "\\tag{{{raw}}} is not a label of the form N.M (N a chapter 1-12 or an \
                                 appendix letter, M 1-99, an optional letter a-z): give it its own number"
                            ),
                        );
                        continue;
                    }
                };
                let tag = Tag {
                    label,
                    at: at.clone(),
                    tex: tex.clone(),
                    restates: block.restates,
                };
                if Some(label.part) != part {
                    foreign.push(tag);
                    continue;
                }
                if !seen_nums.contains(&label.num) {
                    let want = seen_nums.len() as u32 + 1;
                    let last = seen_nums.iter().max().copied().unwrap_or(0);
                    if label.num < want {
                        say(
                            at.clone(),
                            format!(
                                "{label} is out of order: it first appears after ({}.{last}); a chapter \
                                 numbers its equations in order of first appearance",
                                label.part
                            ),
                        );
                    } else if label.num > want {
                        say(
                            at.clone(),
                            format!(
                                "{label} skips a number: the next new equation of this chapter is ({}.{want})",
                                label.part
                            ),
                        );
                    }
                    seen_nums.push(label.num);
                }
                let sfx = suffixes.entry(label.num).or_default();
                if !sfx.contains(&label.suffix) {
                    if sfx.iter().any(|s| s.is_none() != label.suffix.is_none()) {
                        say(
                            at.clone(),
                            format!(
                                "{label}: one number is either plain or lettered, not both ({}.{} is \
                                 already tagged{})",
                                label.part,
                                label.num,
                                if label.suffix.is_none() { " with a letter" } else { " without a letter" }
                            ),
                        );
                    }
                    sfx.push(label.suffix);
                }
                defining.push(tag);
            }
        }
        for f in find_labels(&prose) {
            uses.push((place(file, None, &prose, f.at), f));
        }
    }

    // rule 2: one label, one equation
    let mut first: HashMap<Label, usize> = HashMap::new();
    for (k, tag) in defining.iter().enumerate() {
        match first.get(&tag.label) {
            None => {
                first.insert(tag.label, k);
            }
            Some(&j) if defining[j].tex != tag.tex && !tag.restates => say(
                tag.at.clone(),
                format!(
                    "{} tags two different equations: here `{}`, and at {} `{}`",
                    tag.label, tag.tex, defining[j].at, defining[j].tex
                ),
            ),
            Some(_) => {}
        }
    }
    for tag in &foreign {
        match first.get(&tag.label) {
            None => say(
                tag.at.clone(),
                format!(
                    "{} is tagged here, but chapter {}'s own page does not define it",
                    tag.label, tag.label.part
                ),
            ),
            Some(&j) if defining[j].tex != tag.tex && !tag.restates => say(
                tag.at.clone(),
                format!(
                    "{} tags two different equations: here `{}`, and at {} `{}` (mark a deliberate \
                     restatement with `<!-- restates -->` above its `$$`)",
                    tag.label, tag.tex, defining[j].at, defining[j].tex
                ),
            ),
            Some(_) => {}
        }
    }

    // the uses outside the book
    for (file, text) in others {
        let Some(kind) = kind_of(file) else { continue };
        let texts = match scan_texts(file, text, kind) {
            Ok(t) => t,
            Err(e) => {
                say(place(file, None, "", 0), e);
                continue;
            }
        };
        for (cell, t) in texts {
            for f in find_labels(&t) {
                uses.push((place(file, cell, &t, f.at), f));
            }
        }
    }

    // rules 1, 3 and 5: every label used is defined; ranges stay in one chapter and run forwards
    let defined = |l: &Label| first.contains_key(l);
    let variants = |part: Part, num: u32| -> Vec<Label> {
        let mut v: Vec<Label> = first
            .keys()
            .filter(|l| l.part == part && l.num == num)
            .copied()
            .collect();
        v.sort();
        v
    };
    for (at, f) in &uses {
        if !defined(&f.label) {
            let v = variants(f.label.part, f.label.num);
            let hint = if v.is_empty() {
                String::new()
            } else {
                let names: Vec<String> = v.iter().map(|l| l.to_string()).collect();
                format!(" (the book has {})", names.join(", "))
            };
            say(
                at.clone(),
                format!("{} is not defined by any \\tag in the book{hint}", f.label),
            );
        }
        if let Some(from) = f.range_from {
            if from.part != f.label.part {
                say(
                    at.clone(),
                    format!("the range {from}-{} spans two chapters", f.label),
                );
            } else if from.num >= f.label.num {
                say(
                    at.clone(),
                    format!("the range {from}-{} runs backwards", f.label),
                );
            } else {
                for n in from.num + 1..f.label.num {
                    if variants(from.part, n).is_empty() {
                        say(
                            at.clone(),
                            format!(
                                "({}.{n}), inside the range {from}-{}, is not defined by any \\tag in the book",
                                from.part, f.label
                            ),
                        );
                    }
                }
            }
        }
    }
    problems
}

// ---------------------------------------------------------------------------------------------------------
// Files

/// Every file under `dir` (relative to the repository root), sorted, skipping build output and
/// vendored or generated folders.
fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if p.is_dir() {
            if !matches!(
                name,
                "target" | "node_modules" | ".git" | ".venv" | ".ipynb_checkpoints" | "katex"
            ) {
                walk(&p, out);
            }
        } else {
            out.push(p);
        }
    }
}

fn relative(p: &Path) -> String {
    p.strip_prefix(root())
        .unwrap_or(p)
        .to_string_lossy()
        .replace('\\', "/")
}

fn read_all(paths: Vec<PathBuf>) -> Result<Vec<(String, String)>> {
    paths
        .into_iter()
        .map(|p| {
            let text =
                fs::read_to_string(&p).map_err(|e| format!("reading {}: {e}", p.display()))?;
            Ok((relative(&p), text))
        })
        .collect()
}

/// `cargo xtask labels`: checks the equation labels of the book, the code, the labs and the notebooks.
pub(crate) fn labels() -> Result {
    let r = root();
    let mut pages = Vec::new();
    walk(&r.join("book/src"), &mut pages);
    pages.retain(|p| p.extension().is_some_and(|e| e == "md"));
    let mut files = Vec::new();
    for dir in ["crates", "labs", "notebooks", "tests"] {
        walk(&r.join(dir), &mut files);
    }
    // this module's own docs and tests quote labels on purpose
    files.retain(|p| !p.ends_with("crates/xtask/src/labels.rs") && kind_of(&relative(p)).is_some());
    let (book, others) = (read_all(pages)?, read_all(files)?);
    let problems = check(&book, &others);
    let tags = book
        .iter()
        .map(|(_, t)| {
            markdown_math(t)
                .0
                .iter()
                .map(|b| b.tags.len())
                .sum::<usize>()
        })
        .sum::<usize>();
    if problems.is_empty() {
        println!(
            "labels: ok ({tags} tags in {} book pages; labels checked in {} more files)",
            book.len(),
            others.len()
        );
        return Ok(());
    }
    for p in &problems {
        eprintln!("{}: {}", p.at, p.message);
    }
    Err(format!(
        "{} equation-label problem(s); the book's \\tag{{N.M}} numbering is the one every file must use \
         (see crates/xtask/src/labels.rs)",
        problems.len()
    ))
}

// ---------------------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;

    fn l(s: &str) -> Label {
        parse_label(s).unwrap()
    }

    fn labels_in(s: &str) -> Vec<String> {
        find_labels(s).iter().map(|f| f.label.to_string()).collect()
    }

    fn page(name: &str, text: &str) -> (String, String) {
        (format!("book/src/{name}"), text.to_string())
    }

    fn file(name: &str, text: &str) -> (String, String) {
        (name.to_string(), text.to_string())
    }

    fn messages(book: &[(String, String)], others: &[(String, String)]) -> Vec<String> {
        check(book, others)
            .into_iter()
            .map(|p| format!("{}: {}", p.at, p.message))
            .collect()
    }

    #[test]
    fn what_is_a_label() {
        assert_eq!(l("4.8").to_string(), "(4.8)");
        assert_eq!(l("12.3").part, Part::Chapter(12));
        assert_eq!(l("A.21").part, Part::Appendix('A'));
        assert_eq!(l("8.11a").suffix, Some('a'));
        assert_eq!(l("6.1'").suffix, Some('\''));
        for not in [
            "0.5", "1.0", "50.0", "13.1", "1.766", "4.08", "4.", ".5", "a.1", "AB.1", "4.8ab",
            "4.8A", "04.1", "B, H",
        ] {
            assert_eq!(parse_label(not), None, "{not}");
        }
        assert_eq!(
            labels_in("(0.5), (1.0), (50.0), (1.766) and (x.1) but (2.1), (A.3), (8.29b)"),
            ["(2.1)", "(A.3)", "(8.29b)"]
        );
        assert_eq!(
            labels_in("σ(3.2) ((4.1)) (4.1, 4.2) (4.1 )"),
            ["(3.2)", "(4.1)"]
        );
    }

    #[test]
    fn ranges_and_lists() {
        let f = find_labels(
            "(4.8)-(4.10), (3.2) to (3.5), (7.8)–(7.17) and (2.1), (2.2) (5.4) -- (5.5)",
        );
        let ranges: Vec<(String, String)> = f
            .iter()
            .filter_map(|f| f.range_from.map(|a| (a.to_string(), f.label.to_string())))
            .collect();
        assert_eq!(
            ranges,
            [
                ("(4.8)".into(), "(4.10)".into()),
                ("(3.2)".into(), "(3.5)".into()),
                ("(7.8)".into(), "(7.17)".into()),
                ("(5.4)".into(), "(5.5)".into())
            ]
        );
        assert_eq!(f.len(), 10, "a list is separate labels, each used");
    }

    #[test]
    fn rust_labels_only_in_comments() {
        let src = "let s = \"(4.1) in a string // not a comment (4.2)\";\n\
                   let c = '\"'; let l: &'a str = r#\"(4.3) \"# ;\n\
                   // (4.4) a comment\n/// (4.5) a doc comment\nx /* (4.6) */ + 1; //! (4.7)\n\
                   println!(\"σ(6.5) ≈ 1\"); let a = (1.5);";
        let masked = mask(src, &rust_ranges(src, false));
        assert_eq!(labels_in(&masked), ["(4.4)", "(4.5)", "(4.6)", "(4.7)"]);
        assert_eq!(masked.len(), src.len());
        assert_eq!(masked.lines().count(), src.lines().count());
        let with_strings = mask(src, &rust_ranges(src, true));
        assert_eq!(
            labels_in(&with_strings),
            ["(4.1)", "(4.2)", "(4.3)", "(4.4)", "(4.5)", "(4.6)", "(4.7)", "(6.5)"]
        );
    }

    #[test]
    fn notebooks_markdown_and_code_comments() {
        let nb = r#"{"cells": [
            {"cell_type": "markdown", "metadata": {}, "source": ["Equation (2.1)\n", "and (2.2) \u00e9"]},
            {"cell_type": "code", "execution_count": null, "outputs": [],
             "source": "let x = (2.3); // (2.4) here\nprintln!(\"(2.5)\");"},
            {"cell_type": "raw", "source": "(2.6)"}
        ], "nbformat": 4}"#;
        let texts = scan_texts("notebooks/x.ipynb", nb, Kind::Notebook).unwrap();
        let found: Vec<(Option<usize>, Vec<String>)> =
            texts.iter().map(|(c, t)| (*c, labels_in(t))).collect();
        assert_eq!(
            found,
            [
                (Some(1), vec!["(2.1)".to_string(), "(2.2)".to_string()]),
                (Some(2), vec!["(2.4)".to_string()])
            ]
        );
        assert!(scan_texts("notebooks/x.ipynb", "{\"cells\": [", Kind::Notebook).is_err());
    }

    #[test]
    fn math_blocks_tags_and_prose() {
        let text = "Text (1.1).\n\n$$\nh_t = \\tanh(a_t)   \\tag{1.1}\n$$\n\n<!-- restates -->\n$$\ny = W h \\tag{1.2}\n$$\nEnd (1.2).";
        let (blocks, prose) = markdown_math(text);
        assert_eq!(blocks.len(), 2);
        assert_eq!(blocks[0].tags[0].0, "1.1");
        assert_eq!(blocks[0].tags[0].2, "h_t = \\tanh(a_t)");
        assert!(!blocks[0].restates && blocks[1].restates);
        assert_eq!(labels_in(&prose), ["(1.1)", "(1.2)"]);
        assert_eq!(page_part("book/src/ch04-bptt.md"), Some(Part::Chapter(4)));
        assert_eq!(
            page_part("book/src/appendix-a-optimisers.md"),
            Some(Part::Appendix('A'))
        );
        assert_eq!(page_part("book/src/introduction.md"), None);
    }

    const CH2: &str = "$$\na_t = W x \\tag{2.1}\n$$\n\n$$\nh_t = \\tanh(a_t) \\tag{2.2}\n$$\n\n\
                       $$\ny_t = W_{hy} h_t \\tag{2.3}\n$$\n";

    #[test]
    fn the_book_as_it_is_passes() {
        let ch4 = "Once more:\n$$\na_t   =  W x \\tag{2.1}\n$$\n\n$$\nd = 1 \\tag{4.1}\n$$\nBy (2.1) and (4.1).";
        let book = [page("ch02-x.md", CH2), page("ch04-y.md", ch4)];
        let code = [file(
            "crates/rnn/src/a.rs",
            "// (2.1)-(2.3) and (4.1)\nlet x = (4.2);",
        )];
        assert_eq!(messages(&book, &code), Vec::<String>::new());
    }

    #[test]
    fn fails_on_a_code_label_the_book_does_not_define() {
        // before: layers.rs called the embedding (3.10), which chapter 3 never tags
        let before = [file(
            "crates/rnn/src/layers.rs",
            "fn f() {\n    // (3.10) x = E[id]\n}",
        )];
        assert_eq!(
            messages(&[page("ch02-x.md", CH2)], &before),
            ["crates/rnn/src/layers.rs:2: (3.10) is not defined by any \\tag in the book"]
        );
        let after = [file(
            "crates/rnn/src/layers.rs",
            "fn f() {\n    // (2.3) x = E[id]\n}",
        )];
        assert!(messages(&[page("ch02-x.md", CH2)], &after).is_empty());
        // a lettered label needs its letter; a range needs every number inside it
        let gru =
            "$$\nn = a \\tag{8.1a}\n$$\n$$\nn = b \\tag{8.1b}\n$$\n$$\nh = c \\tag{8.2}\n$$\n";
        let uses = [
            file("labs/x.toml", "hint = \"(8.1) and (8.1a)-(8.2)\""),
            file("labs/y.md", "(2.1)-(2.4)"),
        ];
        assert_eq!(
            messages(&[page("ch02-x.md", CH2), page("ch08-g.md", gru)], &uses),
            [
                "labs/x.toml:1: (8.1) is not defined by any \\tag in the book (the book has (8.1a), (8.1b))",
                "labs/y.md:1: (2.4) is not defined by any \\tag in the book"
            ]
        );
    }

    #[test]
    fn fails_when_one_label_tags_two_equations() {
        // before: chapter 4 restating (2.1) with different TeX
        let ch4 = "$$\na_t = W_{ih} x_t \\tag{2.1}\n$$\n";
        let got = messages(&[page("ch02-x.md", CH2), page("ch04-y.md", ch4)], &[]);
        assert_eq!(got.len(), 1, "{got:?}");
        assert!(got[0].starts_with("book/src/ch04-y.md:2: (2.1) tags two different equations"));
        // marked as a deliberate restatement, it passes; the same TeX passes anyway
        let marked = "<!-- restates -->\n$$\na_t = W_{ih} x_t \\tag{2.1}\n$$\n";
        assert!(messages(&[page("ch02-x.md", CH2), page("ch04-y.md", marked)], &[]).is_empty());
        // within one chapter
        let twice = format!("{CH2}$$\nz = 1 \\tag{{2.3}}\n$$\n");
        let got = messages(&[page("ch02-x.md", &twice)], &[]);
        assert_eq!(got.len(), 1, "{got:?}");
        assert!(got[0].contains("(2.3) tags two different equations"));
        // a foreign tag whose own chapter does not define it
        let got = messages(
            &[
                page("ch02-x.md", CH2),
                page("ch04-y.md", "$$\nq \\tag{2.9}\n$$\n"),
            ],
            &[],
        );
        assert_eq!(got, ["book/src/ch04-y.md:2: (2.9) is tagged here, but chapter 2's own page does not define it"]);
    }

    #[test]
    fn fails_on_prose_that_cites_an_undefined_label() {
        // before: chapter 5 cited "(C.1)–(C.4)", labels no page tags
        let ch5 = "$$\ng \\tag{5.1}\n$$\nThe library's comments number the pieces\n(C.1)–(C.4):\n";
        assert_eq!(
            messages(&[page("ch05-v.md", ch5)], &[]),
            [
                "book/src/ch05-v.md:5: (C.1) is not defined by any \\tag in the book",
                "book/src/ch05-v.md:5: (C.4) is not defined by any \\tag in the book",
                "book/src/ch05-v.md:5: (C.2), inside the range (C.1)-(C.4), is not defined by any \\tag in the book",
                "book/src/ch05-v.md:5: (C.3), inside the range (C.1)-(C.4), is not defined by any \\tag in the book",
            ]
        );
        // ranges that span chapters or run backwards
        let got = messages(
            &[page(
                "ch05-v.md",
                ch5.replace("(C.1)–(C.4)", "(5.1)-(6.1), (5.1) to (5.1)")
                    .as_str(),
            )],
            &[],
        );
        assert!(
            got.iter()
                .any(|m| m.contains("(5.1)-(6.1) spans two chapters")),
            "{got:?}"
        );
        assert!(
            got.iter().any(|m| m.contains("(5.1)-(5.1) runs backwards")),
            "{got:?}"
        );
        let after = "$$\ng \\tag{5.1}\n$$\nThe library's comments label each line\n(5.1):\n";
        assert!(messages(&[page("ch05-v.md", after)], &[]).is_empty());
        // a number that looks like a label fails until it is written as a number
        let loss = "$$\ng \\tag{1.1}\n$$\nthe training loss (1.64) is";
        assert_eq!(messages(&[page("ch01-s.md", loss)], &[]).len(), 1);
        let loss = "$$\ng \\tag{1.1}\n$$\nthe training loss (1.766) is (loss 1.64)";
        assert!(messages(&[page("ch01-s.md", loss)], &[]).is_empty());
    }

    #[test]
    fn fails_when_a_chapter_numbers_out_of_order() {
        // before: chapter 2 tagged (2.4) before (2.3)
        let ch2 = "$$\na \\tag{2.1}\n$$\n$$\nb \\tag{2.2}\n$$\n$$\ny \\tag{2.4}\n$$\n$$\nu \\tag{2.3}\n$$\n";
        assert_eq!(
            messages(&[page("ch02-x.md", ch2)], &[]),
            [
                "book/src/ch02-x.md:8: (2.4) skips a number: the next new equation of this chapter is (2.3)",
                "book/src/ch02-x.md:11: (2.3) is out of order: it first appears after (2.4); a chapter numbers its \
                 equations in order of first appearance"
            ]
        );
        assert!(messages(&[page("ch02-x.md", CH2)], &[]).is_empty());
        // before: chapter 3 jumped from (3.2) to (3.5); chapter 6 had a primed (6.1')
        let gap = messages(
            &[page(
                "ch03-l.md",
                "$$\na \\tag{3.1}\n$$\n$$\nb \\tag{3.5}\n$$\n",
            )],
            &[],
        );
        assert_eq!(gap.len(), 1);
        assert!(gap[0].contains("(3.5) skips a number"));
        let primed = messages(
            &[page(
                "ch06-c.md",
                "$$\na \\tag{6.1}\n$$\n$$\nb \\tag{6.1'}\n$$\n",
            )],
            &[],
        );
        assert_eq!(primed.len(), 1);
        assert!(primed[0].contains("\\tag{6.1'} is not a label"));
        // letters name alternatives (an (8.2b) without an (8.2a) is fine), never mixed with the plain number
        let ok = "$$\na \\tag{8.1a}\n$$\n$$\nb \\tag{8.1b}\n$$\n$$\nc \\tag{8.2b}\n$$\n$$\nd \\tag{8.1a}\n$$\n";
        let got = messages(&[page("ch08-g.md", ok)], &[]);
        assert_eq!(got.len(), 1, "{got:?}");
        assert!(got[0].contains("(8.1a) tags two different equations"));
        let bad = "$$\na \\tag{8.1}\n$$\n$$\nb \\tag{8.1a}\n$$\n$$\nc \\tag{8.2b}\n$$\n";
        let got = messages(&[page("ch08-g.md", bad)], &[]);
        assert_eq!(got.len(), 1, "{got:?}");
        assert!(got[0].contains("(8.1a): one number is either plain or lettered"));
    }
}
