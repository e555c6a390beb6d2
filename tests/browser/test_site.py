"""The static site (``make html``) opened from disk in Chromium: every link leads to a page with its figures."""
from __future__ import annotations

import sys
from pathlib import Path
from urllib.parse import urldefrag, urljoin

import nbformat
import pytest
from lab_page import NOTEBOOKS, ROOT

sys.path.insert(0, str(ROOT / "tools"))
import build_site  # noqa: E402


@pytest.fixture(scope="module")
def site(tmp_path_factory, chromium_path) -> Path:
    out = tmp_path_factory.mktemp("site") / "site"
    build_site.build_site(out)
    return out


def _stored_pictures(notebook: Path) -> int:
    nb = nbformat.read(notebook, as_version=4)
    return sum("image/png" in output.get("data", {})
               for cell in nb.cells for output in cell.get("outputs", []))


def _links(page) -> list[str]:
    return page.eval_on_selector_all("a[href]", "links => links.map(a => a.href)")


def test_every_link_of_the_site_opens_a_page_with_its_figures(site: Path, page):
    index = site.joinpath("index.html").as_uri()
    expected = {f"{p.stem}.html": _stored_pictures(p) for p in sorted(NOTEBOOKS.glob("*.ipynb"))}
    seen, queue = set(), [index]
    while queue:
        url = queue.pop(0)
        if url in seen:
            continue
        seen.add(url)
        page.goto(url, wait_until="load")
        name = Path(url.removeprefix("file://")).relative_to(site).as_posix()
        assert page.title(), f"{name}: page has no title"
        pictures = page.eval_on_selector_all(
            "img", "imgs => imgs.map(i => [i.complete && i.naturalWidth > 0, i.alt || i.src.slice(0, 40)])")
        broken = [alt for ok, alt in pictures if not ok]
        assert not broken, f"{name}: pictures that do not load: {broken}"
        if name in expected:
            assert len(pictures) >= expected[name], (
                f"{name}: {len(pictures)} pictures on the page, {expected[name]} in the notebook")
        for link in _links(page):
            target = urldefrag(urljoin(url, link))[0]
            if target.startswith("file://"):
                assert Path(target.removeprefix("file://")).is_file(), f"{name}: dead link {link}"
                queue.append(target)
    visited = {Path(u.removeprefix("file://")).relative_to(site).as_posix() for u in seen}
    assert visited >= {"index.html", "readme.html", *expected}, visited


def test_next_links_walk_the_course_in_order(site: Path, page):
    page.goto(site.joinpath("index.html").as_uri())
    walked = []
    while page.locator("a[rel=next]").count():
        page.locator("a[rel=next]").first.click()
        page.wait_for_load_state("load")
        walked.append(Path(page.url.removeprefix("file://")).name)
        assert page.locator("a[rel=prev]").count() or len(walked) == 1
    assert walked == [f"{p.stem}.html" for p in sorted(NOTEBOOKS.glob("*.ipynb"))]
