"""Fixtures for the browser tests: a private JupyterLab server and Debian's Chromium.

The session starts one JupyterLab server from the project's environment on
127.0.0.1 (a free port, a random token) serving a temporary copy of
``notebooks/``, so running the notebooks never rewrites the committed files,
and one headless Chromium driven by Playwright. Both are stopped at the end of
the session, whatever the tests did; the kernels the server started are shut
down with it and any process still alive afterwards is killed and reported.

Without Chromium or Playwright the browser tests are skipped with a one-line
reason, except when ``CONVKIT_REQUIRE_BROWSER=1`` (set by ``.ci/run``): then
they fail, so CI can never pass them silently.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from lab_page import NOTEBOOKS, ROOT  # noqa: E402  (tests/browser is on sys.path)

SCREENSHOTS = ROOT / "artifacts" / "screenshots"
CHROMIUM = os.environ.get("CONVKIT_CHROMIUM", "/usr/bin/chromium")
# Without the networking switches Chromium keeps trying to reach Google's
# hosts, which this offline machine refuses; the sandbox needs user namespaces
# that a root CI container does not give.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
INSTALL_HINT = "sudo apt-get install chromium (Playwright comes with make install)"
# JupyterLab settings written into a private settings directory: every cell
# stays in the page (no windowing, so every output can be checked and
# photographed) and nothing asks to fetch news or updates.
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
        "doNotDisturbMode": True,
    },
}
SERVER_START_TIMEOUT = 90.0


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).is_relative_to(Path(__file__).parent):
            item.add_marker(pytest.mark.browser)


def _unavailable(reason: str) -> None:
    """Skip the browser tests with one line, or fail when CI requires them."""
    if os.environ.get("CONVKIT_REQUIRE_BROWSER") == "1":
        pytest.fail(f"browser tests required (CONVKIT_REQUIRE_BROWSER=1) but {reason}", pytrace=False)
    pytest.skip(f"{reason}; to run the browser tests: {INSTALL_HINT}")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _children(pid: int) -> list[int]:
    """Every live descendant of ``pid`` (Linux /proc; empty elsewhere)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # The command name may hold spaces and parentheses: split after the last ')'.
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] != "Z":
            parents[int(stat.parent.name)] = int(fields[1])
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        kids = [child for child, ppid in parents.items() if ppid == parent]
        found += kids
        frontier += kids
    return found


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@dataclass
class Lab:
    """A running JupyterLab server."""

    url: str
    token: str
    root: Path
    process: subprocess.Popen

    def api(self, method: str, path: str) -> object:
        request = urllib.request.Request(
            f"{self.url}/api/{path}",
            method=method,
            headers={"Authorization": f"token {self.token}"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
        return json.loads(body) if body else None

    def page_url(self, notebook: str) -> str:
        return f"{self.url}/lab/tree/{notebook}?reset&token={self.token}"

    def shutdown_kernels(self, notebook: str | None = None) -> None:
        """Shut down the kernel of ``notebook`` (a path under the root), or every kernel."""
        for session in self.api("GET", "sessions"):
            if notebook is None or session["path"] == notebook:
                self.api("DELETE", f"sessions/{session['id']}")
        if notebook is None:
            for kernel in self.api("GET", "kernels"):
                self.api("DELETE", f"kernels/{kernel['id']}")


def _wait_until_serving(lab: Lab, log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while time.monotonic() < deadline:
        if lab.process.poll() is not None:
            raise RuntimeError(f"JupyterLab exited with {lab.process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            lab.api("GET", "status")
            return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.3)
    raise RuntimeError(
        f"JupyterLab did not answer within {SERVER_START_TIMEOUT:.0f} s:\n{log.read_text()[-3000:]}"
    )


def _stop(lab: Lab) -> list[int]:
    """Stop the server and its kernels; return the pids that had to be killed."""
    try:
        lab.shutdown_kernels()
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        pass  # the server may already be gone; the sweep below still runs
    survivors = _children(lab.process.pid)
    lab.process.send_signal(signal.SIGTERM)
    try:
        lab.process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        lab.process.kill()
        lab.process.wait(timeout=10)
    killed = []
    for pid in survivors:
        if _alive(pid):
            killed.append(pid)
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    return killed


@pytest.fixture(scope="session")
def chromium_path() -> str:
    if not (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)):
        _unavailable(f"Chromium not found at {CHROMIUM}")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _unavailable("Playwright for Python is not installed")
    return CHROMIUM


def start_lab(root: Path, scratch: Path) -> Lab:
    """Start a private JupyterLab on ``root`` (settings, runtime files and log in ``scratch``).

    Served as ``make lab`` serves the course: kernel websockets with ``TCP_NODELAY``
    (``convkit.widgets.nodelay``). The benchmarks start theirs with this too.
    """
    from convkit.widgets.nodelay import SERVER_OPTION

    settings = scratch / "settings"
    for name, values in LAB_SETTINGS.items():
        (settings / name).parent.mkdir(parents=True, exist_ok=True)
        (settings / name).write_text(json.dumps(values))
    env = dict(
        os.environ,
        CONVKIT_OFFLINE="1",
        JUPYTERLAB_SETTINGS_DIR=str(settings),
        JUPYTERLAB_WORKSPACES_DIR=str(scratch / "workspaces"),
        JUPYTER_RUNTIME_DIR=str(scratch / "runtime"),
        JUPYTER_CONFIG_DIR=str(scratch / "config"),
    )
    env.pop("MPLBACKEND", None)  # kernels draw inline, as when the notebooks were saved
    token, port = secrets.token_hex(24), _free_port()
    log = scratch / "lab.log"
    with log.open("w") as log_file:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jupyterlab",
                "--no-browser",
                "--allow-root",
                "--ServerApp.ip=127.0.0.1",
                f"--ServerApp.port={port}",
                "--ServerApp.port_retries=0",
                f"--IdentityProvider.token={token}",
                "--ServerApp.terminals_enabled=False",
                "--LabApp.extension_manager=readonly",
                f"--ServerApp.root_dir={root}",
                "--ServerApp.open_browser=False",
                "--LabApp.news_url=None",
                "--LabApp.expose_app_in_browser=True",
                "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
                SERVER_OPTION,
            ],
            cwd=root,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    server = Lab(url=f"http://127.0.0.1:{port}", token=token, root=root, process=process)
    try:
        _wait_until_serving(server, log)
    except BaseException:
        _stop(server)
        raise
    return server


@pytest.fixture(scope="session")
def lab(chromium_path: str) -> Iterator[Lab]:
    """A JupyterLab server on a copy of notebooks/, stopped at the end of the session."""
    with tempfile.TemporaryDirectory(prefix="convkit-lab-") as tmp:
        tmp_path = Path(tmp)
        root = tmp_path / "notebooks"
        shutil.copytree(NOTEBOOKS, root, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
        server = start_lab(root, tmp_path)
        try:
            yield server
        finally:
            killed = _stop(server)
        if killed:
            pytest.fail(f"processes still alive after JupyterLab stopped (killed): {killed}")


@pytest.fixture(scope="session")
def browser(chromium_path: str) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: object) -> Iterator[object]:
    """A fresh browser tab, 1280 px wide like a laptop screen."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    try:
        yield tab
    finally:
        context.close()


@pytest.fixture(scope="session")
def axe() -> object:
    """axe-core, as axe-playwright-python ships it (no download), to run WCAG rules on a page."""
    try:
        from axe_playwright_python.sync_playwright import Axe
    except ImportError:
        _unavailable("axe-playwright-python is not installed (make install installs it)")
    return Axe()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


# Every course widget on one JupyterLab page, shared by the accessibility tests (test_a11y_*.py).
from course_widgets import _course_tab, course_page  # noqa: E402, F401
