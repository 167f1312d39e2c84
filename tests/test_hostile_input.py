"""No request input yields a 5xx (issue 11 row 8): every GET route of app.url_map, signed in as an admin, gets random
path values and query strings (hypothesis), hostile ones among them: NUL, non-ASCII digits such as "²", numbers
beyond the database's integer range, very long and odd text. Runs on SQLite and, with TEST_DATABASE_URL, on
PostgreSQL (which refuses NUL in text and integers over 2**31 - 1, where SQLite shrugs)."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from werkzeug.routing import Rule

STOREFRONT = Path(__file__).resolve().parent.parent / "storefront"
EXAMPLES_PER_ROUTE = 6  # random ones, on top of the explicit sweep below
# Every route also gets these, explicitly: each one in every path argument, and each one in every query argument
# the code knows of at once (behind real path values, so the page itself is reached).
PATH_SWEEP = ["\x00", "²", "2147483648", "99999999999999999999999"]
QUERY_SWEEP = ["²", "١٢", "2147483648", "-1", "x" * 300]

HOSTILE = ["\x00", "a\x00b", "²", "١٢", "2147483648", "99999999999999999999999", "-1", "0", "00", "+1", " 1", "1.5",
           "1e3", "..", "%", "\ufeff", "nan", "[]", "{}", "null", "' OR 1=1 --", "<script>", "💥", "x" * 300]


def _argument_names() -> list[str]:
    """Query arguments the code reads (request.args) and the fields of its forms, found in the source."""
    names: set[str] = set()
    for path in STOREFRONT.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        names.update(re.findall(r"""args\.get(?:list)?\(\s*["']([\w\-\[\]]+)["']""", text))
        names.update(re.findall(r"""^\s+(\w+)\s*=\s*\w*Field\(""", text, flags=re.MULTILINE))
    return sorted(names)


ARGUMENT_NAMES = _argument_names()


def _values(good: list[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(HOSTILE),
        st.sampled_from(good),
        st.integers(min_value=-(2**70), max_value=2**70).map(str),
        st.text(max_size=24),
    )


def _query(good: list[str]) -> st.SearchStrategy[list[tuple[str, str]]]:
    names = st.one_of(st.sampled_from(ARGUMENT_NAMES), st.text(min_size=1, max_size=8))
    return st.lists(st.tuples(names, _values(good)), max_size=4)


def _url(rule: Rule, values: dict[str, str]) -> str:
    """The rule's path with each <converter:name> replaced by the (percent-encoded) value."""

    def replace(match: re.Match[str]) -> str:
        return quote(values[match.group(1)], safe="")

    return re.sub(r"<(?:[^:<>]+:)?(\w+)>", replace, rule.rule)


def _real_path_values(rule: Rule, good: dict[str, str]) -> dict[str, str]:
    return {name: good.get(name, "1") for name in rule.arguments}


def _get_rules(app) -> list[Rule]:  # type: ignore[no-untyped-def]
    # /readyz reads no input; it opens its own connection, which on the suite's in-memory database is the test's
    # own (a 503 there only says the test database has no Alembic history). tests/test_health.py covers it.
    return sorted((rule for rule in app.url_map.iter_rules() if "GET" in (rule.methods or set())
                   and rule.endpoint not in ("static", "health.readyz")), key=lambda rule: rule.rule)


@pytest.mark.slow
def test_no_get_route_answers_a_5xx_to_any_input(app, client, login_as, admin_user, catalog):
    login_as(admin_user)
    good = ["1", "2", "kadjar", "renault", *(str(t.id) for t in catalog.trims[:2])]
    real = {"slug": catalog.car_models[0].slug, "model_slug": catalog.car_models[0].slug,
            "trim_id": str(catalog.trims[0].id), "model_id": str(catalog.car_models[0].id),
            "dealer_id": str(catalog.dealers[0].id), "vehicle_id": str(catalog.vehicles[0].id),
            "user_id": str(admin_user.id)}
    failures: list[str] = []

    for rule in _get_rules(app):

        @settings(max_examples=EXAMPLES_PER_ROUTE, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        @given(values=st.fixed_dictionaries({name: _values(good) for name in rule.arguments}), query=_query(good))
        def probe(values: dict[str, str], query: list[tuple[str, str]]) -> None:
            url = _url(rule, values)  # noqa: B023  (called right here, inside this iteration)
            response = client.get(url, query_string=query)  # an unhandled error raises here (PROPAGATE_EXCEPTIONS)
            assert response.status_code < 500, (url, query)

        for value in QUERY_SWEEP:
            probe = example(values=_real_path_values(rule, real), query=[(name, value) for name in ARGUMENT_NAMES])(
                probe)
        if rule.arguments:
            for value in PATH_SWEEP:
                probe = example(values=dict.fromkeys(rule.arguments, value), query=[])(probe)

        try:
            probe()
        except Exception as error:  # keep going: report every route that fails, with hypothesis' smallest example
            failures.append(f"{rule.rule}: {str(error).splitlines()[0][:300]}")
    assert not failures, "\n".join(failures)


# --- the form fields the issue found (POST) ---------------------------------------------------------------------------

BAD_IDS = ["²", "١٢", "2147483648", "99999999999999999999", "-1", "1.0", " "]


@pytest.mark.parametrize("bad", BAD_IDS)
def test_a_booking_with_a_bad_showroom_id_is_refused_on_the_form(client, login_as, customer, catalog, bad):
    login_as(customer)
    model_id = catalog.car_models[0].id
    response = client.post(f"/test-drives/book/{model_id}", data={
        "dealer_id": bad, "starts_at": "2030-01-07T10:00:00+08:00", "contact_name": "Li Lei",
        "mobile": "13800138000", "licence_confirmed": "y"})
    assert response.status_code == 422


@pytest.mark.parametrize("bad", BAD_IDS)
def test_bad_demo_car_numbers_are_refused_with_a_message(client, login_as, admin_user, catalog, bad):
    login_as(admin_user)
    dealer = catalog.dealers[0]
    model_id = catalog.car_models[0].id
    for data in ({f"model_{model_id}": bad}, {f"model_{bad}": "1"}):
        response = client.post(f"/staff/test-drives/{dealer.id}/demo-cars", data=data)
        assert response.status_code in (302, 303, 400, 404, 409, 422), data


@pytest.mark.slow
def test_no_post_route_answers_a_5xx_to_bad_numbers_in_every_field(app, client, login_as, admin_user, catalog):
    """Every POST route, signed in as an admin (CSRF is off in the tests), with one bad value in every form field
    the code knows of at once: non-ASCII digits, numbers beyond the integer range, negative and very long text."""
    real = {"slug": catalog.car_models[0].slug, "model_slug": catalog.car_models[0].slug,
            "trim_id": str(catalog.trims[0].id), "model_id": str(catalog.car_models[0].id),
            "dealer_id": str(catalog.dealers[0].id), "vehicle_id": str(catalog.vehicles[0].id),
            "user_id": str(admin_user.id)}
    failures: list[str] = []
    rules = [rule for rule in app.url_map.iter_rules() if "POST" in (rule.methods or set())]
    for rule in sorted(rules, key=lambda rule: rule.rule):
        url = _url(rule, _real_path_values(rule, real))
        for value in QUERY_SWEEP:
            login_as(admin_user)  # a route may have signed us out
            data = dict.fromkeys(ARGUMENT_NAMES, value)
            try:
                status = client.post(url, data=data).status_code
            except Exception as error:  # an unhandled error: what a 500 is made of
                failures.append(f"POST {rule.rule} {value[:12]!r}: {error!r}"[:300])
                continue
            if status >= 500:
                failures.append(f"POST {rule.rule} {value[:12]!r}: {status}")
    assert not failures, "\n".join(failures)
