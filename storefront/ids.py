"""Record ids from the outside world: ASCII digits within the database's integer range, or nothing.

`str.isdigit()` says yes to "²" and "١٢" (then `int()` fails or reads Arabic-Indic digits), and PostgreSQL refuses
integers over 2**31 - 1 in an INTEGER column; both turned a typo or a probe into a 500. Every id read from a URL,
a query string or a form goes through `parse_id`, and the app's `int` URL converter is `IdConverter`.
"""

from __future__ import annotations

from typing import Any

from werkzeug.routing import IntegerConverter, ValidationError

MAX_ID = 2**31 - 1  # PostgreSQL INTEGER, the type of every primary key here
_MAX_DIGITS = len(str(MAX_ID))


def parse_id(raw: Any) -> int | None:
    """The id in `raw` (str or int), or None when it is not plain ASCII digits naming an id in range."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw if 0 <= raw <= MAX_ID else None
    if not isinstance(raw, str):
        return None
    text = raw.strip()
    if not text or len(text) > _MAX_DIGITS or not (text.isascii() and text.isdigit()):
        return None
    number = int(text)
    return number if number <= MAX_ID else None


def parse_ids(raws: list[str]) -> list[int]:
    """The valid ids among `raws`, in order, the others dropped."""
    return [number for number in map(parse_id, raws) if number is not None]


class IdConverter(IntegerConverter):
    """`<int:...>` in every route: ASCII digits only and at most MAX_ID, anything else is a 404 (not a 500).
    (Werkzeug's own matches any Unicode digit, "١٢" too, and has no upper bound unless each route sets one.)"""

    regex = r"[0-9]{1,10}"

    def to_python(self, value: str) -> int:
        number = parse_id(value)
        if number is None:
            raise ValidationError()
        return number

