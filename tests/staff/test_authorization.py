"""Every URL under /staff, of every area, refuses anonymous users and customers; admin-only views refuse staff.

The rules are read from app.url_map, so routes added later by any area are covered without editing this file.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Blueprint, Flask
from werkzeug.routing import IntegerConverter, Rule

from tests.conftest import make_app
from tests.staff.conftest import sign_in

METHODS = ("GET", "POST")


def staff_rules(app: Flask) -> list[Rule]:
    return sorted((r for r in app.url_map.iter_rules() if r.rule.startswith("/staff")), key=lambda r: r.rule)


def dummy_url(app: Flask, rule: Rule) -> str:
    """The rule's URL with its arguments filled in: 1 for numbers, "x" for anything else."""
    values = {name: 1 if isinstance(rule._converters[name], IntegerConverter) else "x" for name in rule.arguments}
    adapter = app.url_map.bind("localhost")
    return adapter.build(rule.endpoint, values, method=next(m for m in METHODS if m in (rule.methods or ())))


def requests_for(app: Flask) -> Iterator[tuple[Rule, str, str]]:
    for rule in staff_rules(app):
        for method in METHODS:
            if method in (rule.methods or ()):
                yield rule, method, dummy_url(app, rule)


def is_admin_only(app: Flask, rule: Rule) -> bool:
    return getattr(app.view_functions[rule.endpoint], "admin_only", False)


def expected_anonymous(app: Flask) -> int:
    return 302 if "accounts.login" in app.view_functions else 401


def anonymous_problems(app: Flask, client) -> list[str]:  # type: ignore[no-untyped-def]
    problems = []
    for rule, method, url in requests_for(app):
        response = client.open(url, method=method)
        location = response.headers.get("Location", "")
        wanted = expected_anonymous(app)
        if response.status_code != wanted or (wanted == 302 and not location.startswith("/account/login")):
            problems.append(f"{method} {rule.rule}: {response.status_code} {location}")
    return problems


def test_there_are_staff_routes_to_check(app):
    rules = staff_rules(app)
    assert len(rules) >= 15 and "staff.dashboard" in {r.endpoint for r in rules}
    assert any(is_admin_only(app, r) for r in rules)


def test_anonymous_users_are_sent_to_the_login_page(app, client, setup):
    assert anonymous_problems(app, client) == []


def test_customers_are_refused(app, client, setup, customer):
    sign_in(client, customer)
    problems = [f"{method} {rule.rule}: {status}" for rule, method, url in requests_for(app)
                if (status := client.open(url, method=method).status_code) != 403]
    assert problems == []


def test_staff_are_refused_admin_only_views(app, client, setup, staff_user):
    sign_in(client, staff_user)
    problems = [f"{method} {rule.rule}: {status}" for rule, method, url in requests_for(app)
                if is_admin_only(app, rule) and (status := client.open(url, method=method).status_code) != 403]
    assert problems == []


def test_staff_reach_the_views_not_marked_admin_only(app, client, setup, staff_user):
    """The other half: staff are not locked out of their own back office, and no page breaks for them."""
    sign_in(client, staff_user)
    refused = [f"{rule.rule}: {status}" for rule, method, url in requests_for(app)
               if method == "GET" and rule.endpoint.startswith("staff.") and not is_admin_only(app, rule)
               and not rule.arguments
               and ((status := client.get(url).status_code) in (401, 403) or status >= 500)]
    assert refused == []


def test_admins_reach_every_back_office_page(app, client, setup, admin_user):
    """Pages of this blueprint (other areas test their own) never answer 401/403/5xx to an admin."""
    sign_in(client, admin_user)
    broken = [f"{rule.rule}: {status}" for rule, method, url in requests_for(app)
              if method == "GET" and rule.endpoint.startswith("staff.")
              and ((status := client.get(url).status_code) in (401, 403) or status >= 500)]
    assert broken == []


@pytest.fixture
def app_with_a_forgotten_guard(database_url: str) -> Flask:
    """A fresh app where some area added a /staff page on a blueprint without `before_request(require_staff)`."""
    app = make_app(database_url)
    careless = Blueprint("careless_staff", __name__, url_prefix="/staff/careless")
    careless.add_url_rule("/report", "report", lambda: "secret numbers")
    app.register_blueprint(careless)
    return app


def test_the_check_catches_a_staff_route_without_the_guard(app_with_a_forgotten_guard):
    app = app_with_a_forgotten_guard
    with app.app_context():
        problems = anonymous_problems(app, app.test_client())
    assert problems == ["GET /staff/careless/report: 200 "]


def test_every_staff_post_needs_a_csrf_token(app, client, setup, admin_user, monkeypatch):
    """With CSRF on (as in production), a POST without the token is refused before any view runs."""
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    sign_in(client, admin_user)
    accepted = [f"{rule.rule}: {status}" for rule, method, url in requests_for(app)
                if method == "POST" and (status := client.post(url, data={"x": "1"}).status_code) != 400]
    assert accepted == []
