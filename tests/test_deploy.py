"""deploy/ stays true: the connection budget is checked at start-up, gunicorn's settings load, the nginx site
passes `nginx -t`, and every systemd timer starts a job the app really has."""

from __future__ import annotations

import re
import runpy
import shutil
import subprocess
from pathlib import Path

import pytest

import config
from storefront import create_app
from storefront.extensions import db as flask_db
from tests.system import cluster

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
PRODUCTION_ENV = {"SECRET_KEY": "x" * 32, "DATABASE_URL": "postgresql://127.0.0.1:1/flagship",
                  "PUBLIC_BASE_URL": "https://shop.example.com"}


@pytest.fixture
def production_env(monkeypatch):
    for name in ("APP_HOSTS", "WEB_WORKERS", "ORDER_WORKERS", "DB_POOL_SIZE", "DB_MAX_OVERFLOW", "DB_MAX_CONNECTIONS",
                 "DB_RESERVED_CONNECTIONS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in PRODUCTION_ENV.items():
        monkeypatch.setenv(name, value)
    return monkeypatch


def test_production_engine_gets_the_budgeted_pool(production_env):
    production_env.setenv("DB_POOL_SIZE", "3")
    production_env.setenv("DB_MAX_OVERFLOW", "2")
    settings = config.ProductionConfig()
    settings.validate()
    engine = settings.SQLALCHEMY_ENGINES["default"]
    assert engine == {"url": "postgresql+psycopg://127.0.0.1:1/flagship", "pool_size": 3, "max_overflow": 2}
    app = create_app(settings)
    with app.app_context():
        assert flask_db.engine.pool.size() == 3  # type: ignore[attr-defined]
        assert flask_db.engine.pool._max_overflow == 2  # type: ignore[attr-defined]
        flask_db.engine.dispose()


def test_sqlite_keeps_its_plain_url(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "sqlite:////tmp/x.db")
    assert config.DevelopmentConfig().SQLALCHEMY_ENGINES["default"] == "sqlite:////tmp/x.db"


@pytest.mark.parametrize(
    ("hosts", "workers", "pool", "overflow", "max_connections", "fits"),
    [
        (1, 5, 2, 1, 100, True),  # 15 + 10 reserved
        (2, 2, 2, 1, 100, True),  # the local cluster: 12 + 10
        (6, 5, 2, 1, 100, True),  # 90 + 10 = 100: exactly full is allowed
        (4, 9, 2, 1, 100, False),  # 108 + 10
        (2, 5, 10, 10, 100, False),  # big pools: 200 + 10
        (4, 9, 2, 1, 200, True),
    ],
)
def test_connection_budget_is_checked_at_start_up(production_env, hosts, workers, pool, overflow, max_connections,
                                                  fits):
    for name, value in (("APP_HOSTS", hosts), ("WEB_WORKERS", workers), ("DB_POOL_SIZE", pool),
                        ("DB_MAX_OVERFLOW", overflow), ("DB_MAX_CONNECTIONS", max_connections)):
        production_env.setenv(name, str(value))
    if fits:
        config.load_config("production")
    else:
        with pytest.raises(RuntimeError, match=r"connection budget exceeded: .* > DB_MAX_CONNECTIONS"):
            config.load_config("production")


def test_the_order_pools_count_in_the_connection_budget(production_env):
    for name, value in (("APP_HOSTS", 2), ("WEB_WORKERS", 5), ("DB_POOL_SIZE", 2), ("DB_MAX_OVERFLOW", 1)):
        production_env.setenv(name, str(value))
    production_env.setenv("ORDER_WORKERS", "4")
    assert config.load_config("production").connections_needed() == 2 * (5 + 4) * 3 + 10  # 64: fits in 100
    production_env.setenv("ORDER_WORKERS", "12")
    with pytest.raises(RuntimeError, match=r"2 host\(s\) x \(5 web \+ 12 order worker\(s\)\)"):
        config.load_config("production")


def test_gunicorn_settings(production_env):
    production_env.setenv("WEB_WORKERS", "3")
    production_env.setenv("FORWARDED_ALLOW_IPS", "10.0.0.1")
    settings = runpy.run_path(str(DEPLOY / "gunicorn.conf.py"))
    assert settings["workers"] == 3
    assert settings["max_requests"] > 0 and 0 < settings["max_requests_jitter"] < settings["max_requests"]
    assert settings["graceful_timeout"] >= 10 and settings["preload_app"] is False
    assert settings["forwarded_allow_ips"] == "10.0.0.1"
    assert "request_id=%({x-request-id}o)s" in settings["access_log_format"]


def test_gunicorn_refuses_to_start_over_budget(production_env):
    production_env.setenv("WEB_WORKERS", "40")
    settings = runpy.run_path(str(DEPLOY / "gunicorn.conf.py"))
    with pytest.raises(RuntimeError, match="connection budget exceeded"):
        settings["on_starting"](None)


def test_nginx_site_is_valid_and_retries_only_what_is_safe(tmp_path):
    site = (DEPLOY / "nginx" / "flagship.conf").read_text()
    next_upstream = re.search(r"proxy_next_upstream ([^;]+);", site)
    assert next_upstream and "non_idempotent" not in next_upstream.group(1)
    for needed in ("X-Request-Id $flagship_request_id", "client_max_body_size", "gzip on", "immutable",
                   "max_fails=", "X-Forwarded-For $remote_addr"):
        assert needed in site
    if shutil.which("nginx") is None:
        pytest.skip("nginx is not installed (.ci/run installs nginx-light)")
    main = cluster.render_nginx(tmp_path, "127.0.0.1:8080")
    (tmp_path / "upstream-hosts.conf").write_text("server 10.0.0.11:8000 max_fails=3 fail_timeout=5s;\n")
    (tmp_path / "order-hosts.conf").write_text("server 10.0.0.11:8001 max_fails=3 fail_timeout=5s;\n")
    result = subprocess.run(["nginx", "-t", "-q", "-c", str(main)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_every_timer_runs_a_command_the_app_has():
    app = create_app(config.TestingConfig())
    timers = sorted((DEPLOY / "systemd").glob("flagship-*.timer"))
    assert {t.name for t in timers} == {f"flagship-{name}.timer" for name in (
        "reservations-expire", "test-drives-remind", "test-drives-expire", "outbox-send", "staff-apply-prices",
        "presale-expire", "presale-lock", "api-forget-idempotent-responses")}
    for timer in timers:
        unit = re.search(r"^Unit=flagship-job@([a-z-]+):([a-z-]+)\.service$", timer.read_text(), re.M)
        assert unit, timer.name
        group = app.cli.get_command(None, unit.group(1))  # type: ignore[arg-type]
        assert group is not None and group.get_command(None, unit.group(2)) is not None, timer.name  # type: ignore[union-attr]
    with app.app_context():
        flask_db.engine.dispose()


def test_systemd_units_verify(tmp_path):
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed")
    for unit in (DEPLOY / "systemd").iterdir():
        shutil.copy(unit, tmp_path / unit.name)
    units = [str(p) for p in sorted(tmp_path.iterdir())
             if p.suffix == ".timer" or p.name in {"flagship.service", "flagship-orders.service"}]
    result = subprocess.run(["systemd-analyze", "verify", "--man=no", *units], capture_output=True, text=True)
    # The units name /srv/flagship/.venv/bin/... which exists only on a host where the store is installed.
    problems = [line for line in result.stderr.splitlines()
                if line.strip() and "is not executable" not in line and "/srv/flagship" not in line]
    assert not problems, result.stderr
    for timer in tmp_path.glob("*.timer"):
        calendar = re.search(r"^OnCalendar=(.+)$", timer.read_text(), re.M)
        assert calendar
        checked = subprocess.run(["systemd-analyze", "calendar", calendar.group(1)], capture_output=True, text=True)
        assert checked.returncode == 0, checked.stderr
