"""Admins edit a campaign: before it opens everything but the web address may change (a new edition size
renumbers the launch numbers); once it has opened or has an order, only names, benefits and the closing time.
Every change is audited; staff and shoppers cannot edit."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import func, select

import models
from models import LaunchNumber
from storefront.clock import STORE_TZ
from storefront.errors import ConflictError, DomainError
from storefront.presale import services
from tests.conftest import login
from tests.presale.conftest import opening_later, shopper

pytestmark = pytest.mark.usefixtures("english_messages")


@pytest.fixture
def upcoming(db, catalog) -> models.PresaleCampaign:
    return opening_later(db, catalog.car_models[0].id, slug="soon", after=dt.timedelta(days=1))


def current_terms(campaign: models.PresaleCampaign) -> services.CampaignTerms:
    return services.CampaignTerms(
        **{f.name: getattr(campaign, f.name) for f in dataclasses.fields(services.CampaignTerms)}
    )


def test_before_it_opens_every_term_may_change_and_the_numbers_follow_the_edition(db, upcoming, admin_user):
    changed = dataclasses.replace(
        current_terms(upcoming), edition_size=5, presale_price=Decimal("209800.00"), refundable_days=0
    )
    services.update_campaign(db, actor=admin_user, campaign=upcoming, terms=changed)
    numbers = db.scalars(select(LaunchNumber.number).where(LaunchNumber.campaign_id == upcoming.id)).all()
    assert sorted(numbers) == [1, 2, 3, 4, 5]
    assert upcoming.presale_price == Decimal("209800.00") and upcoming.refundable_days == 0
    entry = db.scalar(select(models.AuditLog).where(models.AuditLog.action == "presale.campaign_updated"))
    assert entry is not None and entry.actor_id == admin_user.id
    assert entry.before == {"edition_size": "3", "presale_price": "199800.00", "refundable_days": "7"}
    assert entry.after == {"edition_size": "5", "presale_price": "209800.00", "refundable_days": "0"}


def test_the_law_still_holds_and_the_web_address_never_changes(db, upcoming):
    with pytest.raises(DomainError) as error:
        services.update_campaign(
            db,
            actor=None,
            campaign=upcoming,
            terms=dataclasses.replace(current_terms(upcoming), deposit_amount=Decimal("50000")),
        )
    assert error.value.field == "deposit_amount"
    with pytest.raises(DomainError) as error:
        services.update_campaign(
            db, actor=None, campaign=upcoming, terms=dataclasses.replace(current_terms(upcoming), slug="x")
        )
    assert error.value.field == "slug"


def test_once_open_only_names_benefits_and_the_closing_time_change(db, campaign):
    services.place_order(db, campaign=campaign, user=shopper(db))
    for field, value in (("deposit_amount", Decimal("500.00")), ("edition_size", 10), ("refundable_days", 1)):
        with pytest.raises(ConflictError) as error:
            services.update_campaign(
                db, actor=None, campaign=campaign, terms=dataclasses.replace(current_terms(campaign), **{field: value})
            )
        assert error.value.field == field
    closes = campaign.closes_at + dt.timedelta(hours=6)
    services.update_campaign(
        db,
        actor=None,
        campaign=campaign,
        terms=dataclasses.replace(
            current_terms(campaign), name_en="Launch Edition II", benefits_en="Free charging", closes_at=closes
        ),
    )
    assert (campaign.name_en, campaign.benefits_en, campaign.closes_at) == (
        "Launch Edition II",
        "Free charging",
        closes,
    )
    assert db.scalar(select(func.count()).select_from(LaunchNumber).where(LaunchNumber.campaign_id == campaign.id)) == 3


def test_only_admins_edit_and_the_form_keeps_unchanged_terms(client, db, campaign, staff_user, admin_user):
    login(client, staff_user)
    assert client.get(f"/staff/presale/{campaign.slug}/edit").status_code == 403
    assert "Edit the presale" not in client.get(f"/staff/presale/{campaign.slug}").get_data(as_text=True)

    login(client, admin_user)
    assert "Edit the presale" in client.get(f"/staff/presale/{campaign.slug}").get_data(as_text=True)
    page = client.get(f"/staff/presale/{campaign.slug}/edit")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "the sale terms can no longer change" in text  # it opened a minute ago
    assert 'name="slug"' in text and "readonly" in text
    # The form sends back what it shows (times to the minute, in Beijing time): only the name changes.
    form = {
        "slug": campaign.slug,
        "car_model_id": campaign.car_model_id,
        "name_zh": campaign.name_zh,
        "name_en": "Launch Edition, renamed",
        "edition_size": campaign.edition_size,
        "presale_price": str(campaign.presale_price),
        "deposit_amount": str(campaign.deposit_amount),
        "deposit_credit": str(campaign.deposit_credit),
        "opens_at": campaign.opens_at.astimezone(STORE_TZ).strftime("%Y-%m-%dT%H:%M"),
        "closes_at": campaign.closes_at.astimezone(STORE_TZ).strftime("%Y-%m-%dT%H:%M"),
        "deposit_window_minutes": campaign.deposit_window_minutes,
        "refundable_days": campaign.refundable_days,
        "balance_window_days": campaign.balance_window_days,
        "benefits_zh": campaign.benefits_zh,
        "benefits_en": campaign.benefits_en,
    }
    saved = client.post(f"/staff/presale/{campaign.slug}/edit", data=form)
    assert saved.status_code == 303, saved.get_data(as_text=True)[-3000:]
    db.refresh(campaign)
    assert campaign.name_en == "Launch Edition, renamed"

    refused = client.post(f"/staff/presale/{campaign.slug}/edit", data={**form, "presale_price": "150000"})
    assert refused.status_code == 200 and 'aria-invalid="true"' in refused.get_data(as_text=True)
    db.refresh(campaign)
    assert campaign.presale_price == Decimal("199800.00")
    assert client.get("/staff/presale/no-such/edit").status_code == 404
