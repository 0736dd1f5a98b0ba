"""The GX Data Docs site under ``$VTE_HOME/gx-docs/``: every gate's results of every kept run, readable offline.

Every gate run adds its validation results to the one store under ``$VTE_HOME/gx/validations/``
(vte.publication.gx_project); :func:`update_site` then, one run at a time:

1. drops the oldest results beyond ``KEEP_VALIDATION_RESULTS``, and their pages;
2. has GX render the new results' pages and an index over every kept result, of both stages;
3. makes the pages load nothing from the network: GX's templates link bootstrap, jQuery, bootstrap-table,
   Font Awesome, Vega… from CDNs and its logo from a bucket. Copies of those files (``data_docs_assets/``,
   see its README) go into the site's ``static/vendor/`` and each page is rewritten to reference them by a
   relative path, so the site works from the disk, from the console (``/quality/gx/``) and on an intranet.
   A reference this module does not know (a new GX release's) is removed, and logged, rather than followed.
"""

from __future__ import annotations

import fcntl
import functools
import logging
import os
import re
import shutil
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from vte.publication.gx_project import DATA_DOCS_SITE, KEEP_VALIDATION_RESULTS

log = logging.getLogger(__name__)

ASSETS_DIR = Path(__file__).parent / "data_docs_assets"
VENDOR = "static/vendor"  # the copies' place in the site
GX_IMAGES = "static/images"  # GX copies its own images there

# What GX 1.x's templates (js_script_imports.j2, page.j2, index_page.j2…) load, and the copy of each.
CDN_COPIES = {
    "https://cdn.jsdelivr.net/npm/vega@5": "vega/vega.min.js",
    "https://cdn.jsdelivr.net/npm/vega-lite@5": "vega/vega-lite.min.js",
    "https://cdn.jsdelivr.net/npm/vega-embed@6": "vega/vega-embed.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css": "fontawesome/css/all.min.css",
    "https://code.jquery.com/jquery-3.7.1.min.js": "jquery/jquery.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js": "popper/popper.min.js",
    "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js": "bootstrap/bootstrap.min.js",
    "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css": "bootstrap/bootstrap.min.css",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.js": "bootstrap-table/bootstrap-table.min.js",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.css": "bootstrap-table/bootstrap-table.min.css",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/extensions/filter-control/bootstrap-table-filter-control.min.js":
        "bootstrap-table/extensions/filter-control/bootstrap-table-filter-control.min.js",
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.min.css":
        "bootstrap-table/extensions/filter-control/bootstrap-table-filter-control.min.css",
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.css":
        "bootstrap-table/extensions/filter-control/bootstrap-table-filter-control.min.css",
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/js/bootstrap-datepicker.min.js":
        "bootstrap-datepicker/bootstrap-datepicker.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/css/bootstrap-datepicker.min.css":
        "bootstrap-datepicker/bootstrap-datepicker.min.css",
    "https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/bootstrap-prefers-dark.css":
        "bootstrap-dark/bootstrap-prefers-dark.min.css",
}
# GX's logos, fetched from its web-assets bucket with the data context's id as a tracking parameter.
GX_WEB_ASSET = re.compile(
    r"https://great-expectations-web-assets\.s3[\w.-]*\.amazonaws\.com/([\w.-]+)(?:\?[^\"')\s]*)?")
GX_LOGO = "logo-long.png"

_RESOURCE_TAG = re.compile(r"<(script|link|img)\b[^>]*>(?:\s*</script>)?", re.IGNORECASE)
_URL_ATTRIBUTE = re.compile(r"""\b(src|href)\s*=\s*(["'])(.*?)\2""", re.IGNORECASE | re.DOTALL)
_SRI_ATTRIBUTES = re.compile(r"""\s+(?:integrity|crossorigin)(?:\s*=\s*(["']).*?\1)?""", re.IGNORECASE | re.DOTALL)
_CSS_URL = re.compile(r"""url\(\s*(["']?)\s*((?:https?:)?//[^"')\s]+)\s*\1\s*\)""", re.IGNORECASE)
_EXTERNAL = re.compile(r"^\s*(?:https?:)?//", re.IGNORECASE)
_EXTERNAL_LINK = re.compile(r"""<a\b[^>]*\bhref\s*=\s*["']\s*(?:https?:)?//[^>]*>(.*?)</a>""",
                            re.IGNORECASE | re.DOTALL)
_NEWSLETTER_FOOTER = re.compile(r"<footer>\s*<p>[^<]*newsletter.*?</footer>", re.IGNORECASE | re.DOTALL)

_REWRITTEN_STAMP = ".offline"  # in the vendor folder: pages older than it are rewritten already


def docs_dir(home: Path) -> Path:
    return home / "gx-docs"


def validations_dir(home: Path) -> Path:
    return home / "gx" / "validations"


def update_site(context, result_identifiers: Iterable, home: Path) -> Path:
    """Render these validation results and the index over every kept result; returns the index page.

    ``context`` is a run's copy of the project (its validation store is the shared one). Runs take turns,
    so that two gates finishing together neither race on the index nor prune each other's pages.
    """
    from great_expectations.data_context.types.resource_identifiers import ExpectationSuiteIdentifier

    result_identifiers = list(result_identifiers)
    suites = {key.expectation_suite_identifier.name for key in result_identifiers}
    with _site_lock(home):
        prune_validation_results(home)
        context.build_data_docs(site_names=[DATA_DOCS_SITE], resource_identifiers=[
            *result_identifiers, *(ExpectationSuiteIdentifier(name=name) for name in sorted(suites))])
        make_offline(docs_dir(home))
    return docs_dir(home) / "index.html"


@contextmanager
def _site_lock(home: Path) -> Iterator[None]:
    path = home / "gx" / "data-docs.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def prune_validation_results(home: Path, keep: int = KEEP_VALIDATION_RESULTS) -> list[Path]:
    """Remove all but the ``keep`` newest stored results, and their pages; returns the removed results.

    The index reads every stored result on each build: the oldest go so that it stays quick.
    """
    store, site = validations_dir(home), docs_dir(home) / "validations"
    results = sorted(store.rglob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
    removed = results[keep:]
    for old in removed:
        # the store keys a result by suite/run name/run time/batch, and the site its page by the same path
        page = (site / old.relative_to(store)).with_suffix(".html")
        for path, root in ((old, store), (page, site)):
            path.unlink(missing_ok=True)
            _remove_empty_parents(path, root)
    return removed


def _remove_empty_parents(path: Path, root: Path) -> None:
    # Only the removed result's own folders: a run writing its results meanwhile writes into new ones.
    for directory in path.parents:
        if directory == root or not directory.is_relative_to(root):
            return
        try:
            directory.rmdir()
        except OSError:  # not empty (another batch of the run), or already gone
            return


def make_offline(site: Path) -> list[Path]:
    """Copy the assets into the site and point the pages GX wrote since the last call at them; returns those."""
    vendor = site / VENDOR
    stamp = vendor / _REWRITTEN_STAMP
    since = stamp.stat().st_mtime if stamp.exists() else None
    _copy_assets(vendor)
    pages = [page for page in site.rglob("*.html") if since is None or page.stat().st_mtime >= since]
    for page in pages:
        text = page.read_text(encoding="utf-8")
        offline = offline_html(text, "../" * (len(page.relative_to(site).parts) - 1))
        if offline != text:
            _replace(page, offline)
    stamp.touch()
    return pages


def _copy_assets(vendor: Path) -> None:
    for source in ASSETS_DIR.rglob("*"):
        target = vendor / source.relative_to(ASSETS_DIR)
        if source.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        elif not target.exists() or target.stat().st_size != source.stat().st_size:
            target.parent.mkdir(parents=True, exist_ok=True)
            temporary = target.with_name(f".{target.name}.tmp")
            shutil.copyfile(source, temporary)
            os.replace(temporary, target)


def _replace(page: Path, text: str) -> None:
    # A reader (the console, a browser on the share) sees the old page or the new one, never half of one.
    temporary = page.with_name(f".{page.name}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, page)


def offline_html(html: str, to_root: str) -> str:
    """``html`` with every CDN reference replaced by the copy's path (``to_root`` leads to the site's root),
    GX's logos by its own copies, outside links by their text, and anything else external removed."""

    def local(url: str) -> str | None:
        if url in CDN_COPIES:
            return f"{to_root}{VENDOR}/{CDN_COPIES[url]}"
        logo = GX_WEB_ASSET.fullmatch(url)
        if logo:
            name = logo.group(1)
            return f"{to_root}{GX_IMAGES}/{name if name in _gx_images() else GX_LOGO}"
        return None

    def resource(match: re.Match) -> str:
        tag = match.group(0)
        attribute = _URL_ATTRIBUTE.search(tag)
        if attribute is None or not _EXTERNAL.match(attribute.group(3)):
            return tag
        url = attribute.group(3).strip()
        copy = local(url)
        if copy is None:
            log.warning("Data Docs: removed a reference to %s, which has no local copy", url)
            return ""
        tag = tag[:attribute.start(3)] + copy + tag[attribute.end(3):]
        return _SRI_ATTRIBUTES.sub("", tag)  # the copies are checked when vendored, not by the browser

    def css_url(match: re.Match) -> str:
        copy = local(match.group(2))
        if copy is None:
            log.warning("Data Docs: removed a stylesheet reference to %s, which has no local copy", match.group(2))
            return 'url("data:,")'
        return f'url("{copy}")'

    html = _NEWSLETTER_FOOTER.sub("", html)
    html = _EXTERNAL_LINK.sub(lambda m: m.group(1), html)
    html = _RESOURCE_TAG.sub(resource, html)
    return _CSS_URL.sub(css_url, html)


@functools.cache
def _gx_images() -> frozenset[str]:
    import great_expectations

    return frozenset(p.name for p in (Path(great_expectations.__file__).parent / "render/view/static/images").iterdir())
