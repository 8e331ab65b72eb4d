//! `cargo xtask`: the course's developer tasks.
//!
//! ```text
//! cargo xtask setup            install the pinned tools (idempotent; ~15-25 min the first time)
//! cargo xtask open             set up, build the book, serve it and start JupyterLab on notebooks/
//! cargo xtask test             everything CI checks, stage by stage, failing fast
//! cargo xtask book             build the book into book/book
//! cargo xtask figures          regenerate the book's figures (SVG) with their commands
//! cargo xtask browser-check    build the book and check every page in headless Chromium
//! cargo xtask notebooks [NAME] run notebooks/*.ipynb (or the named ones) with the real evcxr kernel
//! cargo xtask strip-notebooks  remove outputs and execution counts from notebooks/*.ipynb
//! ```
//!
//! Only `std`: every task shells out to the real tools (cargo, mdbook, python, npm, apt-get).

use std::collections::HashMap;
use std::env;
use std::ffi::OsString;
use std::fs;
use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

/// A tool installed with `cargo install --locked`, at a pinned version.
struct CargoTool {
    krate: &'static str,
    version: &'static str,
    bin: &'static str,
    /// Build with `opt-level = 1`: much faster to compile, no cost that a user would notice.
    opt1: bool,
}

const CARGO_TOOLS: &[CargoTool] = &[
    CargoTool {
        krate: "mdbook",
        version: "0.5.4",
        bin: "mdbook",
        opt1: false,
    },
    CargoTool {
        krate: "mdbook-katex",
        version: "0.10.0",
        bin: "mdbook-katex",
        opt1: false,
    },
    CargoTool {
        krate: "evcxr_jupyter",
        version: "0.22.0",
        bin: "evcxr_jupyter",
        opt1: true,
    },
    // The labs are a rustlings (v6) community-exercise project: learners run `rustlings` in labs/, and
    // the labs stage runs `rustlings dev check`.
    CargoTool {
        krate: "rustlings",
        version: "6.5.0",
        bin: "rustlings",
        opt1: true,
    },
];

/// The KaTeX release whose CSS and fonts match the KaTeX that mdbook-katex 0.10.0 renders with
/// (the `katex` crate 0.4.6 bundles KaTeX 0.16.4). Pinned in tools/katex/package.json and its lock file.
const KATEX_VERSION: &str = "0.16.4";

const DEBIAN_PACKAGES: &[&str] = &["chromium", "chromium-driver", "fonts-dejavu-core"];

type Result<T = ()> = std::result::Result<T, String>;

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let (task, rest) = match args.split_first() {
        Some((t, r)) => (t.as_str(), r),
        None => ("help", &[][..]),
    };
    let result = match task {
        "setup" => setup().map(|_| ()),
        "open" => open(rest),
        "test" => return test(rest),
        "book" => book(),
        "figures" => figures(),
        "browser-check" => book().and_then(|_| browser_check()),
        "notebooks" => notebooks(rest),
        "strip-notebooks" => python_tool("tools/nb/run_notebooks.py", &["--strip".into()], &[]),
        "help" | "-h" | "--help" => {
            print_help();
            Ok(())
        }
        other => Err(format!("unknown task `{other}`; try `cargo xtask help`")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn print_help() {
    println!(
        "cargo xtask <task>\n\n\
         setup            install the pinned tools (mdbook, mdbook-katex, evcxr_jupyter, Chromium, a Python\n\
         \x20                venv in .venv with Jupyter, KaTeX CSS and fonts); a second run only checks\n\
         open             set up if needed, build and serve the book, start JupyterLab on notebooks/\n\
         \x20                options: --book-port N, --lab-port N, --no-lab\n\
         test [STAGE...]  fmt, clippy, test, doc, labs, book, browser-check, notebooks (or only the named\n\
         \x20                stages), in that order, stopping at the first failure\n\
         book             build the book into book/book (running the figure commands if a figure is missing)\n\
         figures          run every figure command (examples that write into book/src/figures)\n\
         browser-check    build the book and check every page in headless Chromium\n\
         notebooks [NAME] run notebooks/*.ipynb (or those whose file name contains NAME) headless\n\
         strip-notebooks  remove outputs and execution counts from notebooks/*.ipynb\n\n\
         Environment: RNN_COURSE_TOOLS (where cargo tools go; default ~/.local/share/rnn-course/tools),\n\
         PYTHON (default python3), CHROMIUM, CHROMEDRIVER (browser paths)."
    );
}

// ---------------------------------------------------------------------------------------------------------
// Paths and small helpers

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("crates/xtask sits two levels below the workspace root")
        .to_path_buf()
}

fn tools_root() -> PathBuf {
    if let Some(p) = env::var_os("RNN_COURSE_TOOLS") {
        return PathBuf::from(p);
    }
    let home = env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    let data = env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| home.join(".local/share"));
    data.join("rnn-course/tools")
}

fn tool_bin(name: &str) -> PathBuf {
    tools_root().join("bin").join(name)
}

fn venv() -> PathBuf {
    root().join(".venv")
}

fn venv_bin(name: &str) -> PathBuf {
    venv().join("bin").join(name)
}

fn cargo() -> OsString {
    env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

/// PATH with the pinned tools first (mdbook finds its preprocessors on PATH).
fn tools_path() -> OsString {
    let mut paths = vec![tools_root().join("bin"), venv().join("bin")];
    if let Some(p) = env::var_os("PATH") {
        paths.extend(env::split_paths(&p));
    }
    env::join_paths(paths).expect("PATH entries are valid")
}

fn which(name: &str) -> Option<PathBuf> {
    let path = env::var_os("PATH")?;
    env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

fn show(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        let a = a.to_string_lossy();
        if a.contains(' ') || a.is_empty() {
            s.push_str(&format!(" '{a}'"));
        } else {
            s.push(' ');
            s.push_str(&a);
        }
    }
    s
}

/// Runs a command with inherited stdio; an error names the command and its exit status.
fn run(cmd: &mut Command) -> Result {
    println!("$ {}", show(cmd));
    let status = cmd
        .status()
        .map_err(|e| format!("could not start `{}`: {e}", show(cmd)))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{}` failed ({status})", show(cmd)))
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn write_if_changed(path: &Path, contents: &str) -> Result<bool> {
    if fs::read_to_string(path).ok().as_deref() == Some(contents) {
        return Ok(false);
    }
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    }
    fs::write(path, contents).map_err(|e| format!("writing {}: {e}", path.display()))?;
    Ok(true)
}

// ---------------------------------------------------------------------------------------------------------
// setup

/// What setup did, one line per step.
struct Report(Vec<(String, String)>);

impl Report {
    fn add(&mut self, what: &str, outcome: impl Into<String>) {
        let outcome = outcome.into();
        println!("setup: {what}: {outcome}");
        self.0.push((what.to_string(), outcome));
    }
}

fn cargo_tool_installed(t: &CargoTool) -> bool {
    let manifest = fs::read_to_string(tools_root().join(".crates.toml")).unwrap_or_default();
    let key = format!("\"{} {} (registry+", t.krate, t.version);
    manifest.contains(&key) && tool_bin(t.bin).is_file()
}

fn setup() -> Result<Report> {
    let start = Instant::now();
    let mut report = Report(Vec::new());
    let mut apt_updated = false;
    let root = root();

    // 1. Rust tools, pinned, into a tools folder shared by every checkout of the course.
    for t in CARGO_TOOLS {
        let what = format!("{} {}", t.krate, t.version);
        if cargo_tool_installed(t) {
            report.add(&what, "already installed");
            continue;
        }
        let t0 = Instant::now();
        let mut cmd = Command::new(cargo());
        cmd.args(["install", "--locked", "--root"])
            .arg(tools_root())
            .arg(format!("{}@{}", t.krate, t.version))
            .current_dir(env::temp_dir());
        if t.opt1 {
            cmd.env("CARGO_PROFILE_RELEASE_OPT_LEVEL", "1");
        }
        run(&mut cmd)?;
        report.add(
            &what,
            format!(
                "installed into {} in {:.0?}",
                tools_root().join("bin").display(),
                t0.elapsed()
            ),
        );
    }

    // 2. Chromium and its WebDriver, from Debian's packages.
    let browser = find_chromium();
    let driver = find_chromedriver();
    if browser.is_some() && driver.is_some() {
        report.add("chromium + chromedriver", "already installed");
    } else if apt_usable() {
        let t0 = Instant::now();
        apt_install(&mut apt_updated, DEBIAN_PACKAGES)?;
        report.add(
            "chromium + chromedriver",
            format!("installed with apt-get in {:.0?}", t0.elapsed()),
        );
    } else {
        report.add(
            "chromium + chromedriver",
            format!(
                "MISSING (needed only by `cargo xtask browser-check`/`test`): install them as root with \
                 `apt-get install {}`, or set CHROMIUM and CHROMEDRIVER to their paths",
                DEBIAN_PACKAGES.join(" ")
            ),
        );
    }

    // 3. Python venv with pinned Jupyter, nbclient and Selenium.
    let req_path = root.join("tools/requirements.txt");
    let req = fs::read_to_string(&req_path).map_err(|e| format!("{}: {e}", req_path.display()))?;
    let marker = venv().join("rnn-course-requirements.txt");
    if venv_bin("python").is_file() && fs::read_to_string(&marker).ok() == Some(req.clone()) {
        report.add(".venv (Python packages)", "up to date");
    } else {
        let t0 = Instant::now();
        if !venv_bin("python").is_file() {
            let python = env::var("PYTHON").unwrap_or_else(|_| "python3".into());
            let mut make_venv = Command::new(&python);
            make_venv.args(["-m", "venv"]).arg(venv());
            if run(&mut make_venv).is_err() {
                // Debian's python3 needs its venv module from a separate package.
                if !apt_usable() {
                    return Err(format!(
                        "`{python} -m venv` failed: install Python's venv module \
                         (on Debian: apt-get install python3-venv) or set PYTHON"
                    ));
                }
                let _ = fs::remove_dir_all(venv());
                apt_install(&mut apt_updated, &["python3-venv"])?;
                run(&mut make_venv)?;
            }
        }
        run(Command::new(venv_bin("python"))
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "-r",
            ])
            .arg(&req_path))?;
        fs::write(&marker, &req).map_err(|e| format!("{}: {e}", marker.display()))?;
        report.add(
            ".venv (Python packages)",
            format!(
                "installed from tools/requirements.txt in {:.0?}",
                t0.elapsed()
            ),
        );
    }

    // 4. The evcxr kernel, registered inside the venv (its jupyter looks in .venv/share/jupyter first).
    let kernel_json = format!(
        "{{\n  \"argv\": [\n    {:?},\n    \"--control_file\",\n    \"{{connection_file}}\"\n  ],\n  \
         \"display_name\": \"Rust\",\n  \"language\": \"rust\",\n  \"interrupt_mode\": \"message\"\n}}\n",
        tool_bin("evcxr_jupyter").display().to_string()
    );
    let kernel_path = venv().join("share/jupyter/kernels/rust/kernel.json");
    if write_if_changed(&kernel_path, &kernel_json)? {
        report.add(
            "Jupyter kernel `rust` (evcxr)",
            format!("registered in {}", kernel_path.display()),
        );
    } else {
        report.add("Jupyter kernel `rust` (evcxr)", "already registered");
    }

    // JupyterLab: no news feed and no update check (both would reach beyond the package registries).
    let overrides = venv().join("share/jupyter/lab/settings/overrides.json");
    let overrides_json = "{\n  \"@jupyterlab/apputils-extension:notification\": {\n    \
                          \"fetchNews\": \"false\",\n    \"checkForUpdates\": false\n  }\n}\n";
    if write_if_changed(&overrides, overrides_json)? {
        report.add(
            "JupyterLab settings",
            "news feed and update check turned off",
        );
    } else {
        report.add("JupyterLab settings", "already set");
    }

    // 5. KaTeX CSS and fonts, vendored from npm into the book (not committed; see .gitignore).
    let katex_dir = root.join("book/src/katex");
    let katex_marker = katex_dir.join("VERSION");
    if fs::read_to_string(&katex_marker).ok().as_deref() == Some(KATEX_VERSION)
        && katex_dir.join("katex.min.css").is_file()
    {
        report.add(
            &format!("KaTeX {KATEX_VERSION} CSS + fonts"),
            "already vendored",
        );
    } else {
        let pkg = root.join("tools/katex");
        run(Command::new("npm")
            .args([
                "ci",
                "--no-audit",
                "--no-fund",
                "--ignore-scripts",
                "--prefix",
            ])
            .arg(&pkg))?;
        let dist = pkg.join("node_modules/katex/dist");
        let _ = fs::remove_dir_all(&katex_dir);
        fs::create_dir_all(katex_dir.join("fonts")).map_err(|e| e.to_string())?;
        fs::copy(dist.join("katex.min.css"), katex_dir.join("katex.min.css"))
            .map_err(|e| format!("copying katex.min.css: {e}"))?;
        let mut n = 0;
        for entry in fs::read_dir(dist.join("fonts")).map_err(|e| e.to_string())? {
            let entry = entry.map_err(|e| e.to_string())?;
            fs::copy(
                entry.path(),
                katex_dir.join("fonts").join(entry.file_name()),
            )
            .map_err(|e| e.to_string())?;
            n += 1;
        }
        fs::write(&katex_marker, KATEX_VERSION).map_err(|e| e.to_string())?;
        report.add(
            &format!("KaTeX {KATEX_VERSION} CSS + fonts"),
            format!("vendored into book/src/katex ({n} font files)"),
        );
    }

    println!("setup: done in {:.1?}", start.elapsed());
    Ok(report)
}

fn apt_usable() -> bool {
    which("apt-get").is_some() && is_root()
}

/// `apt-get install` of Debian packages, after one `apt-get update` per setup run.
fn apt_install(updated: &mut bool, packages: &[&str]) -> Result {
    let apt = |args: &[&str]| {
        let mut c = Command::new("apt-get");
        c.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        run(&mut c)
    };
    if !*updated {
        apt(&["update"])?;
        *updated = true;
    }
    let mut args = vec!["install", "-y", "--no-install-recommends"];
    args.extend_from_slice(packages);
    apt(&args)
}

fn find_chromium() -> Option<PathBuf> {
    if let Some(p) = env::var_os("CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|n| which(n))
}

fn find_chromedriver() -> Option<PathBuf> {
    if let Some(p) = env::var_os("CHROMEDRIVER") {
        return Some(PathBuf::from(p));
    }
    which("chromedriver")
}

/// Fails with a clear message when `setup` has not been run.
fn require_setup(what: &[&str]) -> Result {
    let mut missing = Vec::new();
    for w in what {
        match *w {
            "mdbook" | "mdbook-katex" | "evcxr_jupyter" | "rustlings" => {
                let t = CARGO_TOOLS.iter().find(|t| t.bin == *w).unwrap();
                if !cargo_tool_installed(t) {
                    missing.push(format!("{} {}", t.krate, t.version));
                }
            }
            "venv" => {
                if !venv_bin("python").is_file() {
                    missing.push("the Python venv .venv".into());
                }
            }
            "katex" => {
                if !root().join("book/src/katex/katex.min.css").is_file() {
                    missing.push("KaTeX CSS and fonts in book/src/katex".into());
                }
            }
            "browser" => {
                if find_chromium().is_none() || find_chromedriver().is_none() {
                    missing.push("chromium and chromedriver".into());
                }
            }
            _ => unreachable!(),
        }
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "missing {}: run `cargo xtask setup` first",
            missing.join(", ")
        ))
    }
}

// ---------------------------------------------------------------------------------------------------------
// book, browser check, notebooks

/// The figure commands: every example whose doc comment shows
/// `cargo run --release -p PKG --example NAME -- book/src/figures` (the convention of `crates/*/examples`).
fn figure_commands() -> Vec<(String, String)> {
    let mut found = Vec::new();
    let Ok(crates) = fs::read_dir(root().join("crates")) else {
        return found;
    };
    let mut files: Vec<PathBuf> = crates
        .filter_map(|c| c.ok())
        .filter_map(|c| fs::read_dir(c.path().join("examples")).ok())
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension() == Some(std::ffi::OsStr::new("rs")))
        .collect();
    files.sort();
    for file in files {
        let text = fs::read_to_string(&file).unwrap_or_default();
        for line in text.lines().filter(|l| l.starts_with("//!")) {
            if !(line.contains("cargo run") && line.contains("-- book/src/figures")) {
                continue;
            }
            let words: Vec<&str> = line.split_whitespace().collect();
            let after = |flag: &str| {
                words
                    .iter()
                    .position(|w| *w == flag)
                    .and_then(|i| words.get(i + 1))
                    .map(|w| w.to_string())
            };
            if let (Some(pkg), Some(example)) = (after("-p"), after("--example")) {
                found.push((pkg, example));
            }
        }
    }
    found
}

/// `cargo xtask figures`: runs every figure command, writing SVGs into book/src/figures.
fn figures() -> Result {
    let commands = figure_commands();
    let out = root().join("book/src/figures");
    for (pkg, example) in &commands {
        run(Command::new(cargo())
            .args([
                "run",
                "--release",
                "--quiet",
                "-p",
                pkg,
                "--example",
                example,
                "--",
            ])
            .arg(&out)
            .current_dir(root()))?;
    }
    println!(
        "figures: {} figure command(s) wrote into {}",
        commands.len(),
        out.display()
    );
    Ok(())
}

/// The figures the book's pages show (`figures/NAME.svg`) that are not in book/src/figures.
fn missing_figures() -> Result<Vec<String>> {
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

fn book() -> Result {
    require_setup(&["mdbook", "mdbook-katex", "katex"])?;
    check_include_anchors()?;
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
                "the book shows {still:?} but no figure command (an example documented as \
                 `cargo run --release -p PKG --example NAME -- book/src/figures`) writes it"
            ));
        }
    }
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

/// Every `{{#include file:anchor}}` / `{{#rustdoc_include file:anchor}}` of the book names an anchor that
/// exists: mdbook silently shows an empty listing for a missing one.
fn check_include_anchors() -> Result {
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
                    l.trim_start().starts_with("//")
                        && l.contains(&format!("{m}: {anchor}"))
                        && l.trim_end().ends_with(anchor)
                })
            };
            if !has("ANCHOR") || !has("ANCHOR_END") {
                problems.push(format!(
                    "{page}: {{{{#{kind} {target}}}}}: no `// ANCHOR: {anchor}` ... `// ANCHOR_END: {anchor}` in {file}"
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

fn python_tool(script: &str, args: &[String], env_vars: &[(&str, PathBuf)]) -> Result {
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

fn browser_check() -> Result {
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
    ];
    python_tool("tools/browser_check.py", &args, &[])
}

fn notebooks(names: &[String]) -> Result {
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
    python_tool(
        "tools/nb/run_notebooks.py",
        &args,
        &[("EVCXR_CONFIG_DIR", root().join("tools/evcxr/ci"))],
    )
}

// ---------------------------------------------------------------------------------------------------------
// labs

/// The labs' own check (labs/check.sh): every solution passes, every untouched exercise fails, every
/// classic mistake is caught with its name, and `rustlings dev check` passes.
fn labs() -> Result {
    require_setup(&["rustlings"])?;
    let mut cmd = Command::new("bash");
    cmd.arg(root().join("labs/check.sh"))
        .env("PATH", tools_path())
        .current_dir(root().join("labs"));
    run(&mut cmd)
}

// ---------------------------------------------------------------------------------------------------------
// test

fn test(only: &[String]) -> ExitCode {
    type Stage = (&'static str, Box<dyn Fn() -> Result>);
    let cargo_stage = |args: &'static [&'static str],
                       env_vars: &'static [(&'static str, &'static str)]| {
        Box::new(move || {
            let mut cmd = Command::new(cargo());
            cmd.args(args).current_dir(root());
            for (k, v) in env_vars {
                cmd.env(k, v);
            }
            run(&mut cmd)
        }) as Box<dyn Fn() -> Result>
    };
    let stages: Vec<Stage> = vec![
        ("fmt", cargo_stage(&["fmt", "--all", "--", "--check"], &[])),
        (
            "clippy",
            cargo_stage(
                &[
                    "clippy",
                    "--workspace",
                    "--all-targets",
                    "--",
                    "-D",
                    "warnings",
                ],
                &[],
            ),
        ),
        ("test", cargo_stage(&["test", "--workspace"], &[])),
        (
            "doc",
            cargo_stage(
                &["doc", "--workspace", "--no-deps"],
                &[("RUSTDOCFLAGS", "-D warnings")],
            ),
        ),
        ("labs", Box::new(labs)),
        ("book", Box::new(book)),
        ("browser-check", Box::new(browser_check)),
        (
            "notebooks",
            Box::new(|| {
                python_tool("tools/nb/run_notebooks.py", &["--check-clean".into()], &[])?;
                notebooks(&[])
            }),
        ),
    ];
    let known: Vec<&str> = stages.iter().map(|(n, _)| *n).collect();
    if let Some(bad) = only.iter().find(|o| !known.contains(&o.as_str())) {
        eprintln!(
            "error: unknown stage `{bad}`; the stages are {}",
            known.join(", ")
        );
        return ExitCode::FAILURE;
    }
    let stages: Vec<Stage> = stages
        .into_iter()
        .filter(|(n, _)| only.is_empty() || only.iter().any(|o| o == n))
        .collect();
    let total = Instant::now();
    let mut results: Vec<(&str, &str, Duration, String)> = Vec::new();
    let mut failed = false;
    for (i, (name, f)) in stages.iter().enumerate() {
        if failed {
            results.push((name, "skipped", Duration::ZERO, String::new()));
            continue;
        }
        println!("\n==> [{}/{}] {name}", i + 1, stages.len());
        let t0 = Instant::now();
        match f() {
            Ok(()) => results.push((name, "ok", t0.elapsed(), String::new())),
            Err(e) => {
                failed = true;
                results.push((name, "FAILED", t0.elapsed(), e));
            }
        }
    }
    println!("\n==> summary ({:.0?})", total.elapsed());
    for (name, status, t, err) in &results {
        println!("  {status:<8} {name:<14} {:>6.1}s", t.as_secs_f64());
        if !err.is_empty() {
            for l in err.lines() {
                println!("           {l}");
            }
        }
    }
    let count = |s: &str| results.iter().filter(|r| r.1 == s).count();
    let (p, f, s) = (count("ok"), count("FAILED"), count("skipped"));
    if s > 0 {
        println!("{p} passed, {f} failed, {s} skipped");
    } else {
        println!("{p} passed, {f} failed");
    }
    if f > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

// ---------------------------------------------------------------------------------------------------------
// open

fn free_port(start: u16) -> Result<u16> {
    (start..start.saturating_add(100))
        .find(|p| TcpListener::bind(("127.0.0.1", *p)).is_ok())
        .ok_or_else(|| format!("no free port in {start}..{}", start.saturating_add(100)))
}

fn wait_for_port(port: u16, child: &mut Child, timeout: Duration) -> Result {
    let t0 = Instant::now();
    while t0.elapsed() < timeout {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("exited before listening on port {port} ({status})"));
        }
        sleep(Duration::from_millis(200));
    }
    Err(format!("nothing listens on port {port} after {timeout:?}"))
}

fn token() -> String {
    let mut bytes = [0u8; 24];
    if fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .is_err()
    {
        // Not secret, but unique enough for a server bound to 127.0.0.1.
        let n = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        bytes[..16].copy_from_slice(&n.to_le_bytes());
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn open(args: &[String]) -> Result {
    let mut opts: HashMap<&str, String> = HashMap::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--book-port" | "--lab-port" => {
                let v = it.next().ok_or_else(|| format!("{a} needs a value"))?;
                opts.insert(if a == "--book-port" { "book" } else { "lab" }, v.clone());
            }
            "--no-lab" => {
                opts.insert("no-lab", String::new());
            }
            other => return Err(format!("unknown option `{other}` for `open`")),
        }
    }
    setup()?;
    book()?;

    let port = |key: &str, default: u16| -> Result<u16> {
        match opts.get(key) {
            Some(v) => v.parse().map_err(|_| format!("bad port `{v}`")),
            None => free_port(default),
        }
    };
    let book_port = port("book", 3000)?;
    let mut children: Vec<(&str, Child)> = Vec::new();
    let mut serve = Command::new(tool_bin("mdbook"));
    serve
        .arg("serve")
        .arg(root().join("book"))
        .args(["--hostname", "127.0.0.1", "--port"])
        .arg(book_port.to_string())
        .env("PATH", tools_path());
    println!("$ {}", show(&serve));
    let mut mdbook = serve.spawn().map_err(|e| format!("mdbook serve: {e}"))?;
    wait_for_port(book_port, &mut mdbook, Duration::from_secs(60))
        .map_err(|e| format!("mdbook serve {e}"))?;
    children.push(("mdbook serve", mdbook));

    let mut lab_url = None;
    if !opts.contains_key("no-lab") {
        let lab_port = port("lab", 8888)?;
        let tok = token();
        let mut lab = Command::new(venv_bin("jupyter"));
        lab.args(["lab", "--no-browser", "--ServerApp.ip=127.0.0.1"])
            .arg(format!("--ServerApp.port={lab_port}"))
            .arg("--ServerApp.port_retries=0")
            .arg("--ServerApp.answer_yes=True")
            .arg(format!(
                "--ServerApp.root_dir={}",
                root().join("notebooks").display()
            ))
            .current_dir(root().join("notebooks"))
            .stdin(Stdio::null())
            .env("PATH", tools_path())
            .env("JUPYTER_PLATFORM_DIRS", "1")
            .env("EVCXR_CONFIG_DIR", root().join("tools/evcxr/lab"));
        if is_root() {
            // Containers and CI machines run as root; Jupyter refuses that unless told.
            lab.arg("--allow-root");
        }
        println!("$ {} --IdentityProvider.token=...", show(&lab));
        lab.arg(format!("--IdentityProvider.token={tok}"));
        let mut child = lab.spawn().map_err(|e| format!("jupyter lab: {e}"))?;
        if let Err(e) = wait_for_port(lab_port, &mut child, Duration::from_secs(120)) {
            for (_, c) in children.iter_mut() {
                let _ = c.kill();
            }
            let _ = child.kill();
            return Err(format!("jupyter lab {e}"));
        }
        children.push(("jupyter lab", child));
        lab_url = Some(format!("http://127.0.0.1:{lab_port}/lab?token={tok}"));
    }

    println!("\n  The book:      http://127.0.0.1:{book_port}/");
    if let Some(url) = &lab_url {
        println!("  The notebooks: {url}");
    }
    println!("\n  Edits to book/ rebuild the book live. Press Ctrl-C to stop.\n");

    // Ctrl-C reaches every process of the terminal's foreground group; if one server stops on its own,
    // stop the other too.
    loop {
        for i in 0..children.len() {
            if let Ok(Some(status)) = children[i].1.try_wait() {
                let name = children[i].0;
                for (j, (_, c)) in children.iter_mut().enumerate() {
                    if j != i {
                        let _ = c.kill();
                        let _ = c.wait();
                    }
                }
                return if status.success() {
                    Ok(())
                } else {
                    Err(format!("{name} stopped ({status})"))
                };
            }
        }
        sleep(Duration::from_millis(300));
    }
}
