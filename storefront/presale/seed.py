"""The demo store's launch: a Mustang Mach-E launch edition open for presale orders (idempotent, deterministic)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import CarModel, PresaleCampaign
from storefront.presale.services import CampaignTerms, create_campaign

DEMO_SLUG = "mach-e-launch"
# Fixed dates, so two demo resets leave the same data: open through 2027 for presenters and shoppers to try.
OPENS_AT = dt.datetime(2026, 12, 1, 2, 0, tzinfo=dt.UTC)  # 10:00 Beijing time
CLOSES_AT = dt.datetime(2027, 12, 31, 15, 59, tzinfo=dt.UTC)


def seed_presale(session: Session) -> str:
    if session.scalar(select(PresaleCampaign.id).where(PresaleCampaign.slug == DEMO_SLUG)) is not None:
        return "presale: demo launch already there"
    model_id = session.scalar(select(CarModel.id).where(CarModel.slug == "mustang-mach-e"))
    if model_id is None:
        return "presale: no Mustang Mach-E in the catalog, no demo launch"
    create_campaign(
        session,
        actor=None,
        terms=CampaignTerms(
            slug=DEMO_SLUG,
            car_model_id=model_id,
            name_en="Mustang Mach-E Launch Edition",
            name_zh="Mustang Mach-E 首发纪念版",
            edition_size=1000,
            presale_price=Decimal("286000.00"),
            deposit_amount=Decimal("999.00"),
            deposit_credit=Decimal("5000.00"),
            opens_at=OPENS_AT,
            closes_at=CLOSES_AT,
            deposit_window_minutes=30,
            refundable_days=7,
            balance_window_days=30,
            benefits_zh="首发编号车主专享：终身免费基础保养、首任车主电池终身质保、专属编号铭牌。",
            benefits_en="For launch-number owners: free basic servicing for life, a lifetime battery warranty for the "
            "first owner and a numbered badge.",
        ),
    )
    return "presale: demo launch created (1,000 launch numbers)"
