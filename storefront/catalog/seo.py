"""What search engines read: canonical and hreflang links, meta descriptions, schema.org JSON-LD, the sitemap
and robots.txt. Every absolute URL is built from PUBLIC_BASE_URL, never from the request's Host header, so a
cached page cannot carry a forged host."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import current_app, request, url_for
from flask_babel import get_locale

from models import CarModel
from storefront.i18n import URL_LANGUAGES

# Query arguments that never make a different page (htmx's partial switch, the language that has its own link).
NOT_CANONICAL = frozenset({"lang", "partial"})
URL_CODE = {locale: code for code, locale in URL_LANGUAGES.items()}


def absolute(path: str, **args: Any) -> str:
    query = urlencode(sorted((k, v) for k, v in args.items() if v not in (None, "")), doseq=True)
    base = str(current_app.config.get("PUBLIC_BASE_URL", "")).rstrip("/")
    return f"{base}{path}" + (f"?{query}" if query else "")


def head_links() -> dict[str, Any]:
    """canonical (this page in this language) and its alternates: zh-CN, en and x-default (the bare URL,
    whose language follows the browser)."""
    args = {k: v for k, v in request.args.items() if k not in NOT_CANONICAL}
    current = URL_CODE.get(str(get_locale()), "zh-CN")
    alternates = {code: absolute(request.path, **args, lang=code) for code in URL_LANGUAGES}
    alternates["x-default"] = absolute(request.path, **args)
    return {"canonical": absolute(request.path, **args, lang=current), "alternates": alternates}


def car_json_ld(car_model: CarModel) -> dict[str, Any]:
    """schema.org Car with an AggregateOffer over its trims' guide prices (CNY); the template writes it with
    `tojson`, which escapes what could end the <script> element."""
    prices = [t.msrp_cny for t in car_model.trims if t.is_active]
    data: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "Car",
        "name": f"{car_model.brand.name_en} {car_model.name_en}",
        "alternateName": f"{car_model.brand.name_zh} {car_model.name_zh}",
        "brand": {"@type": "Brand", "name": car_model.brand.name_en},
        "model": car_model.name_en,
        "vehicleModelDate": str(car_model.model_year),
        "bodyType": car_model.body_type.value,
        "url": absolute(url_for("catalog.model_detail", slug=car_model.slug)),
        "image": absolute(url_for("static", filename=f"img/body/{car_model.body_type.value}.svg")),
    }
    if car_model.description_en:
        data["description"] = car_model.description_en
    if prices:
        data["offers"] = {
            "@type": "AggregateOffer",
            "priceCurrency": "CNY",
            "lowPrice": str(min(prices)),
            "highPrice": str(max(prices)),
            "offerCount": len(prices),
            "url": absolute(url_for("catalog.model_detail", slug=car_model.slug)),
        }
    return data


def sitemap_entries(brand_slugs: list[str], model_slugs: list[str]) -> list[dict[str, Any]]:
    paths = [url_for("catalog.home"), url_for("catalog.listing"), url_for("catalog.showrooms"),
             *(url_for("catalog.brand", slug=slug) for slug in brand_slugs),
             *(url_for("catalog.model_detail", slug=slug) for slug in model_slugs)]
    return [{"loc": absolute(path), "alternates": {code: absolute(path, lang=code) for code in URL_LANGUAGES}}
            for path in paths]


# Areas a crawler has no business in: signed-in, staff and action pages.
DISALLOWED = ("/staff/", "/account/", "/reservations/", "/payments/", "/demo/", "/api/", "/lang")


def robots_txt() -> str:
    lines = ["User-agent: *", *(f"Disallow: {path}" for path in DISALLOWED), "",
             f"Sitemap: {absolute(url_for('catalog.sitemap'))}", ""]
    return "\n".join(lines)
