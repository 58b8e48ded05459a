"""Headless Chromium with the network shut: print a page to PDF, screenshot it, dump its DOM.

Every run points Chromium's proxy at a local socket that answers nothing and records what reached
it, so no request can leave the machine and :class:`Rendered` says which ones were tried (an
offline page needs none). Chromium's own background traffic (component updates, network time,
sign-in, the preconnect to its default search engine) is switched off by flags, so what the socket
records comes from the page.
"""

from __future__ import annotations

import logging
import shutil
import socket
import subprocess
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

from cchc.settings import chromium_path

log = logging.getLogger(__name__)

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-default-apps",
    "--disable-extensions", "--disable-client-side-phishing-detection", "--disable-domain-reliability",
    "--no-pings", "--metrics-recording-only", "--disable-breakpad", "--hide-scrollbars",
    "--disable-component-extensions-with-background-pages",
    "--disable-features=NetworkTimeServiceQuerying,OptimizationHints,MediaRouter,Translate,"
    "AutofillServerCommunication,CertificateTransparencyComponentUpdater,"
    "PreconnectToSearch,SearchEnginePreconnect2",  # Chromium 150 preconnects to www.google.com at start
    "--component-updater=url-source=http://127.0.0.1:1/none",
    "--google-base-url=http://127.0.0.1:1", "--gaia-url=http://127.0.0.1:1",
)


def find_chromium() -> str | None:
    """CCHC_CHROMIUM, else the first of chromium, chromium-browser, google-chrome on PATH."""
    configured = chromium_path()
    if configured:
        return configured if Path(configured).exists() or shutil.which(configured) else None
    return next((p for p in map(shutil.which, CANDIDATES) if p), None)


@dataclass
class Rendered:
    returncode: int
    stdout: str
    stderr: str
    requests: list[str] = field(default_factory=list)   # the first line of every request that was tried


class _Sink:
    """A local 'proxy' that accepts connections, records their first line and answers nothing."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(32)
        self.port = self.sock.getsockname()[1]
        self.requests: list[str] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            conn.settimeout(2)
            try:
                first = conn.recv(4096).split(b"\r\n", 1)[0].decode("latin-1")
            except OSError as exc:
                first = f"(connection without a request line: {exc})"
            self.requests.append(first)
            conn.close()

    def close(self):
        self.sock.close()


def render(page: Path, *, pdf: Path | None = None, screenshot: Path | None = None, dump_dom: bool = False,
           window: tuple[int, int] = (1000, 3000), chromium: str | None = None, timeout: float = 120) -> Rendered:
    """Open ``page`` (a local file) in headless Chromium offline and print it to ``pdf``, screenshot
    it to ``screenshot`` (PNG, ``window`` = width, height), or dump the DOM (``Rendered.stdout``)."""
    exe = chromium or find_chromium()
    if exe is None:
        raise FileNotFoundError("Chromium is not installed (apt-get install chromium, or set CCHC_CHROMIUM)")
    modes = [m for m in (pdf, screenshot, dump_dom or None) if m]
    if len(modes) != 1:
        raise ValueError("render one of pdf=, screenshot=, dump_dom=True at a time")
    sink = _Sink()
    try:
        with tempfile.TemporaryDirectory(prefix="cchc-chromium-") as profile:
            args = [exe, *FLAGS, f"--user-data-dir={profile}", f"--proxy-server=http://127.0.0.1:{sink.port}",
                    "--proxy-bypass-list=<-loopback>", f"--window-size={window[0]},{window[1]}",
                    "--virtual-time-budget=5000"]
            if pdf:
                args += [f"--print-to-pdf={Path(pdf).resolve()}", "--no-pdf-header-footer"]
            elif screenshot:
                args += [f"--screenshot={Path(screenshot).resolve()}"]
            else:
                args += ["--dump-dom"]
            args.append(Path(page).resolve().as_uri())
            proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    finally:
        sink.close()
    out = Rendered(proc.returncode, proc.stdout, proc.stderr, list(sink.requests))
    if proc.returncode != 0:
        raise RuntimeError(f"chromium exited {proc.returncode}: {proc.stderr.strip()[-800:]}")
    target = pdf or screenshot
    if target and not Path(target).exists():
        raise RuntimeError(f"chromium wrote no {target}: {proc.stderr.strip()[-800:]}")
    return out
