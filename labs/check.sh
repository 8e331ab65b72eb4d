#!/usr/bin/env bash
# The labs' CI, one command: `labs/check.sh` (from anywhere). It checks that
#   - every solution passes its tests, runs, and is clippy-clean (as `rustlings dev check` requires);
#   - every untouched exercise FAILS (its tests fail or it panics at `todo!()`);
#   - solutions, exercises and labcheck are rustfmt-clean; labcheck is clippy-clean;
#   - the answer key (`labcheck`'s private `reference` module) is out of the labs' reach: a lab that imports
#     it fails to compile;
#   - every deliberately broken variant of a classic mistake is caught, with the mistake named
#     (labcheck/tests/mistakes.rs, one test per mistake);
#   - `rustlings dev check` passes, if `rustlings` is installed (skipped otherwise).
# Prints one line per check and finally `N passed, N failed`; exits non-zero if anything failed.
set -uo pipefail
cd "$(dirname "$0")"
export RUST_BACKTRACE=0 CARGO_TERM_COLOR=never
passed=0
failed=0
log=$(mktemp)
probe=src/bin/uses_answer_key.rs
trap 'rm -f "$log" "$probe"; rmdir src/bin src 2>/dev/null' EXIT

ok() { passed=$((passed + 1)); echo "ok    $1"; }
bad() {
    failed=$((failed + 1))
    echo "FAIL  $1"
    tail -n 30 "$log" | sed 's/^/      | /'
}
# expect_success NAME CMD...: the command must succeed.
expect_success() {
    local name=$1; shift
    if "$@" >"$log" 2>&1; then ok "$name"; else bad "$name"; fi
}
# expect_failure NAME CMD...: the command must fail.
expect_failure() {
    local name=$1; shift
    if "$@" >"$log" 2>&1; then bad "$name (it passed, but an untouched exercise must fail)"; else ok "$name"; fi
}

start=$(date +%s)
echo "== building the labs (exercises, solutions, labcheck)"
if ! cargo test --workspace --no-run -q >"$log" 2>&1 || ! cargo build --bins -q >>"$log" 2>&1; then
    bad "build"
    echo "0 passed, 1 failed"
    exit 1
fi

exercises=$(sed -n 's/^name = "\(.*\)"$/\1/p' info.toml)

echo "== solutions pass, run and are clippy-clean"
for ex in $exercises; do
    expect_success "solution $ex: tests pass" cargo test -q --bin "${ex}_sol"
    expect_success "solution $ex: main runs" cargo run -q --bin "${ex}_sol"
    expect_success "solution $ex: clippy -D warnings" \
        cargo clippy -q --profile test --bin "${ex}_sol" -- -D warnings
done

echo "== untouched exercises fail"
for ex in $exercises; do
    expect_failure "exercise $ex fails untouched" cargo test -q --bin "$ex"
done

echo "== the answer key is out of the labs' reach"
# A copy of a solution that imports labcheck's answer key, built as one more binary of the labs' crate: it
# must fail to compile, because the module is private.
mkdir -p src/bin
{ cat solutions/lab03_softmax_ce.rs; echo '#[allow(unused_imports)] use labcheck::reference::softmax as _answer_key;'; } >"$probe"
if cargo build -q --bin uses_answer_key >"$log" 2>&1; then
    bad "a lab that imports labcheck::reference compiled"
elif grep -q 'module `reference` is private' "$log"; then
    ok "a lab that imports labcheck::reference fails to compile (module \`reference\` is private)"
else
    bad "a lab that imports labcheck::reference failed to compile, but not because the module is private"
fi
rm -f "$probe"; rmdir src/bin src 2>/dev/null

echo "== formatting and lints"
expect_success "solutions are rustfmt-clean (edition 2024)" rustfmt --check --edition 2024 solutions/*.rs
expect_success "exercises and labcheck are rustfmt-clean" cargo fmt --all --check
expect_success "labcheck is clippy-clean" cargo clippy -q -p labcheck --all-targets -- -D warnings

echo "== labcheck's own tests (the answer key agrees with the library)"
expect_success "labcheck unit tests" cargo test -q -p labcheck --lib

echo "== classic mistakes are caught and named (labcheck/tests/mistakes.rs)"
cargo test -q -p labcheck --test mistakes >"$log" 2>&1
mistakes_status=$?
n_ok=$(sed -n 's/^test result: .*\. \([0-9]*\) passed; \([0-9]*\) failed.*/\1/p' "$log" | tail -n 1)
n_bad=$(sed -n 's/^test result: .*\. \([0-9]*\) passed; \([0-9]*\) failed.*/\2/p' "$log" | tail -n 1)
if [ -z "$n_ok" ]; then
    bad "mistakes: the test binary did not run"
else
    passed=$((passed + n_ok))
    echo "ok    $n_ok mistake tests"
    if [ "$mistakes_status" -ne 0 ] || [ "${n_bad:-0}" -ne 0 ]; then
        failed=$((failed + ${n_bad:-1}))
        grep -E "^test .* FAILED|does not name|ACCEPTED" "$log" | sed 's/^/FAIL  /'
    fi
fi

echo "== rustlings dev check"
if command -v rustlings >/dev/null 2>&1; then
    expect_success "rustlings dev check ($(rustlings --version 2>/dev/null))" rustlings dev check
else
    echo "skip  rustlings is not installed (cargo install rustlings@6.5.0 --locked)"
fi

echo "== labs checked in $(($(date +%s) - start)) s"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
