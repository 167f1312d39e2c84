"""Presenter page, one-click sign-in and the guided tour (demo mode only)."""

from __future__ import annotations

import pytest

import models
from storefront.accounts.seed import seed_accounts
from storefront.demo import tour
from tests import factories


@pytest.fixture
def demo(app, monkeypatch, db, catalog):
    monkeypatch.setitem(app.config, "DEMO_MODE", True)
    factories.small_catalog_model(db, brand=catalog.brands[0], slug="koleos")
    seed_accounts(db)
    from storefront.finance.seed import seed_finance  # the quote step needs finance products

    seed_finance(db)
    return db


def signed_in(client, db):
    """Email of the user this test client's session signs in, or None."""
    with client.session_transaction() as session:
        user_id = session.get("_user_id", "")
    user = db.get(models.User, int(user_id.partition(":")[0])) if user_id else None
    return user.email if user is not None and user.get_id() == user_id else None


def test_presenter_page_lists_demo_accounts_and_the_tour(client, demo):
    page = client.get("/demo/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for text in ("shopper@flagship.demo", "demo-shopper-2026", "staff@flagship.demo", "admin@flagship.demo",
                 "Start the guided tour", "Browse the Renault flagship", "Switch to staff and mark it picked up"):
        assert text in html
    assert html.count('action="/demo/sign-in"') == 3


def test_presenter_page_and_sign_in_do_not_exist_outside_demo_mode(client, db, catalog):
    seed_accounts(db)
    assert client.get("/demo/").status_code == 404
    assert client.post("/demo/sign-in", data={"account": "admin"}).status_code == 404
    assert client.post("/demo/tour/start").status_code == 404
    assert signed_in(client, db) is None


@pytest.mark.parametrize(("account", "email", "landing"), [
    ("shopper", "shopper@flagship.demo", "/"),
    ("staff", "staff@flagship.demo", "/demo/"),
    ("admin", "admin@flagship.demo", "/demo/"),
])
def test_one_click_sign_in(client, demo, account, email, landing):
    with client.session_transaction() as session:
        session["lang"] = "en"
        session["leftover"] = "from before"
    response = client.post("/demo/sign-in", data={"account": account})
    assert response.status_code == 302 and response.location == landing
    with client.session_transaction() as session:
        assert session["lang"] == "en" and "leftover" not in session  # a clean session, language kept
    assert signed_in(client, demo) == email


def test_sign_in_refuses_unknown_accounts_get_and_foreign_next(client, demo):
    assert client.post("/demo/sign-in", data={"account": "root"}).status_code == 302
    assert signed_in(client, demo) is None
    assert client.get("/demo/sign-in").status_code == 405
    response = client.post("/demo/sign-in", data={"account": "shopper", "next": "https://evil.example/"})
    assert response.location == "/"
    response = client.post("/demo/sign-in", data={"account": "shopper", "next": "/models/kadjar"})
    assert response.location == "/models/kadjar"


def test_tour_walks_the_steps_and_switches_to_staff(client, demo, app):
    response = client.post("/demo/tour/start")
    assert response.status_code == 302 and response.location == "/brands/renault"
    page = client.get("/brands/renault").get_data(as_text=True)
    assert "Step 1 of 6" in page and "Browse the Renault flagship" in page and 'class="tour-bar"' in page
    assert signed_in(client, demo) == "shopper@flagship.demo"

    visited = []
    for number in range(2, tour.TOTAL + 1):
        response = client.post("/demo/tour/go", data={"step": str(number)})
        assert response.status_code == 302
        visited.append(response.location)
        page = client.get(response.location)
        assert f"Step {number} of 6" in page.get_data(as_text=True) or response.location == "/demo/"
    assert visited[0] == "/models/koleos"
    # The last step is the showroom's: the tour signed the staff account in.
    assert signed_in(client, demo) == "staff@flagship.demo"
    with client.session_transaction() as session:
        assert session[tour.SESSION_KEY]["step"] == 6


def test_tour_links_only_to_pages_that_exist(client, demo, app):
    client.post("/demo/tour/start")
    for number, step in enumerate(tour.STEPS, 1):
        response = client.post("/demo/tour/go", data={"step": str(number)})
        if tour.endpoint_for(step) is None:
            assert response.location == "/demo/", step.key
        else:
            assert client.get(response.location).status_code == 200, (step.key, response.location)


def test_skip_marks_the_step_and_end_clears_the_tour(client, demo):
    client.post("/demo/tour/start")
    client.post("/demo/tour/go", data={"step": "2", "skip": "1"})
    with client.session_transaction() as session:
        assert session[tour.SESSION_KEY] == {"step": 2, "skipped": [1]}
    client.post("/demo/tour/go", data={"step": "1"})  # back: nothing after step 1 counts as skipped
    with client.session_transaction() as session:
        assert session[tour.SESSION_KEY] == {"step": 1, "skipped": []}
    response = client.post("/demo/tour/end")
    assert response.location == "/demo/"
    assert "tour-bar" not in client.get("/").get_data(as_text=True)


@pytest.mark.parametrize("step", ["0", "7", "x", "", "-1"])
def test_bad_tour_steps_are_refused(client, demo, step):
    client.post("/demo/tour/start")
    assert client.post("/demo/tour/go", data={"step": step}).status_code == 400


def test_tour_go_without_a_tour_goes_to_the_presenter(client, demo):
    assert client.post("/demo/tour/go", data={"step": "2"}).location == "/demo/"


def test_no_tour_bar_outside_a_tour_or_outside_demo_mode(client, demo, app, monkeypatch):
    client.post("/demo/tour/start")
    assert "tour-bar" in client.get("/").get_data(as_text=True)
    monkeypatch.setitem(app.config, "DEMO_MODE", False)
    assert "tour-bar" not in client.get("/").get_data(as_text=True)


def test_demo_accounts_in_the_presenter_match_the_seed(demo):
    emails = {u.email for u in demo.query(models.User)}
    assert {"shopper@flagship.demo", "staff@flagship.demo", "admin@flagship.demo"} <= emails


def test_pages_speak_chinese(client, demo):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "zh-CN"
    assert "开始演示导览" in client.get("/demo/").get_data(as_text=True)
    client.post("/demo/tour/start")
    page = client.get("/brands/renault").get_data(as_text=True)
    assert "第 1 步，共 6 步" in page and "逛雷诺官方旗舰店" in page
