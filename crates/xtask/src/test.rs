//! `cargo xtask test`: every stage CI runs, and the labs stage.

use super::*;

// ---------------------------------------------------------------------------------------------------------
// labs

/// The labs' own check (labs/check.sh): every solution passes, every untouched exercise fails, every
/// classic mistake is caught with its name, and `rustlings dev check` passes.
pub(crate) fn labs() -> Result {
    require_setup(&["rustlings"])?;
    let mut cmd = Command::new("bash");
    cmd.arg(root().join("labs/check.sh"))
        .env("PATH", tools_path())
        .current_dir(root().join("labs"));
    run(&mut cmd)
}

// ---------------------------------------------------------------------------------------------------------
// test

pub(crate) fn test(only: &[String]) -> ExitCode {
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
        ("labels", Box::new(labels)),
        ("test", cargo_stage(&["test", "--workspace"], &[])),
        (
            "doc",
            cargo_stage(
                &["doc", "--workspace", "--no-deps"],
                &[("RUSTDOCFLAGS", "-D warnings")],
            ),
        ),
        ("diagrams", Box::new(check_diagrams)),
        ("labs", Box::new(labs)),
        ("outputs", Box::new(check_outputs)),
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
