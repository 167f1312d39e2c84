"""Vehicle identification numbers: ISO 3779 shape and the North-American/Chinese check digit (position 9)."""

from __future__ import annotations

import re

VIN_PATTERN = re.compile(r"^[A-HJ-NPR-Z0-9]{17}$")  # I, O and Q are never used
_TRANSLITERATION = {
    **{str(d): d for d in range(10)},
    **dict(zip("ABCDEFGH", range(1, 9), strict=True)),
    **dict(zip("JKLMN", range(1, 6), strict=True)),
    "P": 7,
    "R": 9,
    **dict(zip("STUVWXYZ", range(2, 10), strict=True)),
}
_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)


def check_digit(vin: str) -> str:
    """The check character for a 17-character VIN ('X' stands for 10); position 9 is ignored."""
    total = sum(_TRANSLITERATION[ch] * weight for ch, weight in zip(vin, _WEIGHTS, strict=True))
    remainder = total % 11
    return "X" if remainder == 10 else str(remainder)


def vin_problem(raw: str) -> str | None:
    """Why `raw` is not a valid VIN, or None when it is."""
    vin = raw.strip().upper()
    if len(vin) != 17:
        return "A VIN has exactly 17 characters."
    if not VIN_PATTERN.match(vin):
        return "A VIN uses only digits and capital letters other than I, O and Q."
    if vin[8] != check_digit(vin):
        return "The VIN check digit (9th character) does not match."
    return None


def with_check_digit(vin16: str) -> str:
    """Complete a VIN whose 9th character is a placeholder by computing the real check digit."""
    vin = vin16.upper()
    return vin[:8] + check_digit(vin) + vin[9:]
