"""System tests: the store run as production runs it -- gunicorn workers on PostgreSQL and Redis -- driven over HTTP.

Everything here needs TEST_DATABASE_URL pointing at PostgreSQL; on SQLite the whole folder is skipped. Per pytest
process one template database is migrated and seeded once (`flask db upgrade`, `flask seed`, as `make run` does);
every store then gets its own copy of it (CREATE DATABASE ... TEMPLATE, a fraction of a second), so no two stores
share data. A store is `APP_ENV=production` gunicorn on a free loopback port, as if behind one TLS-terminating
proxy (TRUSTED_PROXY_COUNT=1): each `Browser` sends its own X-Forwarded-For address and X-Forwarded-Proto: https,
so per-address limits count each simulated shopper separately and Secure cookies work over loopback.

    def test_something(live_store):                 # one default store per test module
        shopper = live_store.new_user("a@example.com")
        browser = live_store.browser().sign_in(shopper.email)
        page = browser.get("/account/profile")

    def test_other(start_store):                    # a store with its own settings, stopped after the test
        store = start_store(DEMO_PAYMENTS="1", workers=3)   # DEMO_MODE=1 also needs a 16+ char DEMO_ACCESS_CODE

Loopback only; every wait here is bounded.
"""

from __future__ import annotations

import itertools
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
import sqlalchemy as sa
from sqlalchemy.orm import Session

import models
from config import BASE_DIR, normalise_database_url
from tests import factories

PYTHON = sys.executable
SECRET_KEY = "system-test-secret-key-not-for-production-0123456789"
START_TIMEOUT_S = 30.0
REQUEST_TIMEOUT_S = 15.0
_addresses = itertools.count(1)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.system)
            item.add_marker(pytest.mark.postgres)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _admin_engine(url: str) -> sa.Engine:
    return sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)


def _database_url(admin_url: str, name: str) -> str:
    return admin_url.rsplit("/", 1)[0] + "/" + name


def _run_flask(database_url: str, *args: str) -> None:
    env = {**os.environ, "DATABASE_URL": database_url, "FLASK_APP": "wsgi", "APP_ENV": "development"}
    env.pop("REDIS_URL", None)
    subprocess.run(  # noqa: S603 - our own CLI
        [PYTHON, "-m", "flask", *args], cwd=BASE_DIR, env=env, check=True, capture_output=True, timeout=180
    )


@pytest.fixture(scope="session")
def pg_admin_url() -> str:
    raw = os.environ.get("TEST_DATABASE_URL", "")
    if not raw.startswith("postgres"):
        pytest.skip("system tests run on PostgreSQL (set TEST_DATABASE_URL)")
    return normalise_database_url(raw)


@pytest.fixture(scope="session")
def seeded_template(pg_admin_url: str) -> Iterator[str]:
    """Name of a database migrated and seeded once for this pytest process; stores are cloned from it."""
    name = f"flagship_systpl_{uuid.uuid4().hex[:10]}"
    engine = _admin_engine(pg_admin_url)
    with engine.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        migrate_and_seed(_database_url(pg_admin_url, name))
        yield name
    finally:
        with engine.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        engine.dispose()


@dataclass
class Page:
    """One HTTP answer, with the CSRF token of its first form (if any)."""

    response: requests.Response

    @property
    def status(self) -> int:
        return self.response.status_code

    @property
    def text(self) -> str:
        return self.response.text

    @property
    def csrf_token(self) -> str:
        match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', self.response.text) or re.search(
            r'<meta name="csrf-token" content="([^"]+)"', self.response.text
        )
        if match is None:
            raise AssertionError(f"no CSRF token on {self.response.url} ({self.status})")
        return match.group(1)


class Browser:
    """One shopper's browser: its own cookies and its own client address (X-Forwarded-For)."""

    def __init__(self, store: LiveStore, address: str | None = None) -> None:
        self.store = store
        n = next(_addresses)
        self.address = address or f"127.{(n >> 16) & 255}.{(n >> 8) & 255}.{(n & 255) or 1}"
        self.http = requests.Session()
        self.http.headers.update(
            {"X-Forwarded-For": self.address, "X-Forwarded-Proto": "https", "User-Agent": f"system-test/{n}"}
        )

    def url(self, path: str) -> str:
        return self.store.base_url + path

    def _send_secure_cookies(self) -> None:
        """The store marks its cookies Secure (it believes it is behind TLS); this loopback hop is plain HTTP, so
        the cookie jar would hold them back. A browser behind the real TLS proxy sends them: so do we."""
        for cookie in self.http.cookies:
            cookie.secure = False

    def get(self, path: str, *, follow: bool = False, **kwargs: Any) -> Page:
        """GET `path`; with `follow`, up to 5 redirects on this store are followed (each a request of our own)."""
        kwargs.setdefault("timeout", REQUEST_TIMEOUT_S)
        for _ in range(6):
            self._send_secure_cookies()
            response = self.http.get(self.url(path), allow_redirects=False, **kwargs)
            location = response.headers.get("Location", "")
            if not (follow and response.is_redirect and location.startswith("/")):
                return Page(response)
            path = location
        raise AssertionError(f"too many redirects from {path}")

    def post(
        self, path: str, data: dict[str, Any] | None = None, *, csrf_from: str | None = None, **kwargs: Any
    ) -> Page:
        """POST a form; `csrf_from` names the page whose form token to send (default: the same path)."""
        payload = dict(data or {})
        if "csrf_token" not in payload:
            payload["csrf_token"] = self.csrf_token(csrf_from or path)
        kwargs.setdefault("timeout", REQUEST_TIMEOUT_S)
        kwargs.setdefault("allow_redirects", False)
        self._send_secure_cookies()
        # A browser sends the page it posts from; over HTTPS Flask-WTF insists on a same-origin Referer.
        headers = {"Referer": self.store.public_url + (csrf_from or path), **kwargs.pop("headers", {})}
        return Page(self.http.post(self.url(path), data=payload, headers=headers, **kwargs))

    def csrf_token(self, path: str = "/account/login") -> str:
        """The session's CSRF token, read from a page with a form (the token is per session, not per form)."""
        return self.get(path, follow=True).csrf_token

    def sign_in_as(self, user_id: int, session_token: str) -> Browser:
        """Signed in without the form (no argon2 cost): the cookie the form would give. For load tests."""
        from tests.system.sessions import signed_in_cookie

        cookie = signed_in_cookie(
            SECRET_KEY,
            user_id=user_id,
            session_token=session_token,
            address=self.address,
            user_agent=str(self.http.headers["User-Agent"]),
        )
        self.http.cookies.set("session", cookie, domain="127.0.0.1", path="/")
        return self

    def sign_in(self, email: str, password: str = factories.TEST_PASSWORD) -> Browser:
        page = self.post("/account/login", {"email": email, "password": password})
        if page.status != 302:
            raise AssertionError(f"sign-in of {email} answered {page.status}")
        return self


@dataclass
class LiveStore:
    """A running store: gunicorn on `base_url`, its own PostgreSQL database, the environment it was given."""

    base_url: str
    database_url: str
    env: dict[str, str]
    process: subprocess.Popen[bytes]
    log_path: Path
    engine: sa.Engine = field(init=False)

    def __post_init__(self) -> None:
        self.engine = sa.create_engine(self.database_url, poolclass=sa.pool.NullPool)

    @property
    def public_url(self) -> str:
        """The address shoppers see: the same host, over the TLS the proxy would terminate."""
        return "https://" + self.base_url.removeprefix("http://")

    def browser(self, address: str | None = None) -> Browser:
        return Browser(self, address)

    @contextmanager
    def db(self) -> Iterator[Session]:
        """A session on the store's database; committed when the block ends without an error."""
        with Session(self.engine, expire_on_commit=False) as session:
            yield session
            session.commit()

    def new_user(
        self,
        email: str | None = None,
        *,
        role: models.Role = models.Role.CUSTOMER,
        dealer_codes: tuple[str, ...] = (),
        **values: Any,
    ) -> models.User:
        """A user who signs in with factories.TEST_PASSWORD (staff get `dealer_codes`' showrooms)."""
        email = email or f"user-{uuid.uuid4().hex[:8]}@example.com"
        values.setdefault("session_token", uuid.uuid4().hex)
        with self.db() as session:
            user = factories.make_user(session, email=email, role=role, **values)
            if dealer_codes:
                user.dealers.extend(
                    session.scalars(sa.select(models.Dealer).where(models.Dealer.code.in_(dealer_codes)))
                )
            session.flush()
        return user

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.engine.dispose()


def _wait_until_up(store: LiveStore) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if store.process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {store.process.returncode}:\n{store.log()[-4000:]}")
        try:
            if requests.get(store.base_url + "/", timeout=2).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"store did not answer within {START_TIMEOUT_S} s:\n{store.log()[-4000:]}")


def migrate_and_seed(database_url: str) -> None:
    """`flask db upgrade` and `flask seed`, as `make run` does."""
    _run_flask(database_url, "db", "upgrade")
    _run_flask(database_url, "seed")


def launch_store(database_url: str, log_path: Path, *, workers: int = 2, nice: int = 0, **settings: str) -> LiveStore:
    """gunicorn with production settings on a free loopback port, on `database_url`; returns once it answers.
    `nice`: run it at that lower CPU priority (the presale order pool, deploy/systemd/flagship-orders.service)."""
    port = free_port()
    env = {
        **os.environ,
        "APP_ENV": "production",
        "SECRET_KEY": SECRET_KEY,
        "DATABASE_URL": database_url,
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        # Stores share the machine's Redis; their counters must not.
        "RATELIMIT_KEY_PREFIX": database_url.rsplit("/", 1)[-1],
        "TRUSTED_PROXY_COUNT": "1",
        "PUBLIC_BASE_URL": "https://flagship.test",
        "MAIL_SEND_INLINE": "0",
        "LOG_LEVEL": "WARNING",
        **settings,
    }
    for key in ("TEST_DATABASE_URL", "FLASK_DEBUG"):
        env.pop(key, None)
    command = [
        *(["nice", "-n", str(nice)] if nice else []),
        PYTHON,
        "-m",
        "gunicorn",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--graceful-timeout",
        "5",
        "--timeout",
        "90",  # a demo reset rebuilds the whole store in one request
        "wsgi:app",
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 - our own server
            command, cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    store = LiveStore(f"http://127.0.0.1:{port}", database_url, env, process, log_path)
    try:
        _wait_until_up(store)
    except BaseException:
        store.stop()
        raise
    return store


@pytest.fixture(scope="module")
def _store_starter(
    pg_admin_url: str, seeded_template: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., LiveStore]]:
    """Starts stores (each on its own copy of the seeded database); stops them and drops their databases after."""
    started: list[tuple[LiveStore | None, str]] = []
    admin = _admin_engine(pg_admin_url)

    def start(workers: int = 2, **settings: str) -> LiveStore:
        name = f"flagship_sys_{uuid.uuid4().hex[:10]}"
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE "{seeded_template}"')
        started.append((None, name))
        log_path = tmp_path_factory.mktemp("store") / "gunicorn.log"
        store = launch_store(_database_url(pg_admin_url, name), log_path, workers=workers, **settings)
        started[-1] = (store, name)
        return store

    yield start
    for store, name in started:
        if store is not None:
            store.stop()
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


@pytest.fixture(scope="module")
def live_store(_store_starter: Callable[..., LiveStore]) -> LiveStore:
    """The store with production settings (2 workers, Redis), shared by the tests of one module."""
    return _store_starter()


@pytest.fixture
def start_store(_store_starter: Callable[..., LiveStore]) -> Callable[..., LiveStore]:
    """start_store(workers=2, **ENV) -> a store with those settings (stopped at the end of the module)."""
    return _store_starter


def at_once(calls: list[Callable[[], Any]], *, timeout: float = 30.0) -> list[Any]:
    """Run the calls concurrently, released together by a barrier; their results in order (exceptions re-raised)."""
    import threading

    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], Any]) -> Any:
        barrier.wait(timeout=timeout)
        return call()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        futures = [pool.submit(run, call) for call in calls]
        return [future.result(timeout=timeout) for future in futures]
