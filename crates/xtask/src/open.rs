//! `cargo xtask open`: serve the book and start JupyterLab.

use super::*;

// ---------------------------------------------------------------------------------------------------------
// open

pub(crate) fn free_port(start: u16) -> Result<u16> {
    (start..start.saturating_add(100))
        .find(|p| TcpListener::bind(("127.0.0.1", *p)).is_ok())
        .ok_or_else(|| format!("no free port in {start}..{}", start.saturating_add(100)))
}

pub(crate) fn wait_for_port(port: u16, child: &mut Child, timeout: Duration) -> Result {
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

pub(crate) fn token() -> String {
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

/// `cargo xtask open`: the book first, the rest while the reader reads.
///
/// 1. mdbook, mdbook-katex and mdbook-quiz (built side by side) and KaTeX's CSS: then the book is built
///    and served, and its address printed. The Python venv installs meanwhile on its own thread.
/// 2. The evcxr kernel: then JupyterLab starts and its address is printed.
/// 3. rustlings, for the labs. Chromium is not installed here: only the browser check needs it.
pub(crate) fn open(args: &[String]) -> Result {
    let t_start = Instant::now();
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
    let port = |key: &str, default: u16| -> Result<u16> {
        match opts.get(key) {
            Some(v) => v.parse().map_err(|_| format!("bad port `{v}`")),
            None => free_port(default),
        }
    };
    let book_port = port("book", 3000)?;
    let want_lab = !opts.contains_key("no-lab");
    let lab_port = if want_lab {
        Some(port("lab", 8888)?)
    } else {
        None
    };
    let elapsed = || {
        let s = t_start.elapsed().as_secs();
        format!("{}m{:02}s", s / 60, s % 60)
    };

    // 1. The book.
    let mut report = Report(Vec::new());
    let venv_job = want_lab.then(|| std::thread::spawn(setup_venv));
    setup_group(&mut report, Group::Book)?;
    book()?;
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
    println!(
        "\n  The book is ready ({} after start): http://127.0.0.1:{book_port}/",
        elapsed()
    );
    if want_lab {
        println!(
            "  The notebooks come next: their kernel is built now (about 6 minutes the first time).\n"
        );
    }

    // 2. The notebooks. A failure here leaves the book up.
    let mut lab_url = None;
    if let (Some(job), Some(lab_port)) = (venv_job, lab_port) {
        let lab = (|| -> Result<(Child, String)> {
            setup_group(&mut report, Group::Notebooks)?;
            finish_venv_and_kernel(&mut report, job)?;
            start_lab(lab_port)
        })();
        match lab {
            Ok((child, url)) => {
                children.push(("jupyter lab", child));
                println!(
                    "\n  The notebooks are ready ({} after start): {url}\n",
                    elapsed()
                );
                lab_url = Some(url);
            }
            Err(e) => println!("\nerror: the notebooks could not start: {e}\n  The book stays up."),
        }
    }

    // 3. The labs' runner.
    if let Err(e) = setup_group(&mut report, Group::Labs) {
        println!("\nerror: rustlings (for the labs) could not be installed: {e}");
    }

    println!("\n  The book:      http://127.0.0.1:{book_port}/");
    if let Some(url) = &lab_url {
        println!("  The notebooks: {url}");
    }
    println!(
        "  The labs:      cd labs && {}",
        tool_bin("rustlings").display()
    );
    println!(
        "\n  Everything is ready ({} after start). Edits to book/ rebuild the book live. \
         Press Ctrl-C to stop.\n",
        elapsed()
    );

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

/// Starts JupyterLab on notebooks/ and returns it with its address (token included).
fn start_lab(lab_port: u16) -> Result<(Child, String)> {
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
        let _ = child.kill();
        return Err(format!("jupyter lab {e}"));
    }
    Ok((
        child,
        format!("http://127.0.0.1:{lab_port}/lab?token={tok}"),
    ))
}
