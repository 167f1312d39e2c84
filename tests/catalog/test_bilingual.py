"""Product data a Chinese shopper can read: every seeded trim carries its name and specs in Chinese and English,
research notes never reach a page, and units are written the Chinese way."""

from __future__ import annotations

import re

from sqlalchemy import select

from models import Trim
from storefront.catalog import seed
from tests.reservations.conftest import fresh_locale_per_request  # noqa: F401 - each request picks its language

ZH = {"Accept-Language": "zh-CN"}
EN = {"Accept-Language": "en"}
LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z-]*[A-Za-z]")
# Names a Chinese spec sheet writes in Latin letters too (engine families, gearbox codes, in-car systems).
KEPT_IN_LATIN = {"CVT", "EcoBoost", "ST", "GT", "SYNC", "FordPass", "Wi-Fi", "E-CVT", "EV"}


def _words(text: str) -> set[str]:
    return set(LATIN_WORD.findall(re.sub(r"\d+(\.\d+)?[LT]?\b|\b[IV]\d\b", " ", text)))


def test_every_seeded_trim_has_chinese_names_and_specs(db):
    seed.seed_catalog(db, vehicles_per_dealer=1)
    trims = list(db.scalars(select(Trim)))
    assert len(trims) == 40
    for trim in trims:
        for field in ("name_zh", "engine_zh", "transmission_zh", "connectivity_zh"):
            value = getattr(trim, field)
            assert value and re.search(r"[\u4e00-\u9fff]", value) or field == "name_zh" and value, (trim, field)
            assert _words(value) <= KEPT_IN_LATIN, (trim.name_en, field, _words(value) - KEPT_IN_LATIN)
        assert "confirm" not in trim.connectivity and "confirm" not in trim.connectivity_zh
    kadjar = {t.name_en: t for t in trims if t.car_model.slug == "kadjar"}
    assert kadjar["2.0L CVT 2WD"].name_zh == "2.0L CVT 两驱舒适版"


def test_seeding_again_fills_trims_seeded_before_the_chinese_specs(db):
    seed.seed_catalog(db, vehicles_per_dealer=1)
    trim = db.scalar(select(Trim).where(Trim.name_en == "2.0L CVT 2WD").limit(1))
    trim.engine_zh, trim.name_zh = "", ""
    trim.connectivity = "Alibaba connected services (AliOS/Banma naming not confirmed)"
    db.flush()
    seed.seed_catalog(db, vehicles_per_dealer=1)
    assert trim.engine_zh == "2.0L 直列四缸汽油机" and trim.name_zh == "2.0L CVT 两驱舒适版"
    assert trim.connectivity == "Alibaba connected services"


def test_compare_and_model_pages_show_chinese_specs_and_no_research_notes(client, db):
    seed.seed_catalog(db, vehicles_per_dealer=1)
    ids = [t.id for t in db.scalars(select(Trim).join(Trim.car_model).where(Trim.name_en.in_(
        ["2.0L CVT 2WD", "2.5L CVT 4WD top"])))]
    compare = client.get("/compare?" + "&".join(f"trim={i}" for i in ids), headers=ZH).get_data(as_text=True)
    for text in ("两驱舒适版", "直列四缸汽油机", "阿里巴巴智联服务", "前驱", "四驱", "千瓦", "升/百公里"):
        assert text in compare, text
    for text in ("not confirmed", "AliOS", "petrol", "FWD", "AWD", "2WD", " kW"):
        assert text not in compare, text
    model = client.get("/models/city-k-ze", headers=ZH).get_data(as_text=True)
    assert "智联旗舰版" in model and "单速" in model and "公里" in model and "top (connected pack)" not in model
    english = client.get("/models/kadjar", headers=EN).get_data(as_text=True)
    assert "2.0L I4 petrol" in english and "FWD" in english and "两驱" not in english
