"""Helpers for the console's tests: the real console server in a subprocess, a browser that cannot reach the
network, and signing in through the page."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from vte.config import Settings
from vte.stack import free_port

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@dataclass
class Console:
    url: str
    process: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_console(settings: Settings, *, tls: tuple[Path, Path] | None = None, verify: str | bool = True) -> Console:
    """The console as `vte console` runs it, for this VTE_HOME, on a free port; returns once it is ready."""
    port = free_port()
    settings.logs_dir.mkdir(parents=True, exist_ok=True)
    log_path = settings.logs_dir / f"console-{port}.log"
    args = [sys.executable, "-m", "vte.cli.console", "--port", str(port)]
    if tls:
        args += ["--tls-cert", str(tls[0]), "--tls-key", str(tls[1])]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT,
                                   env=os.environ | {"VTE_HOME": str(settings.home)})
    console = Console(f"{'https' if tls else 'http'}://127.0.0.1:{port}", process, log_path)
    deadline = time.monotonic() + 30
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"the console exited with {process.returncode}:\n{console.log()}")
        try:
            if httpx.get(f"{console.url}/readyz", verify=verify, timeout=5).status_code == 200:
                return console
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            stop(console.process)
            raise RuntimeError(f"the console was not ready within 30 s:\n{console.log()}")
        time.sleep(0.1)


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@dataclass
class Offline:
    """Every request the page tried to send anywhere but the console (each was aborted), and its console errors
    (a Content-Security-Policy refusal shows there)."""
    host: str
    attempted: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def cut_off_the_network(page, console_url: str) -> Offline:
    """Abort every request of ``page`` whose host is not the console's, and record it."""
    offline = Offline(urlsplit(console_url).netloc)

    def route(request_route):
        if urlsplit(request_route.request.url).netloc == offline.host:
            request_route.continue_()
        else:
            offline.attempted.append(request_route.request.url)
            request_route.abort("internetdisconnected")

    page.route("**/*", route)
    page.on("console", lambda message: offline.errors.append(message.text) if _is_refusal(message) else None)
    return offline


def _is_refusal(message) -> bool:
    """A console error other than an error page's own status (403, 409…), which Chromium logs too."""
    return message.type == "error" and not message.text.startswith("Failed to load resource: the server responded")


# An absolute http(s) reference to something a page would load: a script, stylesheet, image, font or frame.
EXTERNAL_REFERENCE = re.compile(r"""(?:src|href|action|poster|data)\s*=\s*["']?\s*(?:https?:)?//|url\(\s*["']?\s*(?:https?:)?//|@import\s+["']?(?:https?:)?//""",
                                re.IGNORECASE)


def external_references(html: str) -> list[str]:
    return [m.group(0) for m in EXTERNAL_REFERENCE.finditer(html)]


def sign_in(page, console_url: str, username: str, password: str) -> None:
    page.goto(f"{console_url}/sign-in")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#sign-in")


def sign_out(page) -> None:
    page.click("#sign-out")
    page.wait_for_selector("#sign-in")


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def signed_in_client(console_url: str, username: str, password: str, *, verify: str | bool = True) -> httpx.Client:
    """An HTTP client that signed in through the form, as a browser would (cookie and CSRF token)."""
    http = httpx.Client(base_url=console_url, verify=verify, timeout=30)
    token = csrf_of(http.get("/sign-in").text)
    answer = http.post("/sign-in", data={"csrf": token, "username": username, "password": password})
    assert answer.status_code == 303 and answer.headers["location"] == "/", answer.text
    return http


@contextmanager
def chromium_page(**page_options):
    """A page of the real Chromium (skipping the test where it is not installed), closed afterwards."""
    import pytest
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is missing: apt-get install -y chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser.new_page(**page_options)
        finally:
            browser.close()
