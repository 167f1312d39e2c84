"""Seeding finance products: a believable offer per brand, plus the all-brand bank loan, 一成购 and leases.

Deterministic and idempotent: products are keyed by `code` and inserted in this order, so a fresh database
always gets the same ids; seeding again adds nothing and never touches versions an admin has made.
Lenders marked "(demo)" are placeholders; rates are illustrative (the bank loan sits at 4.35 %, the old
5-year benchmark rate that loan-prime-rate-based car loans still hover around).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Brand, FinanceKind, FinanceProduct

D = Decimal
VALID_FROM = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
PROMOTION_ENDS = dt.datetime(2027, 12, 31, 16, 0, tzinfo=dt.UTC)  # 2028-01-01 00:00 Beijing time

PRODUCTS: list[dict[str, Any]] = [
    {
        "code": "full-payment",
        "kind": FinanceKind.FULL_PAYMENT,
        "brand": None,
        "name_en": "Full payment",
        "name_zh": "全款购车",
        "lender_en": "Paid to the showroom",
        "lender_zh": "直接支付给门店",
        "description_en": "Pay the whole price at signing; the car is yours from day one.",
        "description_zh": "签约时一次付清，车辆从第一天起归您所有。",
        "terms_months": [0],
        "min_down_payment_pct": D(100),
        "max_down_payment_pct": D(100),
    },
    {
        "code": "renault-finance-loan",
        "kind": FinanceKind.LOAN,
        "brand": "renault",
        "name_en": "Renault Finance car loan",
        "name_zh": "雷诺汽车金融贷款",
        "lender_en": "Renault Finance (demo)",
        "lender_zh": "雷诺汽车金融（演示）",
        "description_en": "From 20% down, 12 to 60 months, optional balloon (尾款) up to 30%.",
        "description_zh": "首付20%起，12至60期，可选尾款最高30%。",
        "annual_rate_pct": D("3.99"),
        "terms_months": [12, 24, 36, 48, 60],
        "min_down_payment_pct": D(20),
        "max_down_payment_pct": D(80),
        "balloon_allowed": True,
        "max_balloon_pct": D(30),
        "fees": D(1500),
    },
    {
        "code": "ford-credit-0pct-24",
        "kind": FinanceKind.LOAN,
        "brand": "ford",
        "name_en": "Ford Credit 0% for 24 months",
        "name_zh": "福特汽车金融 24期0利率",
        "lender_en": "Ford Credit (demo)",
        "lender_zh": "福特汽车金融（演示）",
        "description_en": "Interest paid by Ford (贴息): 0% for 24 months from 30% down, ¥3,000 service fee.",
        "description_zh": "福特贴息：首付30%起，24期0利率，金融服务费3,000元。",
        "annual_rate_pct": D("4.99"),
        "subsidised": True,
        "terms_months": [12, 24],
        "min_down_payment_pct": D(30),
        "max_down_payment_pct": D(70),
        "fees": D(3000),
        "valid_to": PROMOTION_ENDS,
    },
    {
        "code": "lincoln-balloon-loan",
        "kind": FinanceKind.LOAN,
        "brand": "lincoln",
        "name_en": "Lincoln Financial balloon loan",
        "name_zh": "林肯金融尾款贷",
        "lender_en": "Ford Credit for Lincoln (demo)",
        "lender_zh": "福特汽车金融·林肯（演示）",
        "description_en": "2.99% over 36 to 60 months with up to 40% left as a balloon (尾款).",
        "description_zh": "年利率2.99%，36至60期，尾款最高40%。",
        "annual_rate_pct": D("2.99"),
        "terms_months": [36, 48, 60],
        "min_down_payment_pct": D(20),
        "max_down_payment_pct": D(60),
        "balloon_allowed": True,
        "max_balloon_pct": D(40),
        "fees": D(2000),
    },
    {
        "code": "bank-loan",
        "kind": FinanceKind.LOAN,
        "brand": None,
        "name_en": "Bank car loan",
        "name_zh": "银行车贷",
        "lender_en": "Partner bank (demo)",
        "lender_zh": "合作银行（演示）",
        "description_en": "A plain bank loan at 4.35%, 15% to 90% down, no fees.",
        "description_zh": "银行车贷年利率4.35%，首付15%至90%，无手续费。",
        "annual_rate_pct": D("4.35"),
        "terms_months": [12, 24, 36, 48, 60],
        "min_down_payment_pct": D(15),
        "max_down_payment_pct": D(90),
    },
    {
        "code": "yichenggou",
        "kind": FinanceKind.LEASE_TO_OWN,
        "brand": None,
        "name_en": "10%-down lease-to-own (一成购)",
        "name_zh": "一成购（融资租赁）",
        "lender_en": "Leasing partner (demo)",
        "lender_zh": "融资租赁合作伙伴（演示）",
        "description_en": "10% down and monthly rent; then pay the balance, finance it over 36 months, "
        "or hand the car back.",
        "description_zh": "首付一成，按月付租；期满后可一次付清尾款、尾款分36期，或退还车辆。",
        "annual_rate_pct": D("6.50"),
        "terms_months": [12, 24],
        "min_down_payment_pct": D(10),
        "max_down_payment_pct": D(30),
        "residual_by_term": {"12": "65", "24": "50"},
        "balance_rate_pct": D("6.50"),
        "balance_finance_months": 36,
    },
    {
        "code": "operating-lease",
        "kind": FinanceKind.OPERATING_LEASE,
        "brand": None,
        "name_en": "Operating lease",
        "name_zh": "经营性租赁",
        "lender_en": "Leasing partner (demo)",
        "lender_zh": "融资租赁合作伙伴（演示）",
        "description_en": "No down payment; a fixed monthly payment for 24 to 48 months, then the car goes back. "
        "15,000 km a year included.",
        "description_zh": "零首付，24至48期固定月付，期满还车；每年含15,000公里。",
        "annual_rate_pct": D("5.50"),
        "terms_months": [24, 36, 48],
        "min_down_payment_pct": D(0),
        "max_down_payment_pct": D(0),
        "fees": D(1000),
        "residual_by_term": {"24": "60", "36": "52", "48": "45"},
        "included_km_per_year": 15_000,
        "km_step": 5_000,
        "residual_reduction_pct_per_step": D(2),
        "min_residual_pct": D(10),
        "mileage_overage_per_km": D("0.50"),
        "mileage_options_km": [10_000, 15_000, 20_000, 25_000, 30_000],
    },
]


def seed_finance(session: Session) -> str:
    """Add the demo finance products that are missing (by code); returns a one-line summary."""
    brands = {brand.slug: brand for brand in session.scalars(select(Brand))}
    existing = set(session.scalars(select(FinanceProduct.code)))
    added = 0
    for order, spec in enumerate(PRODUCTS):
        values = dict(spec)
        brand_slug = values.pop("brand")
        if values["code"] in existing or (brand_slug is not None and brand_slug not in brands):
            continue
        session.add(
            FinanceProduct(
                brand_id=brands[brand_slug].id if brand_slug else None,
                version=1,
                is_current=True,
                valid_from=VALID_FROM,
                sort_order=order * 10,
                **values,
            )
        )
        added += 1
    session.flush()
    return f"finance products added: {added}, already there: {len(existing)}"
