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
  - a diagram of the networks (an inline `<svg class="rnn-diagram">`, book/src/diagrams) fails, in any of
    mdBook's themes (light, rust, coal, navy, ayu) or in a 420 px wide window: it must render with its
    viewBox's proportions, a non-zero size and within the text column, every label must be drawn (non-empty box), lie inside the picture and overlap no other
    label, and every label, line, arrowhead and outline must contrast with what is behind it (the page, or
    the tinted box the label sits in) by a luminance ratio of at least 3.
  - a self-check quiz (mdbook-quiz, `.quiz-placeholder`) does not work: on every page with one, the quiz is
    taken twice in the browser. Once with every answer right: the review must say N/N with nothing marked
    incorrect, and after a reload the answers must still be there (kept in localStorage). Once with the
    first question of each kind (multiple choice, short answer, "what does this print") answered wrong and
    the rest right: the review must count exactly those as wrong, mark exactly those answers `incorrect`,
    and, after "see the correct answers", show each one's correct answer and its explanation (context),
    with no raw TeX in any prompt or explanation (quiz text is rendered in the browser, without KaTeX).
    Over all pages, each of the three kinds must have been answered wrong at least once.
  - a worked answer (`<details class="answer">` under an exercise, docs/writing-a-chapter.md) does not work:
    on every page with answers, each must be closed when the page loads, with the summary "Answer" and its
    content hidden. Then one of them (the first with math and a listing, else the first with math, else the
    first) is opened by clicking its summary, in the light and the coal theme: it must be open, its content
    visible and non-empty, any math in it rendered by KaTeX (visible, KaTeX's fonts, no raw TeX), and its
    summary and text must contrast with the block's background by a luminance ratio of at least 3.
A screenshot of the page with the most math is saved in --out and its path printed, one of every
diagram in every theme (diagram-NAME-THEME.png), and one of every quiz after the wrong answers, with the
correct answers shown (quiz-NAME-wrong.png), and of the opened answer of every page with answers in both
themes (answer-PAGE-THEME.png).
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
    // textContent, not innerText: a listing inside a closed answer is not rendered, so its innerText is ''.
    emptyListings: Array.from(document.querySelectorAll('pre > code')).filter(c => !c.textContent.trim()).length,
    brokenImages: Array.from(document.images).filter(i => i.naturalWidth === 0)
        .map(i => i.getAttribute('src')),
    links: Array.from(document.querySelectorAll('a[href]')).map(a => [a.getAttribute('href'), a.href]),
    height: Math.max(document.body.scrollHeight, document.documentElement.scrollHeight),
  });
})().catch(e => done({error: String(e)}));
"""


THEMES = ["light", "rust", "coal", "navy", "ayu"]
MIN_CONTRAST = 3.0

# Everything the diagram check needs, measured in the page as the browser drew it.
DIAGRAM_SCRIPT = r"""
const done = arguments[arguments.length - 1];
(async () => {
  await document.fonts.ready;
  const parse = c => {
    const m = c && c.match(/rgba?\(([^)]+)\)/);
    if (!m) return null;
    const v = m[1].split(/[ ,\/]+/).filter(x => x).map(Number);
    return [v[0], v[1], v[2], v.length > 3 ? v[3] : 1];
  };
  let el = document.querySelector('main') || document.body, bg = null;
  for (; el; el = el.parentElement) {
    const c = parse(getComputedStyle(el).backgroundColor);
    if (c && c[3] > 0) { bg = c; break; }
  }
  bg = bg || [255, 255, 255, 1];
  const box = b => [b.x, b.y, b.width, b.height];
  const content = (document.querySelector('main') || document.body).getBoundingClientRect();
  done({
    theme: document.documentElement.className,
    bg: bg,
    diagrams: Array.from(document.querySelectorAll('svg.rnn-diagram')).map(svg => {
      const r = svg.getBoundingClientRect();
      const vb = svg.viewBox.baseVal;
      return {
        name: svg.getAttribute('data-diagram'),
        size: [r.width, r.height],
        overflow: r.left < content.left - 1 || r.right > content.right + 1,
        viewBox: [vb.x, vb.y, vb.width, vb.height],
        texts: Array.from(svg.querySelectorAll('text')).map(t => ({
            text: t.textContent, box: box(t.getBBox()), fill: parse(getComputedStyle(t).fill)})),
        shapes: Array.from(svg.querySelectorAll('rect, circle, path')).map(e => {
          const cs = getComputedStyle(e);
          return {tag: e.tagName, cls: e.getAttribute('class') || '', box: box(e.getBBox()),
                  fill: parse(cs.fill), stroke: cs.stroke === 'none' ? null : parse(cs.stroke)};
        }),
      };
    }),
  });
})().catch(e => done({error: String(e)}));
"""


def over(c, bg):
    """Colour c (r, g, b, alpha) composited over the opaque colour bg."""
    a = c[3]
    return [c[i] * a + bg[i] * (1 - a) for i in range(3)] + [1]


def luminance(c) -> float:
    def lin(v):
        v /= 255
        return v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4

    return 0.2126 * lin(c[0]) + 0.7152 * lin(c[1]) + 0.0722 * lin(c[2])


def contrast(a, b) -> float:
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def inside(inner, outer, tol=0.5) -> bool:
    return (inner[0] >= outer[0] - tol and inner[1] >= outer[1] - tol
            and inner[0] + inner[2] <= outer[0] + outer[2] + tol
            and inner[1] + inner[3] <= outer[1] + outer[3] + tol)


def diagram_problems(info) -> list[str]:
    """What is wrong with the diagrams of one page in one theme (DIAGRAM_SCRIPT's measurements)."""
    theme, bg = info["theme"], info["bg"]
    theme = next((t for t in THEMES if t in theme.split()), theme)
    problems = []
    for d in info["diagrams"]:
        problems += one_diagram_problems(d, theme, bg)
    return problems


def one_diagram_problems(d, theme, bg) -> list[str]:
    problems = []
    name = f"diagram {d['name']} ({theme})"
    w, h = d["size"]
    vb = d["viewBox"]
    if w < 1 or h < 1:
        problems.append(f"{name}: rendered {w:.0f}x{h:.0f} px")
        return problems
    if d["overflow"]:
        problems.append(f"{name}: wider than the page's text column ({w:.0f} px)")
    if vb[2] <= 0 or abs(w / h - vb[2] / vb[3]) > 0.02 * vb[2] / vb[3]:
        problems.append(f"{name}: rendered {w:.0f}x{h:.0f} px, not in the proportions of its viewBox {vb[2]}x{vb[3]}")
    # What is under a point: the topmost filled box or circle containing it, composited on the page.
    filled = [s for s in d["shapes"] if s["tag"] in ("rect", "circle") and s["fill"]]

    def under(x, y):
        c = bg
        for s in filled:
            b = s["box"]
            if b[0] <= x <= b[0] + b[2] and b[1] <= y <= b[1] + b[3]:
                c = over(s["fill"], over(c, bg))
        return c

    texts = d["texts"]
    for t in texts:
        label = f"{name}: label `{t['text']}`"
        b = t["box"]
        if b[2] <= 0 or b[3] <= 0:
            problems.append(f"{label} is not drawn (empty box)")
            continue
        if not inside(b, vb):
            problems.append(f"{label} is cut off: box {[round(v) for v in b]} outside the viewBox")
        if not t["fill"]:
            problems.append(f"{label} has no fill colour")
            continue
        back = under(b[0] + b[2] / 2, b[1] + b[3] / 2)
        ratio = contrast(over(t["fill"], back), back)
        if ratio < MIN_CONTRAST:
            problems.append(f"{label}: contrast {ratio:.2f} with what is behind it (below {MIN_CONTRAST})")
    # Labels must not overlap (2 px of slack for glyph boxes that touch).
    for i, a in enumerate(texts):
        for b in texts[i + 1:]:
            ax, ay, aw, ah = a["box"]
            bx, by, bw, bh = b["box"]
            ox = min(ax + aw, bx + bw) - max(ax, bx)
            oy = min(ay + ah, by + bh) - max(ay, by)
            if ox > 2 and oy > 2:
                problems.append(f"{name}: labels `{a['text']}` and `{b['text']}` overlap")
    for s in d["shapes"]:
        if not inside(s["box"], vb, tol=1.5):
            problems.append(f"{name}: a {s['tag']} ({s['cls']}) reaches outside the viewBox")
        # Lines and outlines against the page; arrowheads (filled, class h) too.
        colour = s["stroke"] if s["stroke"] else (s["fill"] if " h" in f" {s['cls']}" else None)
        if colour and colour[3] > 0:
            ratio = contrast(over(colour, bg), bg)
            if ratio < MIN_CONTRAST:
                problems.append(f"{name}: a {s['tag']} ({s['cls']}) has contrast {ratio:.2f} with the page")
    if len(problems) > 8:
        problems = problems[:8] + [f"diagram {d['name']} ({theme}): ... and {len(problems) - 8} more"]
    return problems


def check_diagrams_in_themes(driver, url: str, rel: str, out: pathlib.Path, shots: bool) -> tuple[list[str], int]:
    """Loads the page in every theme, checks its diagrams and saves a screenshot of each figure."""
    problems = []
    count = 0
    try:
        for theme in THEMES:
            driver.execute_script("localStorage.setItem('mdbook-theme', arguments[0]);", theme)
            driver.get(url)
            info = driver.execute_async_script(DIAGRAM_SCRIPT)
            if "error" in info:
                problems.append(f"diagram script failed ({theme}): {info['error']}")
                continue
            if theme not in info["theme"].split():
                problems.append(f"theme {theme} did not apply (<html class=\"{info['theme']}\">)")
                continue
            count = len(info["diagrams"])
            problems += diagram_problems(info)
            if shots:
                for i, el in enumerate(driver.find_elements("css selector", "svg.rnn-diagram")):
                    name = info["diagrams"][i]["name"]
                    fig = el.find_element("xpath", "..")
                    target = fig if fig.tag_name == "figure" else el
                    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", target)
                    target.screenshot(str(out / f"diagram-{name}-{theme}.png"))
        # A phone-sized window: the diagrams shrink with the text column, in proportion.
        driver.execute_script("localStorage.setItem('mdbook-theme', 'light');")
        driver.set_window_size(420, 900)
        driver.get(url)
        info = driver.execute_async_script(DIAGRAM_SCRIPT)
        if "error" in info:
            problems.append(f"diagram script failed (420 px wide): {info['error']}")
        else:
            problems += [p.replace("(light)", "(light, 420 px wide)") for p in diagram_problems(info)]
    finally:
        driver.set_window_size(1280, 1000)
        driver.execute_script("localStorage.removeItem('mdbook-theme');")
    return problems, count


QUIZ_KINDS = ("multiple choice", "short answer", "what does this print")


def quiz_kind(q) -> str:
    if q["type"] == "MultipleChoice":
        return "multiple choice"
    return "what does this print" if "```" in q["prompt"]["prompt"] else "short answer"


def click(driver, element) -> None:
    """Clicks `element` after scrolling it to the middle of the window: scrolled into view by the click alone,
    it can end up under mdBook's menu bar at the top, which then receives the click."""
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", element)
    element.click()


def take_quiz(driver, questions, wrong: set[int]) -> list[str]:
    """Answers every question of the page's quiz, wrongly those in `wrong`; returns what went wrong."""
    import time

    def q(css):
        return driver.find_elements("css selector", ".quiz-placeholder " + css)

    start = q("button.start")
    if not start:
        return ["no Start button in the quiz"]
    click(driver, start[0])
    for i, question in enumerate(questions):
        for _ in range(50):
            if q(".question") and q("input[type=submit]"):
                break
            time.sleep(0.05)
        else:
            return [f"question {i + 1} did not appear"]
        answer = question["answer"]["answer"]
        if question["type"] == "MultipleChoice":
            want = question["prompt"]["distractors"][0] if i in wrong else answer
            radios = [r for r in q("input[type=radio]") if r.get_attribute("value") == want]
            if not radios:
                return [f"question {i + 1}: no choice `{want}`"]
            click(driver, radios[0])
        else:
            boxes = q("input[type=text]") + q("textarea")
            if not boxes:
                return [f"question {i + 1}: no text box"]
            boxes[0].send_keys("not the answer" if i in wrong else answer)
        click(driver, q("input[type=submit]")[0])
    for _ in range(50):
        if q(".answer-wrapper"):
            break
        time.sleep(0.05)
    return []


def review(driver):
    """The quiz's answer review: the score line and, per question, whether its answer is marked incorrect."""
    return driver.execute_script("""
      const root = document.querySelector('.quiz-placeholder');
      const score = root.querySelector('section > p strong');
      return {score: score ? score.textContent : null,
              wrong: Array.from(root.querySelectorAll('.answer-wrapper')).map(w =>
                  w.querySelector('.answer-row > div:first-child .incorrect') !== null)};
    """)


def check_quiz(driver, url: str, out: pathlib.Path, kinds_wrong: set[str]) -> tuple[list[str], int]:
    """Takes the page's quiz right and wrong (see the module doc); returns the problems and the question count."""
    import json
    import time

    driver.execute_script("localStorage.clear();")
    driver.get(url)
    raw = driver.find_element("css selector", ".quiz-placeholder").get_attribute("data-quiz-questions")
    name = json.loads(driver.find_element("css selector", ".quiz-placeholder").get_attribute("data-quiz-name"))
    questions = json.loads(raw)["questions"]
    n = len(questions)
    problems = []
    # Offline: the quiz's script and style come from the book itself, nothing from another origin.
    foreign = driver.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
        ".filter(u => !u.startsWith(location.origin + '/'));")
    problems += [f"quiz page loads {u} from outside the book" for u in foreign]
    # All right.
    problems += take_quiz(driver, questions, set())
    r = review(driver)
    if r["score"] != f"{n}/{n}":
        problems.append(f"quiz {name}: every answer right, but the review says {r['score']} (want {n}/{n})")
    if any(r["wrong"]):
        problems.append(f"quiz {name}: a right answer is marked incorrect (questions "
                        f"{[i + 1 for i, w in enumerate(r['wrong']) if w]})")
    # The answers are kept in the browser: a reload shows the review again.
    driver.get(url)
    time.sleep(0.3)
    r = review(driver)
    if r["score"] != f"{n}/{n}":
        problems.append(f"quiz {name}: after a reload the answers are gone (review: {r['score']}); "
                        "is `cache_answers = true` set in book.toml?")
    # The first question of each kind wrong.
    first = {}
    for i, question in enumerate(questions):
        first.setdefault(quiz_kind(question), i)
    wrong = set(first.values())
    driver.execute_script("localStorage.clear();")
    driver.get(url)
    problems += take_quiz(driver, questions, wrong)
    r = review(driver)
    if r["score"] != f"{n - len(wrong)}/{n}":
        problems.append(f"quiz {name}: {len(wrong)} answers wrong, but the review says {r['score']}")
    marked = {i for i, w in enumerate(r["wrong"]) if w}
    if marked != wrong:
        problems.append(f"quiz {name}: answered questions {sorted(i + 1 for i in wrong)} wrong, but "
                        f"{sorted(i + 1 for i in marked)} are marked incorrect")
    buttons = [b for b in driver.find_elements("css selector", ".quiz-placeholder button")
               if "correct answers" in b.text]
    if not buttons:
        problems.append(f"quiz {name}: no button to see the correct answers")
    else:
        click(driver, buttons[0])
        time.sleep(0.3)
        shown = driver.execute_script("""
          return Array.from(document.querySelectorAll('.quiz-placeholder .answer-wrapper')).map(w => ({
            correct: (w.querySelector('.answer-row .correct') || {}).textContent || null,
            context: (w.querySelector('.context') || {}).textContent || ''}));
        """)
        for i in sorted(wrong):
            if i >= len(shown) or not shown[i]["correct"]:
                problems.append(f"quiz {name}, question {i + 1} (answered wrong): the correct answer is not shown")
            elif len(shown[i]["context"].strip()) < 40:
                problems.append(f"quiz {name}, question {i + 1} (answered wrong): no explanation shown")
            else:
                kinds_wrong.add(quiz_kind(questions[i]))
        # The review shows every prompt and explanation: no raw TeX in them (a quiz's Markdown is rendered
        # in the browser, where KaTeX does not run).
        text = driver.execute_script("""
          const c = document.querySelector('.quiz-placeholder').cloneNode(true);
          c.querySelectorAll('pre, code').forEach(e => e.remove());
          return c.textContent;""")
        for m in list(RAW_TEX.finditer(text))[:5]:
            ctx = text[max(0, m.start() - 40): m.end() + 40].replace("\n", " ")
            problems.append(f"quiz {name}: raw TeX `{m.group()}` in \"...{ctx}...\" (quizzes cannot use TeX)")
        quiz = driver.find_element("css selector", ".quiz-placeholder")
        # A window as tall as the quiz, so that the whole review is in the picture.
        driver.set_window_size(1280, min(max(quiz.size["height"] + 300, 1000), 8000))
        driver.execute_script("arguments[0].scrollIntoView({block: 'start'});", quiz)
        quiz.screenshot(str(out / f"quiz-{name}-wrong.png"))
        driver.set_window_size(1280, 1000)
    driver.execute_script("localStorage.clear();")
    return problems, n


# The worked answers of a page as the browser shows them (see the module doc).
ANSWERS_SCRIPT = r"""
// checkVisibility() sees what layout boxes do not: the content of a closed <details> keeps its boxes in
// Chromium (it is hidden with content-visibility), but is not visible.
const shown = e => e.checkVisibility({visibilityProperty: true, opacityProperty: true})
    && e.getClientRects().length > 0;
return Array.from(document.querySelectorAll('details.answer')).map(d => {
  const summary = d.querySelector(':scope > summary');
  const body = Array.from(d.children).filter(c => c !== summary);
  return {
    open: d.open,
    summary: summary ? summary.textContent.trim() : null,
    bodyShown: body.some(shown),
    math: d.querySelectorAll('.katex').length,
    listings: d.querySelectorAll('pre').length,
  };
});
"""

OPENED_SCRIPT = r"""
const d = document.querySelectorAll('details.answer')[arguments[0]];
const parse = c => {
  const m = c && c.match(/rgba?\(([^)]+)\)/);
  if (!m) return null;
  const v = m[1].split(/[ ,\/]+/).filter(x => x).map(Number);
  return [v[0], v[1], v[2], v.length > 3 ? v[3] : 1];
};
// The block's own background, composited over the first opaque one behind it.
const layers = [];
for (let el = d; el; el = el.parentElement) {
  const c = parse(getComputedStyle(el).backgroundColor);
  if (c && c[3] > 0) { layers.push(c); if (c[3] >= 1) break; }
}
const summary = d.querySelector(':scope > summary');
const body = Array.from(d.children).filter(c => c !== summary);
const clone = d.cloneNode(true);
clone.querySelectorAll('pre, code, .katex, .katex-display, summary').forEach(e => e.remove());
const paragraph = d.querySelector(':scope > p');
const katex = Array.from(d.querySelectorAll('.katex'));
return {
  open: d.open,
  theme: document.documentElement.className,
  layers: layers,
  summaryColour: summary ? parse(getComputedStyle(summary).color) : null,
  textColour: paragraph ? parse(getComputedStyle(paragraph).color) : null,
  bodyShown: body.filter(c => c.checkVisibility({visibilityProperty: true, opacityProperty: true})
      && c.getBoundingClientRect().height > 0).length,
  bodyCount: body.length,
  text: clone.textContent,
  katex: katex.length,
  katexHidden: katex.filter(k => !k.checkVisibility() || k.getBoundingClientRect().width === 0).length,
  katexFont: katex.length ? getComputedStyle(katex[0]).fontFamily : null,
  katexErrors: d.querySelectorAll('.katex-error').length,
};
"""

ANSWER_THEMES = ("light", "coal")


def check_answers(driver, url: str, rel: str, out: pathlib.Path, click: bool) -> tuple[list[str], int]:
    """Checks the page's worked answers (see the module doc); returns the problems and the answer count."""
    import time

    problems = []
    driver.get(url)
    blocks = driver.execute_script(ANSWERS_SCRIPT)
    for i, b in enumerate(blocks):
        name = f"answer {i + 1} of {len(blocks)}"
        if b["open"]:
            problems.append(f"{name} is open when the page loads (answers must be closed by default)")
        if b["summary"] != "Answer":
            problems.append(f"{name}: its summary is {b['summary']!r}, expected 'Answer'")
        if b["bodyShown"] and not b["open"]:
            problems.append(f"{name}: closed, but its content is visible")
    if not blocks or not click:
        return problems, len(blocks)
    # The one to open: the first with math and a listing, else the first with math, else the first.
    pick = next((i for i, b in enumerate(blocks) if b["math"] and b["listings"]),
                next((i for i, b in enumerate(blocks) if b["math"]), 0))
    name = f"answer {pick + 1} of {len(blocks)}"
    try:
        for theme in ANSWER_THEMES:
            driver.execute_script("localStorage.setItem('mdbook-theme', arguments[0]);", theme)
            driver.get(url)
            driver.execute_script("return document.fonts.ready;")
            block = driver.find_elements("css selector", "details.answer")[pick]
            summary = block.find_element("css selector", ":scope > summary")
            driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", summary)
            summary.click()
            time.sleep(0.2)
            info = driver.execute_script(OPENED_SCRIPT, pick)
            where = f"{name} ({theme})"
            if theme not in info["theme"].split():
                problems.append(f"{where}: theme {theme} did not apply")
                continue
            if not info["open"]:
                problems.append(f"{where}: clicking its summary did not open it")
                continue
            if info["bodyCount"] == 0 or info["bodyShown"] < info["bodyCount"]:
                problems.append(f"{where}: opened, but {info['bodyCount'] - info['bodyShown']} of its "
                                f"{info['bodyCount']} parts are not visible")
            if len(info["text"].strip()) < 40:
                problems.append(f"{where}: opened, but it shows almost no text ({info['text'].strip()!r})")
            for m in list(RAW_TEX.finditer(info["text"]))[:3]:
                ctx = info["text"][max(0, m.start() - 40): m.end() + 40].replace("\n", " ")
                problems.append(f"{where}: raw TeX or markup visible: `{m.group()}` in \"...{ctx}...\"")
            if blocks[pick]["math"]:
                if info["katexHidden"]:
                    problems.append(f"{where}: {info['katexHidden']} of its {info['katex']} formulas are not drawn")
                if "KaTeX_Main" not in (info["katexFont"] or ""):
                    problems.append(f"{where}: its math is not in KaTeX's fonts ({info['katexFont']})")
                if info["katexErrors"]:
                    problems.append(f"{where}: {info['katexErrors']} KaTeX error(s)")
            bg = [255, 255, 255, 1]
            for c in reversed(info["layers"]):
                bg = over(c, bg)
            for what, colour in (("summary", info["summaryColour"]), ("text", info["textColour"])):
                if colour:
                    ratio = contrast(over(colour, bg), bg)
                    if ratio < MIN_CONTRAST:
                        problems.append(f"{where}: its {what} has contrast {ratio:.2f} with the block "
                                        f"(below {MIN_CONTRAST})")
            driver.set_window_size(1280, min(max(block.size["height"] + 300, 1000), 8000))
            # Centred in a window 300 px taller than it: clear of mdBook's sticky menu bar at the top.
            driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", block)
            block.screenshot(str(out / f"answer-{pathlib.Path(rel).stem}-{theme}.png"))
            driver.set_window_size(1280, 1000)
    finally:
        driver.set_window_size(1280, 1000)
        driver.execute_script("localStorage.removeItem('mdbook-theme');")
    return problems, len(blocks)


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
    diagrams_checked = 0
    quizzes_checked = 0
    answers_checked = pages_with_answers = 0
    kinds_wrong: set[str] = set()
    best = (0, None)  # (math count, page) for the screenshot
    with tempfile.TemporaryDirectory(prefix="rnn-course-chromium-") as profile:
        driver = browser(args.chromium, args.chromedriver, profile)
        try:
            for page in pages:
                rel = page.relative_to(book).as_posix()
                driver.get(base + rel)
                info = driver.execute_async_script(PAGE_SCRIPT)
                problems = []
                n_diagrams = 0
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
                    n_diagrams = driver.execute_script("return document.querySelectorAll('svg.rnn-diagram').length")
                    if n_diagrams:
                        found, _ = check_diagrams_in_themes(driver, base + rel, rel, args.out, rel != "print.html")
                        problems += found
                        diagrams_checked += n_diagrams
                    # Before the quiz, which reloads the page: the answers as the page loads.
                    n_answers = 0
                    if driver.execute_script("return document.querySelectorAll('details.answer').length"):
                        found, n_answers = check_answers(driver, base + rel, rel, args.out, rel != "print.html")
                        problems += found
                        answers_checked += n_answers
                        pages_with_answers += rel != "print.html"
                    n_quiz = 0
                    if rel != "print.html" and driver.execute_script(
                            "return document.querySelectorAll('.quiz-placeholder').length"):
                        found, n_quiz = check_quiz(driver, base + rel, args.out, kinds_wrong)
                        problems += found
                        quizzes_checked += 1
                    if rel != "print.html" and info["katexCount"] > best[0]:
                        best = (info["katexCount"], rel)
                if problems:
                    failed += 1
                    print(f"  FAILED {rel}")
                    for p in problems:
                        print(f"    {p}")
                else:
                    passed += 1
                    shown = f", {n_diagrams} diagram(s) in {len(THEMES)} themes" if n_diagrams else ""
                    shown += f", a quiz of {n_quiz} questions taken right and wrong" if n_quiz else ""
                    opened = " (one opened)" if rel != "print.html" else ""
                    shown += f", {n_answers} answers closed{opened}" if n_answers else ""
                    print(f"  ok     {rel} ({info['katexCount']} formulas, {len(info['links'])} links{shown})")
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
            if quizzes_checked:
                missing = [k for k in QUIZ_KINDS if k not in kinds_wrong]
                if missing:
                    failed += 1
                    print(f"  FAILED quizzes: no question of kind {', '.join(missing)} was answered wrong "
                          "and explained")
                else:
                    passed += 1
                    print(f"  ok     quizzes: {quizzes_checked} taken; {', '.join(QUIZ_KINDS)} each answered "
                          "right, wrong, and explained")
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
    print(f"diagrams: {diagrams_checked} checked in {len(THEMES)} themes ({', '.join(THEMES)}); "
          f"screenshots in {args.out}/diagram-NAME-THEME.png")
    print(f"quizzes: {quizzes_checked} taken right and wrong; screenshots in {args.out}/quiz-NAME-wrong.png")
    print(f"answers: {answers_checked} closed at load, one opened on each of {pages_with_answers} pages in "
          f"{' and '.join(ANSWER_THEMES)}; screenshots in {args.out}/answer-PAGE-THEME.png")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
