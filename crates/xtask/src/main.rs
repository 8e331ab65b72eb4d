//! `cargo xtask`: the course's developer tasks.
//!
//! ```text
//! cargo xtask setup            install the pinned tools (idempotent; ~15-25 min the first time)
//! cargo xtask open             serve the book as soon as its tools exist, then start JupyterLab on notebooks/
//! cargo xtask test             everything CI checks, stage by stage, failing fast
//! cargo xtask book             build the book into book/book
//! cargo xtask outputs [NAME]    remake the book's quoted program outputs (book/outputs.txt lists them)
//! cargo xtask figures          run the commands of book/outputs.txt that write the book's figures (SVG)
//! cargo xtask labels           check that every equation label matches the book's \tag numbering
//! cargo xtask diagrams         redraw the book's diagrams of the networks (book/src/diagrams, see diagrams.rs)
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

mod book;
mod diagrams;
mod labels;
mod open;
mod outputs;
mod setup;
mod test;

use book::*;
use diagrams::*;
use labels::*;
use open::*;
use outputs::*;
use setup::*;
use test::*;

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
        "outputs" => outputs(rest),
        "figures" => figures(),
        "labels" => labels(),
        "diagrams" => diagrams(),
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
         setup            install the pinned tools (mdbook, mdbook-katex, mdbook-quiz, evcxr_jupyter, Chromium, a Python\n\
         \x20                venv in .venv with Jupyter, KaTeX CSS and fonts); a second run only checks\n\
         open             install the book's tools if needed, build and serve the book; then install the\n\
         \x20                notebook kernel and start JupyterLab on notebooks/; then rustlings\n\
         \x20                options: --book-port N, --lab-port N, --no-lab\n\
         test [STAGE...]  fmt, clippy, labels, test, doc, diagrams, labs, outputs, book, browser-check,\n\
         \x20                notebooks (or only the named stages), in that order, stopping at the first failure\n\
         book             build the book into book/book (running the figure commands if a figure is missing)\n\
         outputs [NAME]   run the commands of book/outputs.txt (or the named ones); their stdout goes to\n\
         \x20                book/src/outputs/NAME.txt, and a long one's stamp to NAME.stamp\n\
         figures          run the commands of book/outputs.txt that write into book/src/figures\n\
         labels           check that code, labs and notebooks use the book's equation labels, and that\n\
         \x20                the book numbers its equations (N.1), (N.2), ... per chapter\n\
         diagrams         redraw the diagrams of the networks into book/src/diagrams (crates/xtask/src/diagrams.rs)\n\
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
