"""Run the course notebooks headless with the real evcxr kernel, or keep them clean.

Usage (from the venv that `cargo xtask setup` makes; `cargo xtask notebooks` runs it for you):

    python tools/nb/run_notebooks.py NOTEBOOK.ipynb...   execute each notebook top to bottom
    python tools/nb/run_notebooks.py --check-clean       fail if a notebook in notebooks/ has outputs
    python tools/nb/run_notebooks.py --strip             remove outputs from notebooks/*.ipynb

A notebook fails at its first code cell that
  - ends with an error reply or an `error` output (compile errors, panics with
    `:preserve_vars_on_panic 0`, which tools/evcxr/ci/init.evcxr sets),
  - writes anything to stderr (evcxr reports `?` errors there and nowhere else), or
  - runs longer than the timeout (--timeout, default 1800 s: the first cell compiles the rnn crate).
The executed copies go to target/notebooks/ for inspection; the notebooks themselves are not modified.
The last line printed is `N passed, N failed` (one count per notebook).
"""

from __future__ import annotations

import argparse
import pathlib
import re
import sys
import textwrap
import time

import nbformat
from nbclient import NotebookClient

ROOT = pathlib.Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
OUT = ROOT / "target" / "notebooks"
KERNEL = "rust"


ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def short(text: str, max_lines: int = 30) -> str:
    lines = ANSI.sub("", text).strip().splitlines()
    if len(lines) > max_lines:
        lines = lines[:max_lines] + [f"... ({len(lines) - max_lines} more lines)"]
    return textwrap.indent("\n".join(lines), "    | ")


def problems_of(cell, reply) -> list[str]:
    found = []
    if reply is not None and reply.get("content", {}).get("status") not in (None, "ok"):
        content = reply["content"]
        found.append(
            f"the kernel replied `{content.get('status')}`"
            + (f": {content.get('ename', '')} {content.get('evalue', '')}".rstrip() if content.get("ename") else "")
        )
    stderr = ""
    for out in cell.get("outputs", []):
        kind = out.get("output_type")
        if kind == "error":
            trace = "\n".join(out.get("traceback", [])) or f"{out.get('ename')}: {out.get('evalue')}"
            found.append("error output:\n" + short(trace))
        elif kind == "stream" and out.get("name") == "stderr":
            stderr += out.get("text", "")
    if stderr.strip():
        found.append("stderr output:\n" + short(stderr))
    return found


def run_one(path: pathlib.Path, timeout: int) -> bool:
    nb = nbformat.read(path, as_version=4)
    replies = {}

    def on_cell_executed(cell, cell_index, execute_reply, **_):
        replies[cell_index] = execute_reply

    client = NotebookClient(
        nb,
        kernel_name=KERNEL,
        timeout=timeout,
        startup_timeout=120,
        allow_errors=True,
        record_timing=False,
        resources={"metadata": {"path": str(path.parent)}},
        on_cell_executed=on_cell_executed,
    )
    name = path.name
    started = time.monotonic()
    ok = True
    code_cells = [(i, c) for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    try:
        with client.setup_kernel():
            for n, (index, cell) in enumerate(code_cells, start=1):
                t0 = time.monotonic()
                try:
                    client.execute_cell(cell, index)
                except Exception as e:  # timeouts, a dead kernel
                    problems = [f"{type(e).__name__}: {e}"]
                else:
                    problems = problems_of(cell, replies.get(index))
                took = time.monotonic() - t0
                first_line = (cell.source.strip().splitlines() or [""])[0][:70]
                if problems:
                    ok = False
                    print(f"  FAILED {name}, code cell {n} (cell {index + 1} of {len(nb.cells)}), {took:.1f}s: {first_line}")
                    for p in problems:
                        print(textwrap.indent(p, "    "))
                    break
                print(f"  ok     {name}, code cell {n}, {took:.1f}s: {first_line}")
    except Exception as e:
        ok = False
        print(f"  FAILED {name}: could not run the kernel `{KERNEL}`: {type(e).__name__}: {e}")
    OUT.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, OUT / name)
    status = "passed" if ok else "FAILED"
    print(f"{status}: {name} ({time.monotonic() - started:.1f}s; executed copy in {OUT / name})")
    return ok


def has_outputs(nb) -> bool:
    return any(
        c.cell_type == "code" and (c.get("outputs") or c.get("execution_count") is not None)
        for c in nb.cells
    )


def strip(nb) -> None:
    for c in nb.cells:
        if c.cell_type == "code":
            c.outputs = []
            c.execution_count = None
            c.metadata.pop("execution", None)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("notebooks", nargs="*", type=pathlib.Path)
    ap.add_argument("--timeout", type=int, default=1800, help="seconds per cell")
    ap.add_argument("--strip", action="store_true", help="remove outputs from notebooks/*.ipynb")
    ap.add_argument("--check-clean", action="store_true", help="fail if a notebook has outputs")
    args = ap.parse_args()

    if args.strip or args.check_clean:
        dirty = []
        for path in sorted(NOTEBOOKS.glob("*.ipynb")):
            nb = nbformat.read(path, as_version=4)
            if has_outputs(nb):
                dirty.append(path)
                if args.strip:
                    strip(nb)
                    nbformat.write(nb, path)
                    print(f"stripped {path.relative_to(ROOT)}")
        if args.check_clean and dirty:
            for p in dirty:
                print(f"{p.relative_to(ROOT)} has outputs or execution counts")
            print("notebooks are committed without outputs: run `cargo xtask strip-notebooks`")
            return 1
        if args.check_clean:
            print("notebooks are clean (no outputs)")
        return 0

    if not args.notebooks:
        ap.error("name at least one notebook")
    passed = failed = 0
    for path in args.notebooks:
        shown = path.resolve()
        print(f"running {shown.relative_to(ROOT) if shown.is_relative_to(ROOT) else shown}")
        if run_one(path.resolve(), args.timeout):
            passed += 1
        else:
            failed += 1
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
