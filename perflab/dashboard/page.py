"""The dashboard page: one self-contained HTML document (CSS and JavaScript inlined, nothing fetched
from anywhere but the API that serves it)."""

from __future__ import annotations

import functools
from importlib import resources

CSS_MARK = "/*DASHBOARD_CSS*/"
JS_MARK = "//DASHBOARD_JS"


def _static(name: str) -> str:
    return resources.files("perflab.dashboard").joinpath("static", name).read_text(encoding="utf-8")


@functools.cache
def dashboard_html() -> str:
    """``static/index.html`` with ``dashboard.css`` and ``dashboard.js`` inlined."""
    page = _static("index.html")
    if CSS_MARK not in page or JS_MARK not in page:
        raise RuntimeError("static/index.html lost its CSS or JS placeholder")
    # The script must not close its own element early.
    script = _static("dashboard.js").replace("</script", "<\\/script")
    return page.replace(CSS_MARK, _static("dashboard.css")).replace(JS_MARK, script)
