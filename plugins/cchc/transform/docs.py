"""dbt docs of the warehouse in use: ``cchc docs [--out DIR] [--serve [--port P]]``.

Runs ``dbt docs generate`` through the project's own runner (:func:`cchc.transform.dbt_runner.run_dbt`:
the profile's connection comes from the warehouse URL in use, nothing to set by hand) with the
current publication's ``as_of_date`` and id, in a work folder of its own (the nightly build's
target and partial-parse state stay untouched), and writes ``index.html``, ``catalog.json`` and
``manifest.json`` — plus ``static_index.html``, one self-contained page that a browser opens from
the file system (``index.html`` fetches the two JSON files, which browsers refuse over file://) —
into the output folder (default ``$CCHC_HOME/docs/dbt``). ``--serve`` then serves that folder on
127.0.0.1 until interrupted.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import http.server
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

from cchc.paths import state_dir
from cchc.transform.dbt_runner import dbt_work_dir, run_dbt
from cchc.warehouse import connect, warehouse_url

log = logging.getLogger(__name__)

#: what `cchc docs` writes (dbt's artifacts of `docs generate --static`)
DOCS_FILES = ("index.html", "static_index.html", "catalog.json", "manifest.json")


class DocsError(RuntimeError):
    """dbt docs could not be generated (the message says why)."""


@dataclass(frozen=True)
class Docs:
    folder: Path
    as_of_date: dt.date
    publication_id: int | None

    @property
    def index(self) -> Path:
        return self.folder / "index.html"

    @property
    def static_index(self) -> Path:
        return self.folder / "static_index.html"


def default_docs_dir() -> Path:
    return state_dir() / "docs" / "dbt"


def _run_vars(url: str) -> tuple[dt.date, int | None]:
    """The current publication's (as_of_date, id); today and None before the first publication."""
    from cchc.publish import current_publication

    with connect(url) as conn:
        pub = current_publication(conn)
    if pub is None:
        log.warning("no publication yet: documenting the warehouse as of today")
        return dt.date.today(), None
    return pub.as_of_date, pub.publication_id


def generate_docs(out: Path | None = None, url: str | None = None) -> Docs:
    """``dbt docs generate --static`` on the warehouse ``url`` (default: the one in use); the files
    of :data:`DOCS_FILES` copied into ``out`` (default :func:`default_docs_dir`). Raises
    :class:`DocsError` with dbt's output when dbt fails."""
    url = url or warehouse_url()
    out = Path(out) if out else default_docs_dir()
    as_of, pub_id = _run_vars(url)
    work = dbt_work_dir(url).with_name(dbt_work_dir(url).name + "-docs")
    log.info("dbt docs generate (as of %s, publication %s) in %s", as_of, pub_id, work)
    result = run_dbt(["docs", "generate", "--static"], url=url, target_dir=work,
                     vars={"as_of_date": as_of.isoformat(), "publication_id": pub_id or 0, "run_id": "cchc-docs"})
    target = work / "target"
    missing = [name for name in DOCS_FILES if not (target / name).is_file()]
    if not result.success or missing:
        raise DocsError(f"dbt docs generate failed (exit code {result.returncode}"
                        f"{', no ' + ', '.join(missing) if missing else ''}):\n{result.log_tail}")
    out.mkdir(parents=True, exist_ok=True)
    for name in DOCS_FILES:
        shutil.copy2(target / name, out / name)
    (out / PUBLICATION_MARK).write_text(f"{pub_id or ''}\n")
    log.info("dbt docs written to %s", out)
    return Docs(out, as_of, pub_id)


#: the publication the docs in a folder were generated for (written by generate_docs)
PUBLICATION_MARK = ".publication"


def refresh_docs(out: Path | None = None, url: str | None = None) -> Docs | None:
    """Generate the docs unless ``out`` already holds those of the current publication (``cchc demo``
    refreshes them after its run; a rerun that published nothing new does not pay for it again).
    None when they were current."""
    url = url or warehouse_url()
    out = Path(out) if out else default_docs_dir()
    _, pub_id = _run_vars(url)
    mark = out / PUBLICATION_MARK
    if pub_id is not None and mark.is_file() and mark.read_text().strip() == str(pub_id) \
            and all((out / name).is_file() for name in DOCS_FILES):
        return None
    return generate_docs(out, url)


def serve_docs(folder: Path, *, host: str = "127.0.0.1", port: int = 8081) -> None:
    """Serve ``folder`` over HTTP until interrupted (index.html reads the JSON files beside it)."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    with http.server.ThreadingHTTPServer((host, port), handler) as server:
        print(f"dbt docs at http://{host}:{server.server_address[1]}/ (Ctrl-C stops)", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            server.serve_forever()
