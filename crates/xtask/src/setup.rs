//! `cargo xtask setup`: the pinned tools, installed only when missing.

use super::*;

/// A tool installed with `cargo install --locked`, at a pinned version.
pub(crate) struct CargoTool {
    krate: &'static str,
    version: &'static str,
    bin: &'static str,
    /// Build with `opt-level = 1`: much faster to compile, no cost that a user would notice.
    opt1: bool,
}

pub(crate) const CARGO_TOOLS: &[CargoTool] = &[
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
pub(crate) const KATEX_VERSION: &str = "0.16.4";

pub(crate) const DEBIAN_PACKAGES: &[&str] = &["chromium", "chromium-driver", "fonts-dejavu-core"];

// ---------------------------------------------------------------------------------------------------------
// setup

/// What setup did, one line per step.
pub(crate) struct Report(Vec<(String, String)>);

impl Report {
    fn add(&mut self, what: &str, outcome: impl Into<String>) {
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

pub(crate) fn setup() -> Result<Report> {
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
