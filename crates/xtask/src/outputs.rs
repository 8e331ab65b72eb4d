//! The book's quoted program outputs: `book/outputs.txt` lists them, `cargo xtask outputs [NAME...]` makes
//! them (`book/src/outputs/NAME.txt`, and `NAME.stamp` for the long ones) and the `outputs` stage of
//! `cargo xtask test` checks that they are still what the code prints.
//!
//! The list has one output per line, `NAME quick|long|long:PROBE COMMAND...`, `#` starting a comment line.
//! The command runs from the repository root and its stdout is the output. A `quick` output is re-run by
//! the check and compared with the committed file, wall-clock values masked (see [`mask`]); a `long` one is
//! too slow for that, so the check recomputes its stamp, a hash of what it depends on (see [`stamp`]), and
//! fails when that changed since the output was made. The figure commands are the lines whose command
//! writes into `book/src/figures`: `cargo xtask figures` runs those, so there is one list of commands, not
//! two.
//!
//! # Long outputs with a probe
//!
//! A plain `long` output's stamp hashes the whole library (`crates/rnn/src`), so any library change makes
//! it stale. A `long:PROBE` output ties its validity to a *probe* instead: PROBE is a `quick` output listed
//! before it that runs the same program on a small version of the same experiment (`--quick`, say). Its
//! stamp hashes the probe's committed output, timings masked, in place of the library; the rest (Cargo.lock,
//! the example, the data files, the command line) is hashed as for a plain `long` one.
//!
//! Why this is sound enough: every `cargo xtask test` re-runs the probe, so a library change that changes
//! what the probe prints fails the probe's quick check. Re-making the probe (`cargo xtask outputs PROBE`)
//! changes its committed output, so the long output's stamp no longer matches and the check asks for
//! `cargo xtask outputs NAME`. `cargo xtask outputs NAME` refuses to run while the probe's committed output
//! is not what the probe prints now, so a stamp never records a stale probe.
//!
//! Its limit: a library change that alters only what the full run exercises, and not what the probe
//! prints, goes unnoticed; the long output then stays "current" while the code would print something
//! else. So a probe must run the same code paths as the full run (every cell, variant, readout and option
//! it uses) with small sizes, and print numbers that depend on all of them (losses, not just "done").

use super::*;

/// Where the list lives, relative to the repository root.
pub(crate) const LIST: &str = "book/outputs.txt";
/// Where the outputs (and stamps) go, relative to the repository root.
pub(crate) const DIR: &str = "book/src/outputs";
/// The folder the figure commands write into, relative to the repository root.
const FIGURES: &str = "book/src/figures";

/// How an output is checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Re-run by the check and compared with the committed file, masked.
    Quick,
    /// Too slow to re-run in CI: the check compares the stamp of what it depends on (the library, or the
    /// output of its probe, see [`Entry::probe`]).
    Long,
}

/// One line of `book/outputs.txt`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    /// The output's name: its files are `book/src/outputs/NAME.txt` (and `NAME.stamp`).
    pub name: String,
    /// How it is checked.
    pub kind: Kind,
    /// For a `long:PROBE` output, the name of its probe, a quick output listed before it whose committed
    /// output the stamp hashes in place of the library. `None` for `quick` and plain `long`.
    pub probe: Option<String>,
    /// The command, split on whitespace (no quoting: an argument cannot contain a space).
    pub command: Vec<String>,
    /// Line number in the list (1-based), for messages.
    pub line: usize,
}

impl Entry {
    /// The command as written in the list.
    pub fn command_line(&self) -> String {
        self.command.join(" ")
    }

    /// Whether the command writes figures into book/src/figures.
    pub fn writes_figures(&self) -> bool {
        self.command
            .iter()
            .any(|a| a.trim_end_matches('/') == FIGURES)
    }
}

/// Parses `book/outputs.txt`: `NAME quick|long|long:PROBE COMMAND...` per line, `#` comment lines and
/// blank lines ignored. Names are unique and made of letters, digits, `_` and `-`; a PROBE is a quick
/// output listed on an earlier line.
pub(crate) fn parse_list(text: &str) -> Result<Vec<Entry>> {
    let mut entries: Vec<Entry> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let at = format!("{LIST}:{}", i + 1);
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.len() < 3 {
            return Err(format!(
                "{at}: expected `NAME quick|long|long:PROBE COMMAND...`, found `{line}`"
            ));
        }
        let name = words[0];
        if !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(format!(
                "{at}: output name `{name}` may only use letters, digits, `_` and `-`"
            ));
        }
        let (kind, probe) = match words[1].split_once(':') {
            None if words[1] == "quick" => (Kind::Quick, None),
            None if words[1] == "long" => (Kind::Long, None),
            Some(("long", probe)) => {
                match entries.iter().find(|e| e.name == probe) {
                    Some(p) if p.kind == Kind::Quick => {}
                    Some(p) => {
                        return Err(format!(
                            "{at}: the probe `{probe}` of `{name}` is a long output (line {}); a probe must be quick",
                            p.line
                        ))
                    }
                    None => {
                        return Err(format!(
                            "{at}: the probe `{probe}` of `{name}` is not a quick output listed before it"
                        ))
                    }
                }
                (Kind::Long, Some(probe.to_string()))
            }
            _ => {
                return Err(format!(
                    "{at}: `{}` should be `quick`, `long` or `long:PROBE` (the second field of `{name}`)",
                    words[1]
                ))
            }
        };
        if let Some(prev) = entries.iter().find(|e| e.name == name) {
            return Err(format!(
                "{at}: output `{name}` is already listed on line {}",
                prev.line
            ));
        }
        entries.push(Entry {
            name: name.to_string(),
            kind,
            probe,
            command: words[2..].iter().map(|w| w.to_string()).collect(),
            line: i + 1,
        });
    }
    Ok(entries)
}

/// Reads and parses the list.
pub(crate) fn read_list() -> Result<Vec<Entry>> {
    let path = root().join(LIST);
    let text = fs::read_to_string(&path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    parse_list(&text)
}

// ---------------------------------------------------------------------------------------------------------
// The mask

const UNITS: [&str; 6] = ["ms", "s", "min", "chars/s", "steps/s", "pairs/s"];

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The length in chars of a match of `[0-9][0-9,.]*\s?(ms|s|min|chars/s|steps/s|pairs/s)\b` starting at `at`, with
/// the regex's leftmost-first semantics (the alternatives in that order, `\s?` trying one space first).
fn match_at(chars: &[char], at: usize) -> Option<usize> {
    if !chars[at].is_ascii_digit() {
        return None;
    }
    let mut end = at + 1;
    while end < chars.len()
        && (chars[end].is_ascii_digit() || chars[end] == ',' || chars[end] == '.')
    {
        end += 1;
    }
    // No unit starts with a digit, ',' or '.', so giving back part of the number never helps.
    let spaces: &[usize] = if end < chars.len() && chars[end].is_whitespace() {
        &[1, 0]
    } else {
        &[0]
    };
    for &sp in spaces {
        let u0 = end + sp;
        for unit in UNITS {
            let u: Vec<char> = unit.chars().collect();
            let u1 = u0 + u.len();
            if u1 > chars.len() || chars[u0..u1] != u[..] {
                continue;
            }
            // \b after the unit: its last char is a word char, so the next must not be one.
            if u1 == chars.len() || !is_word(chars[u1]) {
                return Some(u1 - at);
            }
        }
    }
    None
}

/// Replaces every wall-clock value (a number followed by a unit among ` s`, ` ms`, ` min`, ` chars/s`,
/// ` steps/s`, ` pairs/s`, the regex `[0-9][0-9,.]*\s?(ms|s|min|chars/s|steps/s|pairs/s)\b`) by `<time>`: what is left must be
/// byte-identical from run to run.
pub(crate) fn mask(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if let Some(n) = match_at(&chars, i) {
            out.push_str("<time>");
            i += n;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------------------
// The stamp

/// FNV-1a, 64 bits: a stable hash (std's `DefaultHasher` may change between Rust releases).
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The code of a Rust file with `//` comments (line, doc and trailing ones) and blank lines removed and
/// whitespace normalised: renumbering a label in a comment, or rustfmt re-wrapping a line, leaves it as it
/// was. A `//` inside a string literal on one line is kept.
pub(crate) fn strip_rust(text: &str) -> String {
    let mut tokens: Vec<&str> = Vec::new();
    for line in text.lines() {
        let code = code_part(line);
        tokens.extend(code.split_whitespace());
    }
    tokens.join(" ")
}

/// The part of a line before a `//` comment that is not inside a string or char literal.
fn code_part(line: &str) -> &str {
    let b = line.as_bytes();
    let (mut in_str, mut i) = (false, 0);
    while i < b.len() {
        match b[i] {
            b'\\' if in_str => i += 1,
            b'"' => in_str = !in_str,
            b'\'' if !in_str => {
                // A char literal such as '"' or '/': skip it (a lifetime has no closing quote nearby).
                if i + 2 < b.len() && b[i + 2] == b'\'' {
                    i += 2;
                } else if i + 3 < b.len() && b[i + 1] == b'\\' && b[i + 3] == b'\'' {
                    i += 3;
                }
            }
            b'/' if !in_str && b.get(i + 1) == Some(&b'/') => return &line[..i],
            _ => {}
        }
        i += 1;
    }
    line
}

/// The files an output depends on, relative to the repository root and sorted: `crates/rnn/src/**` (not
/// for a `long:PROBE` output, whose probe's output stands for the library, see [`stamp`]), `Cargo.lock`, the example's file (for `--example NAME` of `-p PKG`), or the package's sources
/// (`crates/PKG/src/**`) when the command runs a package's binary, and any existing file the command
/// line names (a corpus, say).
pub(crate) fn dependencies(entry: &Entry, root: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let add_tree = |dir: PathBuf, files: &mut Vec<PathBuf>| {
        let mut stack = vec![dir];
        while let Some(d) = stack.pop() {
            let Ok(rd) = fs::read_dir(root.join(&d)) else {
                continue;
            };
            for e in rd.flatten() {
                let rel = d.join(e.file_name());
                if e.path().is_dir() {
                    stack.push(rel);
                } else {
                    files.push(rel);
                }
            }
        }
    };
    if entry.probe.is_none() {
        add_tree(PathBuf::from("crates/rnn/src"), &mut files);
    }
    files.push(PathBuf::from("Cargo.lock"));
    let cmd = &entry.command;
    let after = |flag: &str| {
        cmd.iter()
            .position(|w| w == flag)
            .and_then(|i| cmd.get(i + 1))
    };
    if let Some(pkg) = after("-p").or_else(|| after("--package")) {
        if let Some(example) = after("--example") {
            let file = PathBuf::from(format!("crates/{pkg}/examples/{example}.rs"));
            if root.join(&file).is_file() {
                files.push(file);
            } else {
                add_tree(
                    PathBuf::from(format!("crates/{pkg}/examples/{example}")),
                    &mut files,
                );
            }
        } else if pkg != "rnn" {
            add_tree(PathBuf::from(format!("crates/{pkg}/src")), &mut files);
        }
    }
    for arg in cmd {
        let p = PathBuf::from(arg);
        if p.is_relative()
            && !arg.starts_with("target/")
            && !arg.starts_with(FIGURES)
            && root.join(&p).is_file()
        {
            files.push(p);
        }
    }
    files.sort();
    files.dedup();
    files
}

/// The line of a `long:PROBE` output's stamp that stands for the library: what follows its hash.
fn probe_line(probe: &str) -> String {
    format!("probe output, timings masked: {DIR}/{probe}.txt")
}

/// The stamp of a long output: one line per file it depends on (the hash of its content, Rust files
/// stripped by [`strip_rust`] first) and one for the command line. A `long:PROBE` output has, in place of
/// the library's files, a line for its probe's committed output with timings masked by [`mask`].
pub(crate) fn stamp(entry: &Entry, root: &Path) -> Result<String> {
    let mut s = format!(
        "# stamp of {DIR}/{}.txt, made by `cargo xtask outputs {}`: FNV-1a 64 of each file it depends on\n\
         # (Rust files without `//` comments, blank lines and layout); checked by `cargo xtask test outputs`\n",
        entry.name, entry.name
    );
    if let Some(probe) = &entry.probe {
        s.push_str(&format!(
            "# the library is not hashed: the output of the probe `{probe}` stands for it\n"
        ));
    }
    s.push_str(&format!(
        "{:016x} command: {}\n",
        fnv1a(entry.command_line().as_bytes()),
        entry.command_line()
    ));
    if let Some(probe) = &entry.probe {
        let path = root.join(format!("{DIR}/{probe}.txt"));
        let text = fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        s.push_str(&format!(
            "{:016x} {}\n",
            fnv1a(mask(&text).as_bytes()),
            probe_line(probe)
        ));
    }
    for rel in dependencies(entry, root) {
        let path = root.join(&rel);
        let bytes = fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let hash = if rel.extension().is_some_and(|x| x == "rs") {
            fnv1a(strip_rust(&String::from_utf8_lossy(&bytes)).as_bytes())
        } else {
            fnv1a(&bytes)
        };
        s.push_str(&format!("{hash:016x} {}\n", rel.display()));
    }
    Ok(s)
}

/// The lines of a stamp that differ from another (what changed, for the message).
fn stamp_changes(old: &str, new: &str) -> Vec<String> {
    let entries = |s: &str| -> Vec<(String, String)> {
        s.lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.split_once(' '))
            .map(|(h, f)| (f.to_string(), h.to_string()))
            .collect()
    };
    let (old, new) = (entries(old), entries(new));
    let mut changes = Vec::new();
    for (f, h) in &new {
        match old.iter().find(|(g, _)| g == f) {
            None => changes.push(format!("new: {f}")),
            Some((_, k)) if k != h => changes.push(format!("changed: {f}")),
            _ => {}
        }
    }
    for (f, _) in &old {
        if !new.iter().any(|(g, _)| g == f) {
            changes.push(format!("gone: {f}"));
        }
    }
    changes
}

// ---------------------------------------------------------------------------------------------------------
// Running and checking

/// Runs an entry's command from the repository root; returns its stdout (stderr is shown as it comes).
fn run_entry(entry: &Entry) -> Result<String> {
    let program = if entry.command[0] == "cargo" {
        cargo()
    } else {
        entry.command[0].clone().into()
    };
    let mut cmd = Command::new(program);
    cmd.args(&entry.command[1..])
        .current_dir(root())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    println!("$ {}", entry.command_line());
    let out = cmd.output().map_err(|e| {
        format!(
            "{}: could not start `{}`: {e}",
            entry.name,
            entry.command_line()
        )
    })?;
    if !out.status.success() {
        return Err(format!(
            "{}: `{}` failed ({})",
            entry.name,
            entry.command_line(),
            out.status
        ));
    }
    String::from_utf8(out.stdout).map_err(|_| format!("{}: the output is not UTF-8", entry.name))
}

/// The entries named (all when none are), in the list's order whatever the order of the names.
fn select<'a>(entries: &'a [Entry], names: &[String]) -> Result<Vec<&'a Entry>> {
    if let Some(bad) = names
        .iter()
        .find(|n| !entries.iter().any(|e| &e.name == *n))
    {
        let known: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
        return Err(format!(
            "no output `{bad}` in {LIST}; the outputs are {}",
            known.join(", ")
        ));
    }
    Ok(entries
        .iter()
        .filter(|e| names.is_empty() || names.contains(&e.name))
        .collect())
}

/// Why a probe's committed output cannot go into the stamps of the long outputs `users` (the ones being
/// made that it is the probe of): its committed text is not what it prints now, timings masked. `None`
/// when it is.
fn stale_probe(probe: &Entry, users: &[&str], committed: &str, now: &str) -> Option<String> {
    let (line, was, is) = first_difference(&mask(committed), &mask(now))?;
    Some(format!(
        "{users}: its probe's committed {DIR}/{p}.txt is not what `{cmd}` prints now (timings masked), \
         and it would go into the stamp; first difference, line {line}:\n  committed: {was}\n  now:       {is}\n  \
         run `cargo xtask outputs {p} {users}` (the probe is made first)",
        users = users.join(" "),
        p = probe.name,
        cmd = probe.command_line(),
    ))
}

/// Before making the chosen outputs, runs the probe of each chosen `long:PROBE` output that is not itself
/// chosen and refuses (see [`stale_probe`]) if its committed output is out of date. Figures the probe
/// rewrites are put back: this only reads.
fn check_probes(entries: &[Entry], chosen: &[&Entry]) -> Result {
    let mut problems = Vec::new();
    for probe in entries {
        let users: Vec<&str> = chosen
            .iter()
            .filter(|e| e.probe.as_ref() == Some(&probe.name))
            .map(|e| e.name.as_str())
            .collect();
        if users.is_empty() || chosen.iter().any(|e| e.name == probe.name) {
            continue;
        }
        let txt = root().join(format!("{DIR}/{}.txt", probe.name));
        let committed = fs::read_to_string(txt).unwrap_or_default();
        let figures = snapshot_figures();
        let now = run_entry(probe)?;
        for (path, bytes) in &figures {
            if fs::read(path).ok().as_ref() != Some(bytes) {
                fs::write(path, bytes).map_err(|err| format!("{}: {err}", path.display()))?;
            }
        }
        problems.extend(stale_probe(probe, &users, &committed, &now));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}

/// Makes the chosen outputs, in the list's order (so a probe is made before the long outputs using it).
fn make(entries: &[Entry], chosen: &[&Entry]) -> Result {
    check_probes(entries, chosen)?;
    let dir = root().join(DIR);
    for entry in chosen {
        let t0 = Instant::now();
        // The stamp of the code as it was when the run started: an edit during a long run must not be
        // recorded as the code this output was made from.
        let stamp_before = match entry.kind {
            Kind::Long => Some(stamp(entry, &root())?),
            Kind::Quick => None,
        };
        let text = run_entry(entry)?;
        let txt = dir.join(format!("{}.txt", entry.name));
        // A quick output whose only change is a timing keeps its file: no churn in the committed text.
        let old = fs::read_to_string(&txt).ok();
        let same_but_timings = entry.kind == Kind::Quick
            && old.as_deref().map(mask) == Some(mask(&text))
            && old.as_deref() != Some(&text);
        let changed = !same_but_timings && write_if_changed(&txt, &text)?;
        if let Some(before) = stamp_before {
            if stamp(entry, &root())? != before {
                return Err(format!(
                    "{}: the code it depends on changed while it ran; run `cargo xtask outputs {}` again",
                    entry.name, entry.name
                ));
            }
            write_if_changed(&dir.join(format!("{}.stamp", entry.name)), &before)?;
        }
        println!(
            "outputs: {} {} ({:.1} s)",
            txt.strip_prefix(root()).unwrap_or(&txt).display(),
            match (changed, same_but_timings) {
                (true, _) => "written",
                (false, true) => "unchanged but for timings, kept",
                (false, false) => "unchanged",
            },
            t0.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

/// `cargo xtask outputs [NAME...]`: runs the commands (all, or the named ones) and writes their stdout into
/// book/src/outputs/NAME.txt, and the stamp of each long one into NAME.stamp.
pub(crate) fn outputs(names: &[String]) -> Result {
    let entries = read_list()?;
    make(&entries, &select(&entries, names)?)
}

/// `cargo xtask figures`: runs the commands of book/outputs.txt that write into book/src/figures (and so
/// also remakes their outputs).
pub(crate) fn figures() -> Result {
    let entries = read_list()?;
    let chosen: Vec<&Entry> = entries.iter().filter(|e| e.writes_figures()).collect();
    make(&entries, &chosen)?;
    println!(
        "figures: {} figure command(s) of {LIST} wrote into {FIGURES}",
        chosen.len()
    );
    Ok(())
}

/// The first line where two texts differ (1-based), with both versions of it.
pub(crate) fn first_difference(committed: &str, now: &str) -> Option<(usize, String, String)> {
    let (a, b): (Vec<&str>, Vec<&str>) = (committed.lines().collect(), now.lines().collect());
    for i in 0..a.len().max(b.len()) {
        let (x, y) = (a.get(i), b.get(i));
        if x != y {
            let show = |l: Option<&&str>| {
                l.map_or("(no line: the text ends)".to_string(), |l| l.to_string())
            };
            return Some((i + 1, show(x), show(y)));
        }
    }
    (committed != now).then(|| (a.len(), "(a final newline differs)".into(), String::new()))
}

/// The figures' bytes, to see whether a re-run changed one.
fn snapshot_figures() -> HashMap<PathBuf, Vec<u8>> {
    let mut m = HashMap::new();
    if let Ok(rd) = fs::read_dir(root().join(FIGURES)) {
        for e in rd.flatten() {
            if let Ok(b) = fs::read(e.path()) {
                m.insert(e.path(), b);
            }
        }
    }
    m
}

/// The `outputs` stage of `cargo xtask test`.
pub(crate) fn check_outputs() -> Result {
    let entries = read_list()?;
    let dir = root().join(DIR);
    let mut problems = Vec::new();
    // Every committed file has a line, every line its committed files.
    let mut files: Vec<String> = fs::read_dir(&dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    for f in &files {
        let (stem, ext) = f.rsplit_once('.').unwrap_or((f, ""));
        match entries.iter().find(|e| e.name == stem) {
            Some(e) if ext == "txt" || (ext == "stamp" && e.kind == Kind::Long) => {}
            Some(_) if ext == "stamp" => problems.push(format!(
                "{DIR}/{f}: `{stem}` is a quick output in {LIST}, it has no stamp"
            )),
            _ => problems.push(format!("{DIR}/{f} has no line in {LIST}")),
        }
    }
    for e in &entries {
        let mut need = vec![format!("{}.txt", e.name)];
        if e.kind == Kind::Long {
            need.push(format!("{}.stamp", e.name));
        }
        for n in need {
            if !dir.join(&n).is_file() {
                problems.push(format!(
                    "{LIST}:{}: `{}` has no committed {DIR}/{n}; run `cargo xtask outputs {}`",
                    e.line, e.name, e.name
                ));
            }
        }
    }
    if !problems.is_empty() {
        return Err(problems.join("\n"));
    }
    let (mut quick, mut long) = (0, 0);
    for e in &entries {
        let txt = format!("{DIR}/{}.txt", e.name);
        let committed =
            fs::read_to_string(root().join(&txt)).map_err(|err| format!("{txt}: {err}"))?;
        match e.kind {
            Kind::Long => {
                long += 1;
                let stamp_path = root().join(format!("{DIR}/{}.stamp", e.name));
                let old = fs::read_to_string(&stamp_path).unwrap_or_default();
                let new = stamp(e, &root())?;
                if old != new {
                    problems.push(format!(
                        "{}: {} changed since {txt} was made; re-run `cargo xtask outputs {}`\n  ({})",
                        e.name,
                        match e.probe {
                            Some(_) => "its probe's output or the code it depends on",
                            None => "the code it depends on",
                        },
                        e.name,
                        stamp_changes(&old, &new).join(", ")
                    ));
                }
            }
            Kind::Quick => {
                quick += 1;
                let before = snapshot_figures();
                let now = run_entry(e)?;
                let after = snapshot_figures();
                for (path, bytes) in &before {
                    if after.get(path) != Some(bytes) {
                        let rel = path
                            .strip_prefix(root())
                            .unwrap_or(path)
                            .display()
                            .to_string();
                        problems.push(format!(
                            "{}: the committed figure {rel} is not what `{}` draws; run `cargo xtask outputs {}` and commit it",
                            e.name,
                            e.command_line(),
                            e.name
                        ));
                        // Put the committed figure back, so that a second check fails the same way.
                        fs::write(path, bytes)
                            .map_err(|err| format!("{}: {err}", path.display()))?;
                    }
                }
                if let Some((line, was, is)) = first_difference(&mask(&committed), &mask(&now)) {
                    let users: Vec<&str> = entries
                        .iter()
                        .filter(|l| l.probe.as_ref() == Some(&e.name))
                        .map(|l| l.name.as_str())
                        .collect();
                    let also = if users.is_empty() {
                        String::new()
                    } else {
                        format!(
                            "\n  it is the probe of {}: what they print may have changed too, so re-make them after it (`cargo xtask outputs {} {}`)",
                            users.join(", "),
                            e.name,
                            users.join(" ")
                        )
                    };
                    problems.push(format!(
                        "{}: {txt} is not what `{}` prints now (timings masked); first difference, line {line}:\n  committed: {was}\n  now:       {is}\n  if the change is intended, run `cargo xtask outputs {}` and update the book's text{also}",
                        e.name,
                        e.command_line(),
                        e.name
                    ));
                }
            }
        }
    }
    if problems.is_empty() {
        println!(
            "outputs: {quick} quick output(s) re-run and identical (timings masked), {long} long output(s) with current stamps"
        );
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_list() {
        let text =
            "# comment\n\n  a_1  quick  cargo run -p rnn --example a_1 -- book/src/figures\n\
                    b-2 long cargo run --release -p rnn-cli -- train --data data/x.txt\n";
        let e = parse_list(text).unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!(
            (e[0].name.as_str(), e[0].kind, e[0].line),
            ("a_1", Kind::Quick, 3)
        );
        assert_eq!(
            e[0].command_line(),
            "cargo run -p rnn --example a_1 -- book/src/figures"
        );
        assert!(e[0].writes_figures());
        assert_eq!((e[1].name.as_str(), e[1].kind), ("b-2", Kind::Long));
        assert!(!e[1].writes_figures());
        assert_eq!((e[0].probe.as_deref(), e[1].probe.as_deref()), (None, None));
        let e = parse_list("p quick cargo run -- --quick\nx long:p cargo run\n").unwrap();
        assert_eq!((e[1].kind, e[1].probe.as_deref()), (Kind::Long, Some("p")));
        assert_eq!(e[1].command_line(), "cargo run");
        // Named in any order, the outputs are made in the list's: the probe first.
        let names = ["x".to_string(), "p".to_string()];
        let chosen: Vec<&str> = select(&e, &names)
            .unwrap()
            .iter()
            .map(|e| e.name.as_str())
            .collect();
        assert_eq!(chosen, ["p", "x"]);
    }

    #[test]
    fn rejects_bad_lines() {
        for (text, says) in [
            (
                "a quick\n",
                "expected `NAME quick|long|long:PROBE COMMAND...`",
            ),
            (
                "a fast cargo run\n",
                "should be `quick`, `long` or `long:PROBE`",
            ),
            (
                "a quick:b cargo run\n",
                "should be `quick`, `long` or `long:PROBE`",
            ),
            (
                "a quick cargo run\nb long: cargo run\n",
                "2: the probe `` of `b` is not a quick output listed before it",
            ),
            (
                "a long:p cargo run\np quick cargo run\n",
                "1: the probe `p` of `a` is not a quick output listed before it",
            ),
            (
                "p long cargo run\n# x\na long:p cargo run\n",
                "3: the probe `p` of `a` is a long output (line 1); a probe must be quick",
            ),
            ("a/b quick cargo run\n", "may only use letters"),
            (
                "a quick cargo run\n# x\na long cargo run\n",
                "already listed on line 1",
            ),
        ] {
            let err = parse_list(text).unwrap_err();
            assert!(err.contains(says), "{text:?}: {err}");
        }
    }

    #[test]
    fn masks_wall_clock_values_only() {
        let cases = [
            ("trained in 46.2 s.", "trained in <time>."),
            ("58,000 chars/s and 12 steps/s", "<time> and <time>"),
            ("190 pairs/s", "<time>"),
            ("took 3 min, 250ms", "took <time>, <time>"),
            ("1.5s\n", "<time>\n"),
            // Not wall-clock values: these stay, so a change in them fails the check.
            ("loss 1.4994 at step 40", "loss 1.4994 at step 40"),
            (
                "16 streams, 20 steps, 3 sequences",
                "16 streams, 20 steps, 3 sequences",
            ),
            ("2.163 bits/char, 10 msg", "2.163 bits/char, 10 msg"),
            ("x1s", "x<time>"), // the regex has no \b before the number
        ];
        for (text, want) in cases {
            assert_eq!(mask(text), want, "{text:?}");
        }
        // Two runs that differ only in their timings compare equal; a changed digit elsewhere does not.
        assert_eq!(mask("loss 0.056 in 1.2 s"), mask("loss 0.056 in 0.9 s"));
        assert_ne!(mask("loss 0.056 in 1.2 s"), mask("loss 0.057 in 1.2 s"));
    }

    #[test]
    fn strips_comments_and_layout_but_not_code() {
        let a = "// (4.7) label\nlet x = a + b; // (B, H)\n\n/// doc\nfn f() {}\n";
        let b = "// (4.9) renumbered\nlet x =\n    a + b; // (B, H), moved\nfn f() {}\n";
        assert_eq!(strip_rust(a), strip_rust(b));
        assert_eq!(strip_rust(a), "let x = a + b; fn f() {}");
        let c = "let x = a - b; // (B, H)\nfn f() {}\n";
        assert_ne!(strip_rust(a), strip_rust(c));
        // `//` inside a string or a char literal is code.
        assert_eq!(
            code_part(r#"let u = "http://x"; // c"#),
            r#"let u = "http://x"; "#
        );
        assert_eq!(
            code_part(r#"let q = '"'; let s = "//"; // c"#),
            r#"let q = '"'; let s = "//"; "#
        );
        assert_eq!(
            code_part(r#"let e = "a\"//b"; // c"#),
            r#"let e = "a\"//b"; "#
        );
    }

    #[test]
    fn stamp_sees_code_changes_not_comment_changes() {
        let dir = env::temp_dir().join(format!("xtask-stamp-test-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("crates/rnn/src/cells")).unwrap();
        fs::create_dir_all(dir.join("crates/rnn/examples")).unwrap();
        fs::write(dir.join("Cargo.lock"), "lock v1\n").unwrap();
        fs::write(
            dir.join("crates/rnn/src/lib.rs"),
            "// (2.1)\npub fn f() -> f64 { 1.0 }\n",
        )
        .unwrap();
        fs::write(dir.join("crates/rnn/src/cells/elman.rs"), "pub fn g() {}\n").unwrap();
        fs::write(
            dir.join("crates/rnn/examples/ex.rs"),
            "fn main() { println!(\"1\"); }\n",
        )
        .unwrap();
        fs::write(dir.join("crates/rnn/examples/other.rs"), "fn main() {}\n").unwrap();
        let entry = parse_list("ex long cargo run --release -p rnn --example ex\n")
            .unwrap()
            .remove(0);
        let deps: Vec<String> = dependencies(&entry, &dir)
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        assert_eq!(
            deps,
            [
                "Cargo.lock",
                "crates/rnn/examples/ex.rs",
                "crates/rnn/src/cells/elman.rs",
                "crates/rnn/src/lib.rs"
            ]
        );
        let s0 = stamp(&entry, &dir).unwrap();
        // A renumbered label in a comment, or another example, leaves the stamp alone.
        fs::write(
            dir.join("crates/rnn/src/lib.rs"),
            "// (2.4)\npub fn f() -> f64 {\n    1.0\n}\n",
        )
        .unwrap();
        fs::write(
            dir.join("crates/rnn/examples/other.rs"),
            "fn main() { panic!() }\n",
        )
        .unwrap();
        assert_eq!(stamp(&entry, &dir).unwrap(), s0);
        // A changed line of library code, the example, Cargo.lock or the command line changes it.
        for (file, text) in [
            (
                "crates/rnn/src/cells/elman.rs",
                "pub fn g() { }\npub fn h() {}\n",
            ),
            (
                "crates/rnn/examples/ex.rs",
                "fn main() { println!(\"2\"); }\n",
            ),
            ("Cargo.lock", "lock v2\n"),
        ] {
            let before = stamp(&entry, &dir).unwrap();
            fs::write(dir.join(file), text).unwrap();
            let after = stamp(&entry, &dir).unwrap();
            assert_ne!(before, after, "{file}");
            assert_eq!(stamp_changes(&before, &after), [format!("changed: {file}")]);
        }
        let other = parse_list("ex long cargo run --release -p rnn --example ex -- --steps 2\n")
            .unwrap()
            .remove(0);
        assert_ne!(stamp(&other, &dir).unwrap(), stamp(&entry, &dir).unwrap());
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn probe_stamp_sees_the_probe_and_the_example_not_the_library() {
        let dir = env::temp_dir().join(format!("xtask-probe-test-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("crates/rnn/src")).unwrap();
        fs::create_dir_all(dir.join("crates/rnn/examples/ex")).unwrap();
        fs::create_dir_all(dir.join(DIR)).unwrap();
        fs::create_dir_all(dir.join("data")).unwrap();
        let write = |file: &str, text: &str| fs::write(dir.join(file), text).unwrap();
        write("Cargo.lock", "lock v1\n");
        write("crates/rnn/src/lib.rs", "pub fn f() -> f64 { 1.0 }\n");
        write("crates/rnn/examples/ex/main.rs", "fn main() {}\n");
        write("data/x.txt", "abc\n");
        let probe_txt = format!("{DIR}/ex_quick.txt");
        write(&probe_txt, "loss 0.50 in 1.2 s\n");
        let list = parse_list(
            "ex_quick quick cargo run -p rnn --example ex -- --quick data/x.txt\n\
             ex long:ex_quick cargo run -p rnn --example ex -- data/x.txt\n",
        )
        .unwrap();
        let entry = &list[1];
        let deps: Vec<String> = dependencies(entry, &dir)
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        assert_eq!(
            deps,
            ["Cargo.lock", "crates/rnn/examples/ex/main.rs", "data/x.txt"]
        );
        let s0 = stamp(entry, &dir).unwrap();
        assert!(
            s0.contains(&format!(" {}\n", probe_line("ex_quick"))),
            "{s0}"
        );
        // A library change, or a probe output differing only in its timings, leaves the stamp alone.
        write("crates/rnn/src/lib.rs", "pub fn f() -> f64 { 2.0 }\n");
        write(&probe_txt, "loss 0.50 in 0.9 s\n");
        assert_eq!(stamp(entry, &dir).unwrap(), s0);
        // A changed number in the probe's output, the example, a data file or Cargo.lock changes it, and
        // the changes name the part.
        for (file, text, part) in [
            (
                probe_txt.as_str(),
                "loss 0.51 in 0.9 s\n",
                probe_line("ex_quick"),
            ),
            (
                "crates/rnn/examples/ex/main.rs",
                "fn main() { f() }\n",
                "crates/rnn/examples/ex/main.rs".to_string(),
            ),
            ("data/x.txt", "abd\n", "data/x.txt".to_string()),
            ("Cargo.lock", "lock v2\n", "Cargo.lock".to_string()),
        ] {
            let before = stamp(entry, &dir).unwrap();
            write(file, text);
            let after = stamp(entry, &dir).unwrap();
            assert_eq!(stamp_changes(&before, &after), [format!("changed: {part}")]);
        }
        // A plain long output of the same command still hashes the library.
        let plain = parse_list("ex long cargo run -p rnn --example ex -- data/x.txt\n").unwrap();
        assert!(dependencies(&plain[0], &dir).contains(&PathBuf::from("crates/rnn/src/lib.rs")));
        assert!(!stamp(&plain[0], &dir).unwrap().contains("probe"));
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_stale_probe_is_refused_with_the_command_to_run() {
        let list = parse_list("p quick cargo run -- --quick\nx long:p cargo run\n").unwrap();
        assert_eq!(
            stale_probe(&list[0], &["x"], "loss 0.5 in 1 s\n", "loss 0.5 in 2 s\n"),
            None
        );
        let err = stale_probe(&list[0], &["x"], "loss 0.5\n", "loss 0.6\n").unwrap();
        assert!(err.contains("run `cargo xtask outputs p x`"), "{err}");
        assert!(
            err.contains("committed: loss 0.5\n  now:       loss 0.6"),
            "{err}"
        );
    }

    #[test]
    fn first_difference_names_the_line() {
        assert_eq!(first_difference("a\nb\n", "a\nb\n"), None);
        assert_eq!(
            first_difference("a\nb\nc\n", "a\nB\nc\n"),
            Some((2, "b".into(), "B".into()))
        );
        assert_eq!(
            first_difference("a\n", "a\nb\n"),
            Some((2, "(no line: the text ends)".into(), "b".into()))
        );
    }
}
