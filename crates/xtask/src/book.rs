//! The book (build, include-anchor check), the browser check and the notebook runner.

use super::*;

// ---------------------------------------------------------------------------------------------------------
// book, browser check, notebooks

/// The figures the book's pages show (`figures/NAME.svg`) that are not in book/src/figures.
pub(crate) fn missing_figures() -> Result<Vec<String>> {
    let src = root().join("book/src");
    let mut missing = Vec::new();
    for entry in fs::read_dir(&src).map_err(|e| format!("{}: {e}", src.display()))? {
        let p = entry.map_err(|e| e.to_string())?.path();
        if p.extension() != Some(std::ffi::OsStr::new("md")) {
            continue;
        }
        let text = fs::read_to_string(&p).map_err(|e| e.to_string())?;
        for (i, _) in text.match_indices("figures/") {
            let name: String = text[i..]
                .chars()
                .take_while(|c| !matches!(c, ')' | '"' | '\'' | ' ' | '\n'))
                .collect();
            if !src.join(&name).is_file() && !missing.contains(&name) {
                missing.push(name);
            }
        }
    }
    Ok(missing)
}

pub(crate) fn book() -> Result {
    require_setup(&["mdbook", "mdbook-katex", "mdbook-quiz", "katex"])?;
    check_include_anchors()?;
    // Diagrams are committed too; drawing them is instant, so the book always shows the current code's.
    diagrams()?;
    // Figures are committed; a missing one is made by running the figure commands.
    if !missing_figures()?.is_empty() {
        println!(
            "book: missing figures {:?}: running the figure commands",
            missing_figures()?
        );
        figures()?;
        let still = missing_figures()?;
        if !still.is_empty() {
            return Err(format!(
                "the book shows {still:?} but no figure command (a line of book/outputs.txt whose \
                 command writes into book/src/figures) writes it"
            ));
        }
    }
    copy_notebooks_into_book()?;
    let mut cmd = Command::new(tool_bin("mdbook"));
    cmd.arg("build")
        .arg(root().join("book"))
        .env("PATH", tools_path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    println!("$ {}", show(&cmd));
    let out = cmd
        .output()
        .map_err(|e| format!("could not run mdbook: {e}"))?;
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    print!("{log}");
    if !out.status.success() {
        return Err(format!("mdbook build failed ({})", out.status));
    }
    // A missing include or anchor, a KaTeX error, ...: mdbook only warns; the course treats it as an error.
    // One warning is expected and harmless: mdbook-katex 0.10.0 was built against mdbook 0.5.3.
    let bad: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("WARN") || l.contains("ERROR"))
        .filter(|l| !l.contains("mdbook-katex was built against mdbook v0.5.3"))
        .collect();
    if !bad.is_empty() {
        return Err(format!(
            "mdbook reported {} warning(s)/error(s):\n{}",
            bad.len(),
            bad.join("\n")
        ));
    }
    Ok(())
}

/// Copies notebooks/*.ipynb into book/src/notebooks (not committed), so that a chapter's link to its
/// notebook, written `../../notebooks/NAME.ipynb` (right on the repository's web page, relative to
/// book/src), also resolves in the served book, where it lands on `/notebooks/NAME.ipynb`.
pub(crate) fn copy_notebooks_into_book() -> Result {
    let from = root().join("notebooks");
    let to = root().join("book/src/notebooks");
    let _ = fs::remove_dir_all(&to);
    fs::create_dir_all(&to).map_err(|e| format!("{}: {e}", to.display()))?;
    for e in fs::read_dir(&from).map_err(|e| format!("{}: {e}", from.display()))? {
        let p = e.map_err(|e| e.to_string())?.path();
        if p.extension().is_some_and(|x| x == "ipynb") {
            fs::copy(&p, to.join(p.file_name().unwrap()))
                .map_err(|e| format!("copying {}: {e}", p.display()))?;
        }
    }
    Ok(())
}

/// Every `{{#include file:anchor}}` / `{{#rustdoc_include file:anchor}}` of the book names an anchor that
/// exists: mdbook silently shows an empty listing for a missing one.
pub(crate) fn check_include_anchors() -> Result {
    let src = root().join("book/src");
    let mut pages = vec![src.clone()];
    let mut problems = Vec::new();
    let mut checked = 0;
    while let Some(p) = pages.pop() {
        if p.is_dir() {
            for e in fs::read_dir(&p).map_err(|e| format!("{}: {e}", p.display()))? {
                pages.push(e.map_err(|e| e.to_string())?.path());
            }
            continue;
        }
        if p.extension() != Some(std::ffi::OsStr::new("md")) {
            continue;
        }
        let text = fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display()))?;
        for (_, rest) in text.match_indices("{{#").map(|(i, _)| ((), &text[i + 3..])) {
            let Some(end) = rest.find("}}") else { continue };
            let mut words = rest[..end].split_whitespace();
            let (Some(kind), Some(target)) = (words.next(), words.next()) else {
                continue;
            };
            if kind != "include" && kind != "rustdoc_include" {
                continue;
            }
            let (file, anchor) = target.split_once(':').unwrap_or((target, ""));
            let path = p.parent().unwrap().join(file);
            let page = p.strip_prefix(root()).unwrap_or(&p).display().to_string();
            let Ok(code) = fs::read_to_string(&path) else {
                problems.push(format!(
                    "{page}: {{{{#{kind} {target}}}}}: cannot read {file}"
                ));
                continue;
            };
            checked += 1;
            // Line numbers and ranges (`:10`, `:10:20`, `:10:`) need no anchor.
            if anchor.is_empty() || anchor.chars().all(|c| c.is_ascii_digit() || c == ':') {
                continue;
            }
            let has = |m: &str| {
                code.lines().any(|l| {
                    let l0 = l.trim_start();
                    // A comment line: `//` in Rust, `#` in Python, TOML and shell.
                    (l0.starts_with("//") || l0.starts_with('#'))
                        && l.contains(&format!("{m}: {anchor}"))
                        && l.trim_end().ends_with(anchor)
                })
            };
            if !has("ANCHOR") || !has("ANCHOR_END") {
                problems.push(format!(
                    "{page}: {{{{#{kind} {target}}}}}: no `// ANCHOR: {anchor}` ... `// ANCHOR_END: {anchor}` (`#` in Python) in {file}"
                ));
            }
        }
    }
    if problems.is_empty() {
        println!("book: {checked} includes checked, every anchor exists");
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}

pub(crate) fn python_tool(script: &str, args: &[String], env_vars: &[(&str, PathBuf)]) -> Result {
    require_setup(&["venv"])?;
    let mut cmd = Command::new(venv_bin("python"));
    cmd.arg(root().join(script))
        .args(args)
        .current_dir(root())
        .env("PATH", tools_path())
        .env("JUPYTER_PLATFORM_DIRS", "1")
        .env("PYTHONDONTWRITEBYTECODE", "1");
    for (k, v) in env_vars {
        cmd.env(k, v);
    }
    run(&mut cmd)
}

pub(crate) fn browser_check() -> Result {
    require_setup(&["venv", "browser"])?;
    let args = vec![
        "--book".to_string(),
        root().join("book/book").display().to_string(),
        "--out".to_string(),
        root().join("target/browser-check").display().to_string(),
        "--chromium".to_string(),
        find_chromium().unwrap().display().to_string(),
        "--chromedriver".to_string(),
        find_chromedriver().unwrap().display().to_string(),
        "--notebooks".to_string(),
        root().join("notebooks").display().to_string(),
    ];
    python_tool("tools/browser_check.py", &args, &[])
}

pub(crate) fn notebooks(names: &[String]) -> Result {
    require_setup(&["evcxr_jupyter", "venv"])?;
    let dir = root().join("notebooks");
    let mut all: Vec<PathBuf> = fs::read_dir(&dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "ipynb"))
        .collect();
    all.sort();
    let chosen: Vec<PathBuf> = if names.is_empty() {
        all
    } else {
        let chosen: Vec<PathBuf> = all
            .into_iter()
            .filter(|p| {
                let f = p.file_name().unwrap().to_string_lossy();
                names.iter().any(|n| f.contains(n.as_str()))
            })
            .collect();
        if chosen.is_empty() {
            return Err(format!("no notebook in notebooks/ matches {names:?}"));
        }
        chosen
    };
    let args: Vec<String> = chosen.iter().map(|p| p.display().to_string()).collect();
    // One build folder for every kernel, one after the other: the first notebook compiles `rnn` and its
    // dependencies, the next ones reuse them instead of starting from an empty temporary folder. It is
    // outside the repository: inside, Cargo would take evcxr's crate for a member of our workspace.
    let build = std::env::temp_dir().join("rnn-course-evcxr");
    fs::create_dir_all(&build).map_err(|e| format!("{}: {e}", build.display()))?;
    python_tool(
        "tools/nb/run_notebooks.py",
        &args,
        &[
            ("EVCXR_CONFIG_DIR", root().join("tools/evcxr/ci")),
            ("EVCXR_TMPDIR", build),
        ],
    )
}
