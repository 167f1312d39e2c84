"""`make bench presale`: a launch-day spike over HTTP against gunicorn on PostgreSQL, then the payment phase.

    python -m tests.load.bench presale [--shoppers 10000] [--edition 1000] [--ramp 10] [--connections 64]
                                       [--workers 4] [--admit-per-second 190]
                                       [--admin-url postgresql://127.0.0.1:5432/test]

1. A throw-away database is migrated and seeded; a store (APP_ENV=production, gunicorn) serves it on loopback.
2. `--shoppers` signed-in shoppers (sessions made before the clock starts) open the launch page, then press
   "order" spread over `--ramp` seconds from the opening second, while two viewers browse the catalog.
3. Payment phase (in-process, through the same services and payment fulfilment as the web): 80% of the holders
   pay, the rest let their 30 minutes run out (the store clock is moved forward), their numbers go to the first
   in line in order, and those pay too. Then the database is checked: every number has exactly one live order,
   no number twice, deposits equal payments.
Loopback only; bounded in count and time.
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import time
import uuid
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

from config import normalise_database_url
from models import Payment, PaymentPurpose, PaymentStatus, PresaleCampaign, PresaleOrder, PresaleOrderStatus
from storefront import create_app
from storefront.clock import now
from storefront.payments import services as payments
from storefront.payments.services import PaymentOutcome
from storefront.presale import services
from tests.system.conftest import launch_store, migrate_and_seed
from tests.system.presale_spike import run_spike


def _pay(app, session: Session, orders: list[PresaleOrder]) -> None:  # type: ignore[no-untyped-def]
    with app.test_request_context():
        for order in orders:
            payment = services.start_deposit_payment(
                session, order=order, user=order.user, success_url="/ok", cancel_url="/back"
            )
            payments.apply_payment_result(
                session, payment=payment, outcome=PaymentOutcome.PAID, provider_payment_id=f"pi_bench_{order.id}"
            )
    session.commit()


def payment_phase(database_url: str, slug: str, *, paying_share: float = 0.8) -> list[str]:
    app = create_app("testing", SQLALCHEMY_ENGINES={"default": database_url}, RATELIMIT_ENABLED=False)
    engine = sa.create_engine(database_url)
    lines = []
    with app.app_context(), Session(engine, expire_on_commit=False) as session:
        campaign = session.scalar(sa.select(PresaleCampaign).where(PresaleCampaign.slug == slug))
        assert campaign is not None
        held = session.scalars(
            sa.select(PresaleOrder)
            .where(PresaleOrder.campaign_id == campaign.id, PresaleOrder.status == PresaleOrderStatus.HELD)
            .order_by(PresaleOrder.launch_number)
        ).all()
        first_in_line = session.scalars(
            sa.select(PresaleOrder.id)
            .where(PresaleOrder.campaign_id == campaign.id, PresaleOrder.status == PresaleOrderStatus.WAITLISTED)
            .order_by(PresaleOrder.id)
        ).all()
        paying = held[: int(len(held) * paying_share)]
        started = time.perf_counter()
        _pay(app, session, paying)
        lines.append(f"payment phase: {len(paying)} deposits paid in {time.perf_counter() - started:.1f} s")

        lapsed = services.expire_holds(
            session, at=now() + dt.timedelta(minutes=campaign.deposit_window_minutes + 1), limit=100_000
        )
        session.commit()
        offered = session.scalars(
            sa.select(PresaleOrder)
            .where(PresaleOrder.campaign_id == campaign.id, PresaleOrder.status == PresaleOrderStatus.HELD)
            .order_by(PresaleOrder.id)
        ).all()
        in_order = [o.id for o in offered] == list(first_in_line[: len(offered)])
        lines.append(
            f"{lapsed} holds lapsed (clock moved past 30 minutes); their numbers went to the first "
            f"{len(offered)} in line, in order: {in_order}"
        )
        _pay(app, session, list(offered))

        live = session.execute(
            sa.select(PresaleOrder.launch_number, PresaleOrder.status).where(
                PresaleOrder.campaign_id == campaign.id, PresaleOrder.launch_number.is_not(None)
            )
        ).all()
        numbers = [n for n, _ in live]
        deposits = sum(
            (
                o.deposit_amount
                for o in session.scalars(
                    sa.select(PresaleOrder).where(
                        PresaleOrder.campaign_id == campaign.id, PresaleOrder.status == PresaleOrderStatus.PAID
                    )
                )
            ),
            Decimal(0),
        )
        paid = session.scalar(
            sa.select(sa.func.coalesce(sa.func.sum(Payment.amount), 0)).where(
                Payment.purpose == PaymentPurpose.PRESALE_DEPOSIT,
                Payment.status == PaymentStatus.PAID,
                Payment.subject_id.in_(sa.select(PresaleOrder.id).where(PresaleOrder.campaign_id == campaign.id)),
            )
        )
        ok = (
            sorted(numbers) == list(range(1, campaign.edition_size + 1))
            and all(status is PresaleOrderStatus.PAID for _, status in live)
            and deposits == paid
        )
        lines.append(
            f"final: {len(numbers)} numbers, {len(set(numbers))} distinct, each one paid order: "
            f"{all(s is PresaleOrderStatus.PAID for _, s in live)}; deposits ¥{deposits:,} = "
            f"payments ¥{Decimal(paid):,}: {deposits == paid}; database check {'clean' if ok else 'FAILED'}"
        )
    engine.dispose()
    return lines


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="make bench presale")
    parser.add_argument("--shoppers", type=int, default=10_000)
    parser.add_argument("--edition", type=int, default=1_000)
    parser.add_argument("--ramp", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--web-workers", type=int, default=2, help="the web pool: every page but the order press")
    parser.add_argument(
        "--order-workers", type=int, default=4, help="the order pool, at nice 10 (0: presses go to the web pool)"
    )
    parser.add_argument(
        "--admit-per-second",
        type=float,
        default=190.0,
        help="the waiting room's admission rate (PRESALE_ADMIT_PER_SECOND; 0 = no waiting room)",
    )
    parser.add_argument("--admin-url", default="postgresql://127.0.0.1:5432/test")
    args = parser.parse_args(argv)

    admin_url = normalise_database_url(args.admin_url)
    name = f"flagship_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    database_url = admin_url.rsplit("/", 1)[0] + "/" + name
    store = order_pool = None
    try:
        migrate_and_seed(database_url)
        with tempfile.TemporaryDirectory() as logs:
            settings = {"PRESALE_ADMIT_PER_SECOND": str(args.admit_per_second)}
            store = launch_store(database_url, Path(logs) / "web.log", workers=args.web_workers, **settings)
            if args.order_workers:
                order_pool = launch_store(
                    database_url, Path(logs) / "orders.log", workers=args.order_workers, nice=10, **settings
                )
            try:
                result = run_spike(
                    store,
                    shoppers=args.shoppers,
                    edition=args.edition,
                    ramp_s=args.ramp,
                    connections=args.connections,
                    order_pool=order_pool,
                )
            finally:
                if order_pool is not None:
                    order_pool.stop()
            print(result.table(), flush=True)
            store.stop()
            store = None
            with sa.create_engine(database_url).connect() as conn:
                slug = conn.scalar(sa.select(PresaleCampaign.slug).order_by(PresaleCampaign.id.desc()).limit(1))
            for line in payment_phase(database_url, str(slug)):
                print(line, flush=True)
    finally:
        if store is not None:
            store.stop()
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()
