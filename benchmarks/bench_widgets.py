"""How live do the widgets feel? Measured in Chromium, in JupyterLab, as a student uses them.

The script starts a private JupyterLab (as the browser tests do: 127.0.0.1, a
random token, a temporary copy of nothing but one notebook per widget) and a
headless Chromium, runs each widget's notebook, and times inside the page:

* **slider change -> repaint**: from the ``input`` event of a slider (set in
  the page, as a key press does) to the new drawing in the DOM (the widget's
  ``data-drawn`` counter moves after it has redrawn), and to the next frame
  after that. The slider walks its whole range up and down one step at a
  time at a held arrow key's pace (a change every 33 ms, or as soon as the
  last one is drawn if that takes longer). A step drawn from lookahead (the
  state Python sent ahead, ``data-source="ahead"``) and one that waited for the
  kernel's answer (``"kernel"``) are also reported apart; the target applies
  to all of them together.
* **the floor**: the same round trip through a widget that computes and
  draws nothing (it echoes its setting back), measured first: the part of
  each figure that belongs to JupyterLab, the kernel and the machine's load.
  The server is started as ``make lab`` starts it (``convkit.widgets.nodelay``).
* **hover -> highlight**: from a ``pointerover`` on an output cell of the
  explorer to its input window lit in the DOM, and to the next frame.
* **memory over 1,000 updates**: the JS heap (after a forced garbage
  collection, through the DevTools protocol) and the DOM node count before and
  after 1,000 slider changes of the explorer.

Run from the repository root (about two minutes on a 2-core machine)::

    python benchmarks/bench_widgets.py
    python benchmarks/bench_widgets.py --updates 300 --memory-updates 1000

Prints medians and 90th percentiles; exits 1 if a target is missed
(repaint median <= 30 ms and p90 <= 60 ms, hover median <= 16 ms, heap growth
<= 2 MB and DOM nodes within 1 % of where they started after 1,000 updates).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "browser"))
from lab_page import open_notebook, run_all  # noqa: E402

from conftest import (  # noqa: E402  (the browser tests' server and browser settings, reused)
    CHROMIUM,
    CHROMIUM_ARGS,
    _stop,
    start_lab,
)

REPAINT_MEDIAN_MS, REPAINT_P90_MS, HOVER_MEDIAN_MS = 30.0, 60.0, 16.0
HEAP_GROWTH_LIMIT_MB = 2.0

# The floor: the same round trip (slider -> kernel -> browser redraw) with nothing computed,
# a widget that only echoes its setting back. What is above it is the widgets' own cost.
ECHO = '''import anywidget, traitlets
class Echo(anywidget.AnyWidget):
    _esm = """
export default { render({ model, el }) {
  const root = document.createElement("div"); root.className = "ck-widget"; root.dataset.drawn = "0";
  root.innerHTML = '<label for="echo-in">echo</label><input id="echo-in" type="range" min="0" max="9">';
  const input = root.querySelector("input");
  input.addEventListener("input", () => {
    model.set("settings", {v: Number(input.value)}); model.save_changes(); });
  model.on("change:data", () => { root.dataset.drawn = String(Number(root.dataset.drawn) + 1); });
  el.append(root);
} };"""
    settings = traitlets.Dict().tag(sync=True)
    data = traitlets.Dict().tag(sync=True)
    @traitlets.observe("settings")
    def _echo(self, change):
        self.data = dict(change["new"])
Echo()'''

# name -> (cell source, label of the slider to move)
WIDGETS = {
    "echo (the floor: kernel round trip only)": (ECHO, "echo"),
    "explorer": ("from convkit.widgets.explorer import explorer\nexplorer()", "stride (columns)"),
    "stepper": ("from convkit.widgets.stepper import stepper\nstepper()", "padding (length)"),
    "params": ("from convkit.widgets.params import parameter_counter\nparameter_counter()", "kernel side k"),
    "template": (
        "from convkit.widgets.template import template_matcher\ntemplate_matcher()",
        "patch left column",
    ),
}

# Slider changes, timed in the page: input event -> data-drawn moves -> next frame. The slider
# walks its range one step at a time, a change every `cadence` ms at most (a held arrow key).
REPAINT_JS = """
async ([label, count, cadence]) => {
  const root = document.querySelector('.ck-widget[data-drawn]');
  const input = Array.from(root.querySelectorAll('label')).find(l => l.textContent === label).control;
  input.focus();  // as a click or Tab does before the arrow keys
  const dom = [], frame = [], source = [];
  let direction = 1, last = -Infinity;
  for (let k = 0; k < count; k++) {
    const low = Number(input.min), high = Number(input.max), step = Number(input.step) || 1;
    let value = Number(input.value);
    if (value + direction * step > high || value + direction * step < low) direction = -direction;
    value += direction * step;
    const wait = last + cadence - performance.now();
    if (wait > 0) await new Promise(resolve => setTimeout(resolve, wait));
    const before = Number(root.dataset.drawn);
    const drawn = new Promise((resolve, reject) => {
      const watch = new MutationObserver(() => {
        if (Number(root.dataset.drawn) > before) { watch.disconnect(); resolve(performance.now()); }
      });
      watch.observe(root, { attributes: true, attributeFilter: ['data-drawn'] });
      setTimeout(() => { watch.disconnect(); reject(new Error(`no drawing for ${label} = ${value}`)); }, 5000);
    });
    const t0 = performance.now();
    last = t0;
    input.value = String(value);
    input.dispatchEvent(new Event('input', { bubbles: true }));
    const t1 = await drawn;
    const t2 = await new Promise(resolve => requestAnimationFrame(() => resolve(performance.now())));
    dom.push(t1 - t0);
    frame.push(t2 - t0);
    source.push(root.dataset.source || 'kernel');
  }
  return { dom, frame, source };
}
"""
KEY_REPEAT_MS = 33

# Hover over output cells, timed in the page: pointerover -> input cells lit -> next frame.
HOVER_JS = """
async (count) => {
  const root = document.querySelector('.ck-widget[data-drawn]');
  const cells = Array.from(root.querySelectorAll('rect[data-g=out]'));
  const dom = [], frame = [];
  for (let k = 0; k < count; k++) {
    const cell = cells[k % cells.length];
    const t0 = performance.now();
    cell.dispatchEvent(new PointerEvent('pointerover', { bubbles: true }));
    if (!root.querySelector('rect[data-g=in].lit')) throw new Error('nothing lit');
    const t1 = performance.now();
    const t2 = await new Promise(resolve => requestAnimationFrame(() => resolve(performance.now())));
    dom.push(t1 - t0);
    frame.push(t2 - t0);
  }
  return { dom, frame };
}
"""


def _summary(name: str, values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    median = statistics.median(ordered)
    p90 = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]
    print(f"  {name:<34} median {median:6.1f} ms   p90 {p90:6.1f} ms   (n={len(values)})")
    return median, p90


def _heap(cdp) -> tuple[float, int]:
    cdp.send("HeapProfiler.collectGarbage")
    metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
    return metrics["JSHeapUsedSize"] / 1e6, int(metrics["Nodes"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--updates", type=int, default=200, help="timed slider changes per widget")
    parser.add_argument("--hovers", type=int, default=300, help="timed hovers on the explorer")
    parser.add_argument(
        "--memory-updates", type=int, default=1000, help="slider changes between the two heap measurements"
    )
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    failures = []
    with tempfile.TemporaryDirectory(prefix="convkit-bench-") as tmp:
        root = Path(tmp) / "notebooks"
        root.mkdir()
        for name, (source, _) in WIDGETS.items():
            notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])
            notebook.metadata["kernelspec"] = {
                "name": "python3",
                "display_name": "Python 3",
                "language": "python",
            }
            nbformat.write(notebook, root / f"{name.split()[0]}.ipynb")
        lab = start_lab(root, Path(tmp))
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
                )
                page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
                print(f"Chromium {browser.version}, JupyterLab at {lab.url}")
                for name, (_, label) in WIDGETS.items():
                    open_notebook(page, lab, f"{name.split()[0]}.ipynb")
                    run_all(page)
                    page.wait_for_selector(".ck-widget[data-drawn]", timeout=120_000)
                    # warm-up: first calls compile code paths in both the kernel and the page
                    page.evaluate(REPAINT_JS, [label, 20, KEY_REPEAT_MS])
                    times = page.evaluate(REPAINT_JS, [label, args.updates, KEY_REPEAT_MS])
                    print(f"{name}: slider '{label}' walked a step at a time -> repaint")
                    median, p90 = _summary("input event -> new drawing in DOM", times["dom"])
                    _summary("input event -> next frame", times["frame"])
                    for source in ("ahead", "kernel"):
                        picked = [d for d, s in zip(times["dom"], times["source"]) if s == source]
                        if picked and len(picked) < len(times["dom"]):
                            _summary(f"  drawn from {source}", picked)
                    missed = median > REPAINT_MEDIAN_MS or p90 > REPAINT_P90_MS
                    if missed and not name.startswith("echo"):
                        failures.append(f"{name}: repaint median {median:.1f} ms / p90 {p90:.1f} ms")
                    if name == "explorer":
                        times = page.evaluate(HOVER_JS, args.hovers)
                        print("explorer: hover an output cell -> its input window lit")
                        median, _ = _summary("pointerover -> highlight in DOM", times["dom"])
                        _summary("pointerover -> next frame", times["frame"])
                        if median > HOVER_MEDIAN_MS:
                            failures.append(f"hover median {median:.1f} ms")
                        cdp = page.context.new_cdp_session(page)
                        cdp.send("Performance.enable")
                        heap_before, nodes_before = _heap(cdp)
                        page.evaluate(REPAINT_JS, [label, args.memory_updates, 0])
                        heap_after, nodes_after = _heap(cdp)
                        print(
                            f"explorer: {args.memory_updates} updates: JS heap {heap_before:.1f}"
                            f" -> {heap_after:.1f} MB, DOM nodes {nodes_before} -> {nodes_after}"
                        )
                        grew = heap_after - heap_before > HEAP_GROWTH_LIMIT_MB
                        if grew or nodes_after > 1.01 * nodes_before:
                            failures.append("memory grew over the updates")
                    lab.shutdown_kernels()
                browser.close()
        finally:
            _stop(lab)
    for failure in failures:
        print(f"MISSED: {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
