"""A small client of a running ``chainrisk serve`` for the CLI (the service owns the store's writes while it
runs). Standard library HTTP only."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlencode

from ..errors import InputError, SourceUnavailable, UsageError


class ServiceClient:
    def __init__(self, url: str, key: str | None, timeout: float = 60.0) -> None:
        if not key:
            raise UsageError("--service needs an API key: --key TOKEN or CHAINRISK_API_KEY")
        self.url = url.rstrip("/")
        self.key = key
        self.timeout = timeout

    def _do(self, method: str, path: str, body: Any = None, raw: bytes | None = None) -> Any:
        data = raw if raw is not None else None if body is None else json.dumps(body).encode()
        ctype = "application/octet-stream" if raw is not None else "application/json"
        req = urllib.request.Request(self.url + path, data=data, method=method, headers={
            "Authorization": f"Bearer {self.key}", "Content-Type": ctype})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as e:
            try:
                err = json.loads(e.read())["error"]
                msg = f"{err['code']}: {err['message']}"
            except (ValueError, KeyError, TypeError):
                msg = f"HTTP {e.code}"
            raise InputError(f"the service at {self.url} answered {msg}") from None
        except (urllib.error.URLError, OSError) as e:
            raise SourceUnavailable(f"cannot reach the service at {self.url}: {e}") from None

    def get(self, path: str, query: dict[str, Any] | None = None) -> Any:
        q = {k: v for k, v in (query or {}).items() if v is not None}
        return self._do("GET", path + (("?" + urlencode(q)) if q else ""))

    def post(self, path: str, body: Any) -> Any:
        return self._do("POST", path, body)

    def import_labels(self, paths: list[str], format: str, **options: Any) -> list[Any]:
        """Upload each file to ``POST /v1/labels/imports``; the results as :class:`SourceResult` objects."""
        from pathlib import Path

        from ..labels.store import SourceResult

        out = []
        for p in paths or [""]:
            q = {"format": format, "filename": Path(p).name if p else "labels",
                 **{k: ("true" if v is True else v) for k, v in options.items() if v not in (None, False)}}
            raw = Path(p).read_bytes() if p else b""
            got = self._do("POST", "/v1/labels/imports?" + urlencode(q), raw=raw)
            out += [SourceResult(**{k: v for k, v in r.items() if k in SourceResult.__dataclass_fields__})
                    for r in got["results"]]
        return out
