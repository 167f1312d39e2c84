"""Strict parsing of API query strings: each bad parameter is named in a 400's `fields`, never guessed at."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Collection
from decimal import Decimal, InvalidOperation
from typing import Any

from flask import Response, request

from storefront.errors import json_error

MAX_PER_PAGE = 100
_DIGITS = re.compile(r"^[0-9]{1,10}$")
_PRICE = re.compile(r"^[0-9]{1,8}(\.[0-9]{1,2})?$")


class QueryArgs:
    """Reads request.args; collects a message per bad parameter instead of failing on the first."""

    def __init__(self) -> None:
        self.problems: dict[str, str] = {}

    def text(self, name: str, *, max_length: int = 80) -> str | None:
        value = request.args.get(name, "").strip()
        if len(value) > max_length:
            self.problems[name] = f"At most {max_length} characters."
            return None
        return value or None

    def _raw(self, name: str) -> str | None:
        """The parameter as sent; None when absent. Present but empty is malformed: leave it out instead."""
        raw = request.args.get(name)
        if raw == "":
            self.problems[name] = "Give a value, or leave the parameter out."
            return None
        return raw

    def whole(self, name: str, *, default: int | None = None, minimum: int = 1, maximum: int = 2_147_483_647) -> Any:
        raw = self._raw(name)
        if raw is None:
            return default
        if not _DIGITS.match(raw) or not minimum <= int(raw) <= maximum:
            self.problems[name] = f"A whole number from {minimum} to {maximum}."
            return default
        return int(raw)

    def choice(self, name: str, choices: Collection[str], *, default: str | None = None) -> str | None:
        raw = self._raw(name)
        if raw is None:
            return default
        if raw not in choices:
            self.problems[name] = "One of: " + ", ".join(sorted(choices)) + "."
            return default
        return raw

    def price(self, name: str) -> Decimal | None:
        raw = self._raw(name)
        if raw is None:
            return None
        try:
            value = Decimal(raw) if _PRICE.match(raw) else None
        except InvalidOperation:
            value = None
        if value is None:
            self.problems[name] = "An amount in yuan, digits with at most two decimals, e.g. 150000."
            return None
        return value

    def timestamp(self, name: str) -> dt.datetime | None:
        raw = self._raw(name)
        if raw is None:
            return None
        try:
            value = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            value = None
        if value is None or value.tzinfo is None:
            self.problems[name] = "A date-time with its offset, e.g. 2026-12-01T08:00:00+08:00."
            return None
        return value.astimezone(dt.UTC)

    def page(self) -> tuple[int, int]:
        return self.whole("page", default=1, maximum=100_000), self.whole("per_page", default=20, maximum=MAX_PER_PAGE)

    def error(self) -> tuple[Response, int] | None:
        if not self.problems:
            return None
        return json_error(400, "bad_request", "Missing or malformed query parameters.", self.problems)
