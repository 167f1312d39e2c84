"""What recording funnel events costs the listing and detail pages (target: under 5 % on the median).

Builds a migrated, seeded database (a SQLite file; PostgreSQL too when it answers), then requests each page
through the Flask test client, alternating "events on" (the real route: the model page's view event is
written when the response is closed, after the body has gone out) and "events off" (no view event) request
by request, so drift on a shared machine hits both sides equally.

Two figures per page and variant: "page" is the time until the response is ready to send (what the shopper
waits for), "worker" adds closing the response, which is when the view is written (what a worker spends per
request, so what throughput pays). Prints the medians and p95s and the overhead on both medians.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

from config import TestingConfig, normalise_database_url
from storefront import create_app, database
from storefront.catalog import routes as catalog_routes
from storefront.catalog.seed import seed_catalog
from storefront.extensions import db
from tests.conftest import throwaway_database
from tests.load.bench import percentile

PAGES = (("listing", "/models"), ("detail", "/models/koleos"))
PG_URL = os.environ.get("BENCH_PG_URL", "postgresql://127.0.0.1:5432/test")


def _no_view(*_args: Any, **_kwargs: Any) -> None:
    return None


# What the model page calls, per variant: "off" is the page as it was before funnel events.
VARIANTS: dict[str, dict[str, Callable[..., Any]]] = {
    "off": {"record_view_after_response": _no_view},
    "on": {"record_view_after_response": catalog_routes.record_view_after_response},
}


def _use(variant: str) -> None:
    for name, function in VARIANTS[variant].items():
        setattr(catalog_routes, name, function)


@contextmanager
def sqlite_database() -> Iterator[str]:
    with tempfile.TemporaryDirectory() as folder:
        yield f"sqlite:///{folder}/bench.db"


@contextmanager
def postgres_database() -> Iterator[str | None]:
    """A throw-away database on the PostgreSQL at BENCH_PG_URL, or None when it does not answer."""
    probe = sa.create_engine(normalise_database_url(PG_URL), connect_args={"connect_timeout": 3})
    try:
        probe.connect().close()
    except sa.exc.OperationalError:
        yield None
        return
    finally:
        probe.dispose()
    with throwaway_database(sqlite_url="", prefix="flagship_bench", postgres_url=PG_URL) as url:
        yield url


def bench_database(url: str, requests: int, demo_mode: bool, pages: tuple[tuple[str, str], ...] = PAGES) -> list[str]:
    database.upgrade(url)
    app = create_app(TestingConfig(), SQLALCHEMY_ENGINES={"default": url}, DEMO_MODE=demo_mode,
                     RATELIMIT_ENABLED=False, LOG_LEVEL="WARNING")
    with app.app_context():
        seed_catalog(db.session)  # the pages measured need the catalog only
        db.session.commit()
    client = app.test_client()
    timings: dict[tuple[str, str, str], list[float]] = {
        (p, v, m): [] for p, _ in pages for v in VARIANTS for m in ("page", "worker")
    }
    try:
        for page, path in pages:
            for _ in range(20):  # warm-up: templates compiled, caches and connections ready
                response = client.get(path)
                assert response.status_code == 200
                response.close()
            for i in range(requests):
                for variant in ("off", "on") if i % 2 == 0 else ("on", "off"):
                    _use(variant)
                    start = time.perf_counter()
                    response = client.get(path)
                    ready = time.perf_counter()
                    response.close()  # what the server does after sending the body: writes the view
                    done = time.perf_counter()
                    timings[(page, variant, "page")].append((ready - start) * 1000)
                    timings[(page, variant, "worker")].append((done - start) * 1000)
                    assert response.status_code == 200
    finally:
        _use("on")
    with app.app_context():
        events = db.session.scalar(sa.text("SELECT count(*) FROM events"))
        db.engine.dispose()
    lines = []
    for page, _ in pages:
        for measure in ("page", "worker"):
            off, on = timings[(page, "off", measure)], timings[(page, "on", measure)]
            overhead = (statistics.median(on) / statistics.median(off) - 1) * 100
            lines.append(
                f"  {page:8} {measure:6} off: median {statistics.median(off):6.2f} ms  p95 {percentile(off, .95):6.2f}"
                f" ms | on: median {statistics.median(on):6.2f} ms  p95 {percentile(on, .95):6.2f} ms | "
                f"overhead {overhead:+5.1f} %"
            )
    lines.append(f"  events written: {events}")
    return lines


def run_one_variant(url: str, variant: str, requests: int, pages: tuple[tuple[str, str], ...]) -> None:
    """Only `variant`, `requests` times per page, on an existing database: the process's run time is the figure."""
    app = create_app(TestingConfig(), SQLALCHEMY_ENGINES={"default": normalise_database_url(url)},
                     RATELIMIT_ENABLED=False, LOG_LEVEL="WARNING")
    client = app.test_client()
    _use(variant)
    for _page, path in pages:
        for _ in range(requests):
            response = client.get(path)
            assert response.status_code == 200
            response.close()


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.load.bench events", description=__doc__)
    parser.add_argument("--requests", type=int, default=300, help="requests per page and variant (default 300)")
    parser.add_argument("--demo-mode", action="store_true", help="run with DEMO_MODE on (store-clock hook active)")
    parser.add_argument("--database", choices=["both", "sqlite", "postgres"], default="both")
    parser.add_argument("--pages", default="listing,detail", help="comma-separated: listing, detail")
    parser.add_argument("--url", help="one variant only, on this migrated and seeded database (for A/B runs of "
                                      "whole processes, e.g. with /usr/bin/time)")
    parser.add_argument("--variant", choices=["on", "off"], default="on")
    args = parser.parse_args(argv)
    pages = tuple((name, path) for name, path in PAGES if name in args.pages.split(","))
    if args.url:
        run_one_variant(args.url, args.variant, args.requests, pages)
        return
    print(f"funnel events: {args.requests} requests per page and variant, alternating; "
          f"demo mode {'on' if args.demo_mode else 'off'}")
    if args.database in ("both", "sqlite"):
        with sqlite_database() as url:
            print("SQLite file")
            print("\n".join(bench_database(url, args.requests, args.demo_mode, pages)), flush=True)
    if args.database == "sqlite":
        return
    with postgres_database() as pg_url:
        if pg_url is None:
            print(f"PostgreSQL not reachable at {PG_URL}: skipped")
            return
        print("PostgreSQL")
        print("\n".join(bench_database(pg_url, args.requests, args.demo_mode, pages)), flush=True)


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
