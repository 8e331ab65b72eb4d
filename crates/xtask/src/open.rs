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

pub(crate) fn open(args: &[String]) -> Result {
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
