"""Finance benchmarks: the calculator (quotes with a full 60-month schedule per second, one core; target over
2,000), and the quote builder, its htmx fragment, the comparison page and POST /api/v1/quotes through the Flask
test client on a migrated, seeded SQLite file (PostgreSQL too with --postgres when it answers).

`python -m tests.load.bench finance [--seconds 3] [--requests 200] [--postgres]`
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from config import TestingConfig
from models import FinanceProduct, Trim
from storefront import create_app, database
from storefront.cli import run_seeders
from storefront.extensions import db
from storefront.finance.calculator import lease_to_own, loan
from tests.load.bench import percentile


def calculator_rate(seconds: float) -> tuple[float, float]:
    """(loans per second, lease-to-own quotes per second), each with every schedule row computed."""
    rates = []
    for quote in (
        lambda i: loan(
            price=Decimal(150_000 + i),
            down_payment_pct=Decimal(20),
            term_months=60,
            annual_rate_pct=Decimal("4.35"),
            fees=Decimal(1500),
        ),
        lambda i: lease_to_own(
            price=Decimal(150_000 + i),
            annual_rate_pct=Decimal("6.5"),
            residual_pct=Decimal(65),
            balance_annual_rate_pct=Decimal("6.5"),
        ),
    ):
        count, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            quote(count)
            count += 1
        rates.append(count / (time.perf_counter() - start))
    return rates[0], rates[1]


def bench_pages(url: str, requests: int) -> list[str]:
    database.upgrade(url)
    app = create_app(TestingConfig(), SQLALCHEMY_ENGINES={"default": url}, RATELIMIT_ENABLED=False, LOG_LEVEL="WARNING")
    with app.app_context():
        run_seeders(db.session)
        db.session.commit()
        trim = db.session.scalars(select(Trim).where(Trim.name_en.like("%2.0L CVT 2WD%")).order_by(Trim.id)).first()
        codes = {p.code: p.id for p in db.session.scalars(select(FinanceProduct))}
    assert trim is not None
    loan_id, lto_id = codes["renault-finance-loan"], codes["yichenggou"]
    body = {"trim_id": trim.id, "product_id": loan_id, "down_payment_pct": 20, "term_months": 60}
    client = app.test_client()
    cases: list[tuple[str, Any]] = [
        ("builder page", lambda: client.get(f"/finance/quote/{trim.id}")),
        (
            "builder htmx fragment",
            lambda: client.get(
                f"/finance/quote/{trim.id}?product={lto_id}&shown={lto_id}&down_payment_pct=25&term_months=24",
                headers={"HX-Request": "true"},
            ),
        ),
        ("compare page", lambda: client.get(f"/finance/quote/{trim.id}/compare")),
        ("POST /api/v1/quotes (60 months)", lambda: client.post("/api/v1/quotes", json=body)),
    ]
    lines = []
    for name, call in cases:
        for _ in range(10):  # warm-up
            assert call().status_code == 200
        timings = []
        for _ in range(requests):
            start = time.perf_counter()
            response = call()
            timings.append((time.perf_counter() - start) * 1000)
            assert response.status_code == 200
        median, p95 = statistics.median(timings), percentile(timings, 0.95)
        lines.append(f"  {name:34} median {median:6.1f} ms   p95 {p95:6.1f} ms")
    with app.app_context():
        db.engine.dispose()
    return lines


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="bench finance")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--postgres", action="store_true", help="also on BENCH_PG_URL's server")
    options = parser.parse_args(argv)
    loans, leases = calculator_rate(options.seconds)
    verdict = "ok" if loans > 2000 else "BELOW TARGET"
    print(
        f"calculator: {loans:,.0f} loans/s with a 60-month schedule ({verdict}, target 2,000); "
        f"{leases:,.0f} lease-to-own quotes/s (12 + 36 rows)"
    )
    with tempfile.TemporaryDirectory() as folder:
        print("pages on SQLite:")
        for line in bench_pages(f"sqlite:///{folder}/bench.db", options.requests):
            print(line)
    if options.postgres:
        from tests.load.bench_events import postgres_database

        with postgres_database() as url:
            if url is None:
                print("pages on PostgreSQL: not reachable, skipped")
            else:
                print("pages on PostgreSQL:")
                for line in bench_pages(url, options.requests):
                    print(line)


if __name__ == "__main__":
    main(sys.argv[1:])
