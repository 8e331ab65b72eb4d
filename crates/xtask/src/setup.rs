//! `cargo xtask setup`: the pinned tools, installed only when missing.

use super::*;

/// A tool installed with `cargo install --locked`, at a pinned version.
pub(crate) struct CargoTool {
    krate: &'static str,
    version: &'static str,
    bin: &'static str,
    /// Build with `opt-level = 1` and without LTO: much faster to compile, no cost that a user would notice.
    opt1: bool,
    /// Which part of the course needs it; `open` installs the book's tools first.
    group: Group,
    /// Roughly how long a cold build takes on 2 cores (shown while it builds).
    minutes: u32,
}

/// The parts of the course, in the order `open` makes them ready (Chromium, which only the browser check
/// uses, is installed by `setup` alone).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Group {
    /// mdbook, mdbook-katex, mdbook-quiz, KaTeX's CSS and fonts: enough to serve the book.
    Book,
    /// The Python venv (JupyterLab) and the evcxr kernel.
    Notebooks,
    /// rustlings, for the labs.
    Labs,
}

pub(crate) const CARGO_TOOLS: &[CargoTool] = &[
    CargoTool {
        krate: "mdbook",
        version: "0.5.4",
        bin: "mdbook",
        opt1: true,
        group: Group::Book,
        minutes: 2,
    },
    CargoTool {
        krate: "mdbook-katex",
        version: "0.10.0",
        bin: "mdbook-katex",
        // Its manifest asks for `lto = true` and `opt-level = "z"`: minutes of single-threaded linking.
        opt1: true,
        group: Group::Book,
        minutes: 2,
    },
    // The chapters' self-check quizzes: a preprocessor that turns `{{#quiz quizzes/chNN.toml}}` into a quiz
    // rendered by its own JavaScript, which ships prebuilt inside the crate (no npm, no network at build or
    // read time). 0.5.0 is the release built on `mdbook-preprocessor` 0.5, mdBook 0.5's interface.
    CargoTool {
        krate: "mdbook-quiz",
        version: "0.5.0",
        bin: "mdbook-quiz",
        opt1: true,
        group: Group::Book,
        minutes: 3,
    },
    CargoTool {
        krate: "evcxr_jupyter",
        version: "0.22.0",
        bin: "evcxr_jupyter",
        opt1: true,
        group: Group::Notebooks,
        minutes: 6,
    },
    // The labs are a rustlings (v6) community-exercise project: learners run `rustlings` in labs/, and
    // the labs stage runs `rustlings dev check`.
    CargoTool {
        krate: "rustlings",
        version: "6.5.0",
        bin: "rustlings",
        opt1: true,
        group: Group::Labs,
        minutes: 1,
    },
];

/// The KaTeX release whose CSS and fonts match the KaTeX that mdbook-katex 0.10.0 renders with
/// (the `katex` crate 0.4.6 bundles KaTeX 0.16.4). Pinned in tools/katex/package.json and its lock file.
pub(crate) const KATEX_VERSION: &str = "0.16.4";

pub(crate) const DEBIAN_PACKAGES: &[&str] = &["chromium", "chromium-driver", "fonts-dejavu-core"];

// ---------------------------------------------------------------------------------------------------------
// setup

/// What setup did, one line per step.
pub(crate) struct Report(pub(crate) Vec<(String, String)>);

impl Report {
    pub(crate) fn add(&mut self, what: &str, outcome: impl Into<String>) {
        let outcome = outcome.into();
        println!("setup: {what}: {outcome}");
        self.0.push((what.to_string(), outcome));
    }
}

pub(crate) fn cargo_tool_installed(t: &CargoTool) -> bool {
    let manifest = fs::read_to_string(tools_root().join(".crates.toml")).unwrap_or_default();
    let key = format!("\"{} {} (registry+", t.krate, t.version);
    manifest.contains(&key) && tool_bin(t.bin).is_file()
}

/// `cargo xtask setup`: every group, as CI needs it.
pub(crate) fn setup() -> Result<Report> {
    let start = Instant::now();
    let mut report = Report(Vec::new());
    // The venv is mostly downloading and unpacking: it runs beside the Rust builds.
    let venv_job = std::thread::spawn(setup_venv);
    // Every Rust tool at once: the builds' single-threaded ends overlap.
    install_cargo_tools(&mut report, &CARGO_TOOLS.iter().collect::<Vec<_>>())?;
    setup_katex(&mut report)?;
    finish_venv_and_kernel(&mut report, venv_job)?;
    setup_chromium(&mut report)?;
    println!("setup: done in {:.1?}", start.elapsed());
    Ok(report)
}

/// Installs what one group needs (the venv and the kernel registration are separate steps: see `setup`).
pub(crate) fn setup_group(report: &mut Report, group: Group) -> Result {
    let tools: Vec<&CargoTool> = CARGO_TOOLS.iter().filter(|t| t.group == group).collect();
    install_cargo_tools(report, &tools)?;
    match group {
        Group::Book => setup_katex(report),
        Group::Notebooks | Group::Labs => Ok(()),
    }
}

/// `cargo install --locked` of the missing tools, all at once (two builds keep two cores busier than one:
/// each ends in a long single-threaded step). Output goes to target/setup/NAME.log; a line every 20 s says
/// how far each build is.
pub(crate) fn install_cargo_tools(report: &mut Report, tools: &[&CargoTool]) -> Result {
    let logs = root().join("target/setup");
    fs::create_dir_all(&logs).map_err(|e| format!("{}: {e}", logs.display()))?;
    let mut running: Vec<(&CargoTool, Child, PathBuf, Instant)> = Vec::new();
    for t in tools {
        let what = format!("{} {}", t.krate, t.version);
        if cargo_tool_installed(t) {
            report.add(&what, "already installed");
            continue;
        }
        let log_path = logs.join(format!("{}.log", t.krate));
        let log =
            fs::File::create(&log_path).map_err(|e| format!("{}: {e}", log_path.display()))?;
        let log2 = log.try_clone().map_err(|e| e.to_string())?;
        let mut cmd = Command::new(cargo());
        cmd.args(["install", "--locked", "--root"])
            .arg(tools_root())
            .arg(format!("{}@{}", t.krate, t.version))
            .current_dir(env::temp_dir())
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2);
        if t.opt1 {
            // Environment settings override the package's own [profile.release].
            cmd.env("CARGO_PROFILE_RELEASE_OPT_LEVEL", "1")
                .env("CARGO_PROFILE_RELEASE_LTO", "false")
                .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "16");
        }
        println!(
            "setup: building {what} (about {} min on 2 cores; log: {})",
            t.minutes,
            log_path.display()
        );
        let child = cmd
            .spawn()
            .map_err(|e| format!("could not start `{}`: {e}", show(&cmd)))?;
        running.push((t, child, log_path, Instant::now()));
    }
    let mut last_note = Instant::now();
    let mut failure = None;
    while !running.is_empty() {
        sleep(Duration::from_millis(250));
        let mut i = 0;
        while i < running.len() {
            let (t, child, log_path, t0) = &mut running[i];
            let what = format!("{} {}", t.krate, t.version);
            match child.try_wait() {
                Ok(None) => i += 1,
                Ok(Some(status)) => {
                    if status.success() {
                        report.add(
                            &what,
                            format!(
                                "installed into {} in {:.0?}",
                                tools_root().join("bin").display(),
                                t0.elapsed()
                            ),
                        );
                    } else {
                        let log = fs::read_to_string(&*log_path).unwrap_or_default();
                        let tail: Vec<&str> = log.lines().rev().take(30).collect();
                        let tail: Vec<&str> = tail.into_iter().rev().collect();
                        failure.get_or_insert(format!(
                            "`cargo install {}@{}` failed ({status}); the end of {}:\n{}",
                            t.krate,
                            t.version,
                            log_path.display(),
                            tail.join("\n")
                        ));
                    }
                    running.remove(i);
                }
                Err(e) => {
                    failure.get_or_insert(format!("waiting for cargo install: {e}"));
                    running.remove(i);
                }
            }
        }
        if last_note.elapsed() >= Duration::from_secs(20) && !running.is_empty() {
            last_note = Instant::now();
            let notes: Vec<String> = running
                .iter()
                .map(|(t, _, log_path, _)| {
                    let log = fs::read_to_string(log_path).unwrap_or_default();
                    let n = log.matches("Compiling ").count();
                    format!("{} {} crates compiled", t.krate, n)
                })
                .collect();
            let t0 = running.iter().map(|r| r.3).min().unwrap();
            println!(
                "setup: still building after {:.0}s: {}",
                t0.elapsed().as_secs_f64(),
                notes.join(", ")
            );
        }
    }
    match failure {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Chromium and its WebDriver, from Debian's packages (only the browser check uses them).
pub(crate) fn setup_chromium(report: &mut Report) -> Result {
    let mut apt_updated = false;
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
    Ok(())
}

/// The Python venv with pinned Jupyter, nbclient, Selenium and numpy. Returns what it did (it runs on its own
/// thread beside the Rust builds, so it prints nothing but pip's errors).
pub(crate) fn setup_venv() -> Result<String> {
    let mut apt_updated = false;
    let root = root();
    let req_path = root.join("tools/requirements.txt");
    let req = fs::read_to_string(&req_path).map_err(|e| format!("{}: {e}", req_path.display()))?;
    let marker = venv().join("rnn-course-requirements.txt");
    if venv_bin("python").is_file() && fs::read_to_string(&marker).ok() == Some(req.clone()) {
        return Ok("up to date".into());
    }
    let t0 = Instant::now();
    let quiet = |c: &mut Command| {
        c.stdout(Stdio::null());
    };
    if !venv_bin("python").is_file() {
        let python = env::var("PYTHON").unwrap_or_else(|_| "python3".into());
        let mut make_venv = Command::new(&python);
        make_venv.args(["-m", "venv"]).arg(venv());
        quiet(&mut make_venv);
        if !make_venv.status().is_ok_and(|s| s.success()) {
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
    let mut pip = Command::new(venv_bin("python"));
    pip.args([
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "-r",
    ])
    .arg(&req_path);
    quiet(&mut pip);
    let status = pip
        .status()
        .map_err(|e| format!("could not start `{}`: {e}", show(&pip)))?;
    if !status.success() {
        return Err(format!("`{}` failed ({status})", show(&pip)));
    }
    fs::write(&marker, &req).map_err(|e| format!("{}: {e}", marker.display()))?;
    Ok(format!(
        "installed from tools/requirements.txt in {:.0?}",
        t0.elapsed()
    ))
}

/// Waits for the venv step started on its own thread ([`setup_venv`]), reports it, and registers the kernel
/// in the venv.
pub(crate) fn finish_venv_and_kernel(
    report: &mut Report,
    venv_job: std::thread::JoinHandle<Result<String>>,
) -> Result {
    let outcome = venv_job
        .join()
        .map_err(|_| "the venv step panicked".to_string())??;
    report.add(".venv (Python packages)", outcome);
    setup_kernel(report)
}

/// The evcxr kernel, registered inside the venv (its jupyter looks in .venv/share/jupyter first), and
/// JupyterLab's settings.
pub(crate) fn setup_kernel(report: &mut Report) -> Result {
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
    Ok(())
}

/// KaTeX CSS and fonts, vendored from npm into the book (not committed; see .gitignore).
pub(crate) fn setup_katex(report: &mut Report) -> Result {
    let root = root();
    let katex_dir = root.join("book/src/katex");
    let katex_marker = katex_dir.join("VERSION");
    if fs::read_to_string(&katex_marker).ok().as_deref() == Some(KATEX_VERSION)
        && katex_dir.join("katex.min.css").is_file()
    {
        report.add(
            &format!("KaTeX {KATEX_VERSION} CSS + fonts"),
            "already vendored",
        );
        return Ok(());
    }
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
    Ok(())
}

pub(crate) fn apt_usable() -> bool {
    which("apt-get").is_some() && is_root()
}

/// `apt-get install` of Debian packages, after one `apt-get update` per setup run.
pub(crate) fn apt_install(updated: &mut bool, packages: &[&str]) -> Result {
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

pub(crate) fn find_chromium() -> Option<PathBuf> {
    if let Some(p) = env::var_os("CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|n| which(n))
}

pub(crate) fn find_chromedriver() -> Option<PathBuf> {
    if let Some(p) = env::var_os("CHROMEDRIVER") {
        return Some(PathBuf::from(p));
    }
    which("chromedriver")
}

/// Fails with a clear message when `setup` has not been run.
pub(crate) fn require_setup(what: &[&str]) -> Result {
    let mut missing = Vec::new();
    for w in what {
        match *w {
            "mdbook" | "mdbook-katex" | "mdbook-quiz" | "evcxr_jupyter" | "rustlings" => {
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
