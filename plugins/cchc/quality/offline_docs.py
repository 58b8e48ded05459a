"""GX Data Docs that render with no network: their CDN assets replaced by copies in the package.

GX's page templates load Bootstrap, jQuery, Popper, bootstrap-table, bootstrap-datepicker, Font
Awesome, Vega and a dark theme from public CDNs, and its logo from a web-assets bucket (with a
tracking query string): offline the pages render without styles or scripts. The same files, at
the same versions (npm packages; licences in ``docs_assets/licenses``), are kept in
``cchc/quality/docs_assets``; :func:`localize_site` copies them into the site
(``<site>/static/cchc/``) and rewrites every ``<link href>``, ``<script src>`` and ``<img src>``
that names one of them into a relative path, after each ``build_data_docs``. Navigation links
(``<a href="https://…">``) stay: they load nothing. An asset reference that is not known here is
left as it is and logged, so a GX upgrade that adds one shows in the log and in the offline test.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
from collections.abc import Iterable
from pathlib import Path

log = logging.getLogger(__name__)

ASSETS_DIR = Path(__file__).with_name("docs_assets")
#: where the copies go inside a Data Docs site
SITE_FOLDER = Path("static") / "cchc"
#: CDN address (without query string) → file under docs_assets
CDN_ASSETS: dict[str, str] = {
    "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css": "css/bootstrap.min.css",
    "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js": "js/bootstrap.min.js",
    "https://code.jquery.com/jquery-3.7.1.min.js": "js/jquery.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js": "js/popper.min.js",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.css": "css/bootstrap-table.min.css",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.js": "js/bootstrap-table.min.js",
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.css":
        "css/bootstrap-table-filter-control.min.css",
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.min.css":
        "css/bootstrap-table-filter-control.min.css",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/extensions/filter-control/bootstrap-table-filter-control.min.js":
        "js/bootstrap-table-filter-control.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/css/bootstrap-datepicker.min.css":
        "css/bootstrap-datepicker.min.css",
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/js/bootstrap-datepicker.min.js":
        "js/bootstrap-datepicker.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css": "css/fontawesome-all.min.css",
    "https://cdn.jsdelivr.net/npm/vega@5": "js/vega.min.js",
    "https://cdn.jsdelivr.net/npm/vega-lite@5": "js/vega-lite.min.js",
    "https://cdn.jsdelivr.net/npm/vega-embed@6": "js/vega-embed.min.js",
    "https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/bootstrap-prefers-dark.css":
        "css/bootstrap-prefers-dark.css",
}
#: GX's logo bucket → the same images in GX's own package (great_expectations/render/view/static/images)
GX_IMAGES_URL = "https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/"

#: an asset reference: <link … href="http…">, <script … src="http…">, <img … src="http…">
_ASSET = re.compile(r'(<(?:link|script|img)\b[^>]*?\b(?:href|src)=)(["\'])(https?://[^"\']+)\2', re.IGNORECASE)


def remote_assets(html: str) -> list[str]:
    """The http(s) addresses that a page loads (stylesheets, scripts, images), not its links."""
    return [m.group(3) for m in _ASSET.finditer(html)]


def _gx_images() -> Path:
    import great_expectations

    return Path(great_expectations.__file__).parent / "render" / "view" / "static" / "images"


def _fingerprint(folder: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(folder)).encode())
            h.update(str(p.stat().st_size).encode())
    return h.hexdigest()[:16]


def install_assets(site: Path) -> Path:
    """Copy the vendored assets (and GX's images) into ``<site>/static/cchc`` when missing or
    different; returns that folder."""
    target = site / SITE_FOLDER
    stamp = target / ".fingerprint"
    want = _fingerprint(ASSETS_DIR)
    if stamp.is_file() and stamp.read_text() == want:
        return target
    tmp = target.with_name(target.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(ASSETS_DIR, tmp, ignore=shutil.ignore_patterns("licenses"))
    shutil.copytree(_gx_images(), tmp / "images", dirs_exist_ok=True)
    (tmp / ".fingerprint").write_text(want)
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    return target


def _local(url: str) -> str | None:
    """The file under the site's asset folder that replaces ``url``; None when unknown."""
    bare = url.split("?", 1)[0].split("#", 1)[0]
    if bare in CDN_ASSETS:
        return CDN_ASSETS[bare]
    if bare.startswith(GX_IMAGES_URL):
        name = bare.removeprefix(GX_IMAGES_URL)
        if "/" not in name and (_gx_images() / name).is_file():
            return f"images/{name}"
    return None


def localize_page(page: Path, assets: Path) -> list[str]:
    """Rewrite the page's known CDN assets to relative paths under ``assets``; returns the remote
    asset references left (unknown ones)."""
    html = page.read_text(encoding="utf-8")
    if "http" not in html:
        return []
    left: list[str] = []

    def swap(m: re.Match) -> str:
        local = _local(m.group(3))
        if local is None:
            left.append(m.group(3))
            return m.group(0)
        rel = os.path.relpath(assets / local, page.parent).replace(os.sep, "/")
        return f"{m.group(1)}{m.group(2)}{rel}{m.group(2)}"

    new = _ASSET.sub(swap, html)
    if new != html:
        page.write_text(new, encoding="utf-8")
    return left


def localize_site(site: Path, pages: Iterable[Path] | None = None) -> int:
    """Make the Data Docs site under ``site`` (the folder of its index.html) render offline: install
    the assets and rewrite ``pages`` (default: every HTML page of the site). Returns the number of
    pages rewritten or checked; logs asset references it does not know."""
    site = Path(site)
    if not site.is_dir():
        return 0
    assets = install_assets(site)
    todo = list(pages) if pages is not None else sorted(site.rglob("*.html"))
    unknown: set[str] = set()
    for page in todo:
        if page.is_file():
            unknown.update(localize_page(page, assets))
    if unknown:
        log.warning("Data Docs still load %d remote asset(s) (not vendored in %s): %s", len(unknown),
                    ASSETS_DIR, ", ".join(sorted(unknown)[:5]))
    return len(todo)
