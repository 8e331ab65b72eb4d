"""Open every page of the built book in headless Chromium and check what a reader would see.

Run by `cargo xtask browser-check` (and `cargo xtask test`) after `mdbook build`:

    python tools/browser_check.py --book book/book --out target/browser-check \
        --chromium /usr/bin/chromium --chromedriver /usr/bin/chromedriver

A page fails if
  - raw TeX is visible in its rendered text outside code (`$$`, `\\(`, `\\[`, `\\frac`, ...), or KaTeX
    reported an error (`.katex-error`), or a page with math did not load the KaTeX CSS or fonts;
  - an mdBook include was left unexpanded (`{{#include ...}}`), or a code listing is empty;
  - an <img> did not load (naturalWidth 0);
  - a link to a page of the book (a local .html, with its #fragment) points nowhere;
  - (with --notebooks) a chapter whose notebook exists does not link to it (`../../notebooks/NAME.ipynb`,
    which resolves on the repository's web page and, through the copy `cargo xtask book` makes, in the
    served book), or a notebook's first cell does not link its chapter (`../book/src/chNN-....md`, a file
    that exists, whose page exists in the built book).
A screenshot of the page with the most math is saved in --out and its path printed.
The last line printed is `N passed, N failed` (one count per page).
"""

from __future__ import annotations

import argparse
import functools
import html.parser
import http.server
import pathlib
import re
import sys
import tempfile
import threading
import urllib.parse

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

SKIP_PAGES = {"404.html", "toc.html"}

# Visible text that means TeX was not rendered. Backslash commands are only looked for outside code.
RAW_TEX = re.compile(r"\$\$|\\\(|\\\)|\\\[|\\\]|\\[A-Za-z]{2,}|\{\{#")

PAGE_SCRIPT = r"""
const done = arguments[arguments.length - 1];
(async () => {
  await document.fonts.ready;
  // Let every image finish (or fail).
  await Promise.all(Array.from(document.images).map(img => img.complete ? null :
      new Promise(r => { img.addEventListener('load', r); img.addEventListener('error', r); })));
  const main = document.querySelector('main') || document.body;
  const clone = main.cloneNode(true);
  clone.querySelectorAll('pre, code, script, style, noscript, .katex, .katex-display').forEach(e => e.remove());
  const katex = document.querySelectorAll('.katex');
  let katexCss = null, katexFonts = null;
  if (katex.length) {
    katexCss = getComputedStyle(katex[0]).fontFamily;
    katexFonts = Array.from(document.fonts)
        .filter(f => f.family.replace(/['"]/g, '').startsWith('KaTeX'))
        .map(f => [f.family.replace(/['"]/g, ''), f.status]);
  }
  done({
    text: clone.textContent,
    katexCount: katex.length,
    katexErrors: Array.from(document.querySelectorAll('.katex-error')).map(e => e.textContent.slice(0, 120)),
    katexCss: katexCss,
    katexFonts: katexFonts,
    emptyListings: Array.from(document.querySelectorAll('pre > code')).filter(c => !c.innerText.trim()).length,
    brokenImages: Array.from(document.images).filter(i => i.naturalWidth === 0)
        .map(i => i.getAttribute('src')),
    links: Array.from(document.querySelectorAll('a[href]')).map(a => [a.getAttribute('href'), a.href]),
    height: Math.max(document.body.scrollHeight, document.documentElement.scrollHeight),
  });
})().catch(e => done({error: String(e)}));
"""


class IdCollector(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        for k, v in attrs:
            if k == "id" or (tag == "a" and k == "name"):
                self.ids.add(v or "")


@functools.lru_cache(maxsize=None)
def ids_of(path: pathlib.Path) -> frozenset[str]:
    p = IdCollector()
    p.feed(path.read_text(encoding="utf-8", errors="replace"))
    return frozenset(p.ids)


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def serve(directory: pathlib.Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    handler = functools.partial(QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


def browser(chromium: str, chromedriver: str, profile: str) -> webdriver.Chrome:
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for flag in [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--hide-scrollbars",
        "--window-size=1280,1000",
        f"--user-data-dir={profile}",
    ]:
        opts.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=chromedriver), options=opts)
    driver.set_script_timeout(60)
    driver.set_page_load_timeout(60)
    return driver


def check_links(page: pathlib.Path, book: pathlib.Path, base: str, links) -> list[str]:
    problems = []
    for raw, absolute in links:
        if not absolute.startswith(base):
            continue  # another origin (an external site, the local JupyterLab): not the book's business
        parsed = urllib.parse.urlsplit(absolute)
        rel = urllib.parse.unquote(parsed.path[len(urllib.parse.urlsplit(base).path):])
        target = book / rel
        if rel == "" or rel.endswith("/"):
            target = target / "index.html"
        if not target.is_file():
            problems.append(f"broken link `{raw}`: {target.relative_to(book)} does not exist")
            continue
        if parsed.fragment and target.suffix == ".html":
            frag = urllib.parse.unquote(parsed.fragment)
            if frag not in ids_of(target):
                problems.append(f"broken link `{raw}`: no id `{frag}` in {target.relative_to(book)}")
    return problems


def notebook_problems(book: pathlib.Path, notebooks: pathlib.Path, chapter_links: dict[str, list[str]]) -> list[str]:
    """Chapters link their notebooks and notebooks link their chapters (see the module doc)."""
    import json

    problems = []
    for nb in sorted(notebooks.glob("[0-9][0-9]-*.ipynb")):
        num = nb.name[:2]
        pages = sorted(book.glob(f"ch{num}-*.html"))
        if len(pages) != 1:
            problems.append(f"{nb.name}: no single chapter page ch{num}-*.html in the built book")
            continue
        page = pages[0]
        # The chapter links the notebook, and the link resolves to the copy in the served book.
        targets = [urllib.parse.urlsplit(a).path for a in chapter_links.get(page.name, [])]
        if not any(t.endswith(f"/notebooks/{nb.name}") for t in targets):
            problems.append(f"{page.name}: no link to its notebook ../../notebooks/{nb.name}")
        elif not (book / "notebooks" / nb.name).is_file():
            problems.append(f"{page.name}: the served book has no notebooks/{nb.name} (run `cargo xtask book`)")
        # The notebook's first cell links the chapter's source, which exists and is the page's source.
        cells = json.loads(nb.read_text(encoding="utf-8")).get("cells", [])
        first = cells[0] if cells else {}
        src = first.get("source", "")
        src = src if isinstance(src, str) else "".join(src)
        want = f"../book/src/{page.stem}.md"
        if first.get("cell_type") != "markdown" or f"]({want})" not in src:
            problems.append(f"{nb.name}: its first cell does not link its chapter as []({want})")
        elif not (notebooks / want).resolve().is_file():
            problems.append(f"{nb.name}: links {want}, which does not exist")
        if f"/{page.name}`" not in src and f"/{page.name})" not in src:
            problems.append(f"{nb.name}: its first cell does not name the served page {page.name}")
    return problems


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--book", type=pathlib.Path, required=True, help="the built book (book/book)")
    ap.add_argument("--out", type=pathlib.Path, required=True, help="where the screenshot goes")
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    ap.add_argument("--chromedriver", default="/usr/bin/chromedriver")
    ap.add_argument("--notebooks", type=pathlib.Path, help="notebooks/: check chapter <-> notebook links")
    args = ap.parse_args()

    book = args.book.resolve()
    pages = sorted(p for p in book.rglob("*.html") if p.name not in SKIP_PAGES)
    if not pages:
        print(f"no pages in {book}: build the book first")
        print("0 passed, 1 failed")
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    server, base = serve(book)
    passed = failed = 0
    chapter_links: dict[str, list[str]] = {}
    best = (0, None)  # (math count, page) for the screenshot
    with tempfile.TemporaryDirectory(prefix="rnn-course-chromium-") as profile:
        driver = browser(args.chromium, args.chromedriver, profile)
        try:
            for page in pages:
                rel = page.relative_to(book).as_posix()
                driver.get(base + rel)
                info = driver.execute_async_script(PAGE_SCRIPT)
                problems = []
                if "error" in info:
                    problems.append(f"page script failed: {info['error']}")
                else:
                    for m in RAW_TEX.finditer(info["text"]):
                        ctx = info["text"][max(0, m.start() - 40) : m.end() + 40].replace("\n", " ")
                        problems.append(f"raw TeX or markup visible: `{m.group()}` in \"...{ctx}...\"")
                        if len(problems) > 5:
                            break
                    for e in info["katexErrors"]:
                        problems.append(f"KaTeX error: {e}")
                    if info["katexCount"]:
                        if "KaTeX_Main" not in (info["katexCss"] or ""):
                            problems.append("math present but the KaTeX CSS is not applied")
                        fonts = info["katexFonts"] or []
                        bad = sorted({f for f, s in fonts if s == "error"})
                        if bad:
                            problems.append(f"KaTeX fonts failed to load: {', '.join(bad)}")
                        if not any(s == "loaded" for _, s in fonts):
                            problems.append("math present but no KaTeX font loaded")
                    if info["emptyListings"]:
                        problems.append(f"{info['emptyListings']} empty code listing(s) (a missing include anchor?)")
                    for src in sorted(set(info["brokenImages"])):
                        problems.append(f"image did not load: {src}")
                    problems += check_links(page, book, base, info["links"])
                    chapter_links[rel] = [absolute for _, absolute in info["links"]]
                    if rel != "print.html" and info["katexCount"] > best[0]:
                        best = (info["katexCount"], rel)
                if problems:
                    failed += 1
                    print(f"  FAILED {rel}")
                    for p in problems:
                        print(f"    {p}")
                else:
                    passed += 1
                    print(f"  ok     {rel} ({info['katexCount']} formulas, {len(info['links'])} links)")
            if args.notebooks:
                problems = notebook_problems(book, args.notebooks.resolve(), chapter_links)
                if problems:
                    failed += 1
                    print("  FAILED chapter <-> notebook links")
                    for p in problems:
                        print(f"    {p}")
                else:
                    passed += 1
                    print("  ok     chapter <-> notebook links")
            if best[1]:
                driver.get(base + best[1])
                info = driver.execute_async_script(PAGE_SCRIPT)
                driver.set_window_size(1280, min(max(info.get("height", 1000), 800), 6000))
                shot = args.out / (pathlib.Path(best[1]).stem + ".png")
                driver.save_screenshot(str(shot))
                print(f"screenshot of {best[1]} ({best[0]} formulas): {shot}")
        finally:
            driver.quit()
            server.shutdown()
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
