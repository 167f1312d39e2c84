"""The one OpenAPI document: it covers every /api/v1 route, the viewer is served, and schemathesis holds the
running app to it (every operation, the authenticated inventory ones included, on SQLite and PostgreSQL)."""

from __future__ import annotations

import os
import re
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import positive_data_acceptance

from storefront.api.routes import openapi_document
from tests.api.conftest import bearer

# Examples per operation (schemathesis adds its explicit and coverage cases): 200 keeps each database's run under
# ~50 s on two busy cores; SCHEMATHESIS_MAX_EXAMPLES changes it for a longer or shorter local run.
MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "200"))


def _openapi_path(rule: str) -> str:
    """/api/v1/models/<int(max=2147483647):model_id> -> /models/{model_id}"""
    return re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.removeprefix("/api/v1"))


def test_every_api_v1_route_is_in_the_document(app, client):
    document = client.get("/api/v1/openapi.json").get_json()
    missing = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        operations = document["paths"].get(_openapi_path(rule.rule), {})
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            if method.lower() not in operations:
                missing.append(f"{method} {rule.rule}")
    assert missing == []
    assert len(document["paths"]) >= 11 and document["openapi"] == "3.1.0"


def test_the_documented_paths_all_exist(app, client):
    document = client.get("/api/v1/openapi.json").get_json()
    served = {_openapi_path(r.rule) for r in app.url_map.iter_rules() if r.rule.startswith("/api/v1/")}
    assert set(document["paths"]) - served == set()


def test_the_reference_viewer_is_served_from_vendored_files(client):
    page = client.get("/api/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    # Static URLs carry a content digest (/static/<digest>/...): long-cached, renamed when the file changes.
    assert re.search(r"/static/(?:[0-9a-f]{10}/)?vendor/swagger-ui/swagger-ui-bundle\.js", html)
    assert re.search(r"/static/(?:[0-9a-f]{10}/)?js/api-docs\.js", html)
    assert "<script>" not in html and "http" not in html.split("<body>")[0].replace("http-equiv", "")
    bundle = client.get("/static/vendor/swagger-ui/swagger-ui-bundle.js")
    assert bundle.status_code == 200
    bundle.close()
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]


@pytest.fixture
def api_world(db, catalog, issue_key):  # type: ignore[no-untyped-def]
    """The small catalog (committed to the test's savepoint, so a route's rollback keeps it) and a key of every
    showroom with a limit schemathesis will not reach."""
    _key, secret = issue_key(catalog.dealers, name="schemathesis", rate_limit=100_000)
    db.commit()
    return secret


BUSINESS_RULE_OPERATIONS = {"/inventory/vehicles/{vin}", "/inventory/vehicles/{vin}/retire", "/quotes",
                            "/dealers/{dealer_id}/test-drive-slots"}


class _TestApp:
    """The WSGI app schemathesis calls: the suite's session app, set by the test (fixtures come after import)."""

    target: Any = None

    def __call__(self, environ: Any, start_response: Any) -> Any:
        return self.target(environ, start_response)


_test_app = _TestApp()
schema = schemathesis.openapi.from_dict(openapi_document())
schema.app = _test_app  # as schemathesis.openapi.from_wsgi does, without needing the app at import time
schema.location = "/api/v1/openapi.json"


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_every_operation_conforms_to_the_document(case, app, api_world):
    _test_app.target = app
    if "Authorization" in (case.headers or {}):  # the generated credential becomes the test key; a negative
        case.headers = {**case.headers, **bearer(api_world)}  # case that leaves it out stays without one
    # A schema-valid write may still break a rule no schema can state (an unknown trim, a stale If-Match, a closed
    # day): there 412/422/428 are right, so "valid data must be accepted" is checked on the plain reads only.
    excluded = [positive_data_acceptance] if case.operation.path in BUSINESS_RULE_OPERATIONS else []
    case.call_and_validate(excluded_checks=excluded)
