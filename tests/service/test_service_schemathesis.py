"""Schemathesis against the service's own OpenAPI document, over real HTTP: no generated request gets a 500,
and every error has the structured body. Bounded: 15 examples per operation, positive and negative data.

(Schemathesis's pytest fixture integration does not work with pytest 9, so the operations are driven with
Hypothesis directly from the schema's strategies.)
"""

from __future__ import annotations

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis.errors import Unsatisfiable  # noqa: E402
from support.service import Server, scored_db  # noqa: E402

EXAMPLES = 15


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory):
    s = Server(scored_db(tmp_path_factory.mktemp("fuzz") / "fuzz.duckdb"), rate_limit=0)
    yield s
    s.stop()


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["positive", "negative"])
def test_no_server_errors(fuzz_server: Server, mode: str) -> None:
    from schemathesis import GenerationMode

    token = fuzz_server.key("admin", f"fuzzer-{mode}")
    schema = schemathesis.openapi.from_url(fuzz_server.url + "/openapi.json")
    failures: list[str] = []
    operations = tested = 0
    for result in schema.get_all_operations():
        op = result.ok()
        if (op.method.upper(), op.path) == ("POST", "/v1/runs"):
            continue  # starts a real scoring run per example; covered by test_service_runs.py
        if (op.method.upper(), op.path) == ("POST", "/v1/webhooks"):
            continue  # would register receivers at generated URLs (traffic stays on loopback); tests/monitoring
        operations += 1

        @given(case=op.as_strategy(generation_mode=GenerationMode(mode)))
        @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        def run(case: schemathesis.Case) -> None:
            r = case.call(headers={"Authorization": f"Bearer {token}"}, timeout=30)
            if r.status_code >= 500 and (r.status_code != 503 or r.json()["error"]["code"] == "internal_error"):
                failures.append(f"{case.method} {case.formatted_path} -> {r.status_code} {r.text[:200]}")
            ctype = r.headers.get("content-type") or [""]
            if r.status_code >= 400 and ctype[0].startswith("application/json"):
                body = r.json()
                if not (set(body) == {"error"} and body["error"].get("code") and body["error"].get("message")):
                    failures.append(f"{case.method} {case.formatted_path}: unstructured error {r.text[:200]}")

        try:
            run()
        except Unsatisfiable:  # nothing to negate (no parameters or body), e.g. GET /healthz in negative mode
            assert mode == "negative", op.label
            continue
        tested += 1
    assert operations >= 11 and tested >= 8
    assert failures == []
