"""The investigator's graph explorer at ``/ui``: static files shipped in the package (``chainrisk/service/ui``),
with Cytoscape.js vendored (no CDN). The page holds no data: it asks for an API key and calls the same API as any
client, so keys, roles, limits, audit and the read view apply to it unchanged."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, RedirectResponse, Response

from ..errors import ApiError

router = APIRouter(include_in_schema=False)

UI_DIR = Path(__file__).resolve().parent.parent / "ui"
VENDOR = {"cytoscape": "3.35.0"}
_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
          ".css": "text/css; charset=utf-8", ".md": "text/plain; charset=utf-8", ".LICENSE": "text/plain; charset=utf-8"}
_HEADERS = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
            "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
                                       "connect-src 'self'; frame-ancestors 'none'"}


@router.get("/ui")
def ui_root() -> Response:
    return RedirectResponse("/ui/", status_code=307)


@router.get("/ui/")
def ui_index() -> Response:
    return _file("index.html")


@router.get("/ui/messages.json")
def ui_messages() -> Response:
    """The explorer's words in both languages (from the one catalogue, :mod:`chainrisk.i18n`)."""
    from ... import i18n
    from ..http import json_response

    prefixes = ("ui.", "category.", "band.", "action.", "axis.", "confidence.", "disposition.", "direction.")
    cat = i18n.catalogue()
    return json_response({lang: {k: v.get(lang) or v["en"] for k, v in cat.items() if k.startswith(prefixes)}
                          for lang in i18n.LANGS}, headers={"Cache-Control": "no-cache"})


@router.get("/ui/{name:path}")
def ui_file(name: str) -> Response:
    return _file(name)


def _file(name: str) -> Response:
    path = (UI_DIR / name).resolve()
    if UI_DIR not in path.parents or not path.is_file():
        raise ApiError("not_found", f"no file {name[:100]!r} in the explorer")
    ctype = _TYPES.get(path.suffix) or _TYPES.get("." + path.name.rsplit(".", 1)[-1], "application/octet-stream")
    return FileResponse(path, media_type=ctype, headers=_HEADERS)
