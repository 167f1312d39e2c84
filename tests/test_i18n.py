"""One voice in Chinese and English: the catalogs agree with each other and with the code.

Every area keeps its own catalog and Flask-Babel merges them, so a msgid (with its context) translated two ways
in two areas shows whichever catalog loads last, on every page. These tests fail on such a collision, on an
empty or fuzzy zh-CN entry, on a translation whose placeholders differ from the msgid's, and on a message in
the code that no catalog carries.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
CATALOGS = sorted(ROOT.glob("storefront/**/translations/zh_Hans_CN/LC_MESSAGES/messages.po"))
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "pgettext": ((1, "c"), 2),
            "npgettext": ((1, "c"), 2, 3), "_l": None, "lazy_gettext": None, "lazy_pgettext": ((1, "c"), 2)}


def _area(path: Path) -> str:
    parts = path.relative_to(ROOT / "storefront").parts
    return "shared" if parts[0] == "translations" else parts[0]


@pytest.fixture(scope="module")
def catalogs() -> dict[str, Catalog]:
    assert CATALOGS, "no zh-CN catalog found"
    result = {}
    for path in CATALOGS:
        with path.open("rb") as po:
            result[_area(path)] = read_po(po, locale="zh_Hans_CN")
    return result


def _key(message) -> tuple[str | None, str]:  # type: ignore[no-untyped-def]
    return message.context, message.id if isinstance(message.id, str) else message.id[0]


def test_a_msgid_has_one_translation_across_all_areas(catalogs: dict[str, Catalog]) -> None:
    seen: dict[tuple[str | None, str], dict[str, object]] = defaultdict(dict)
    for area, catalog in catalogs.items():
        for message in catalog:
            if message.id:
                seen[_key(message)][area] = message.string
    collisions = {key: areas for key, areas in seen.items() if len({repr(s) for s in areas.values()}) > 1}
    assert not collisions, "one msgid, several translations (use pgettext or one wording):\n" + "\n".join(
        f"  {context or ''}|{msgid!r}: {areas}" for (context, msgid), areas in collisions.items())


def test_every_zh_cn_entry_is_translated_and_not_fuzzy(catalogs: dict[str, Catalog]) -> None:
    untranslated = [
        f"{area}: {_key(m)}" for area, catalog in catalogs.items() for m in catalog
        if m.id and (m.fuzzy or not (m.string if isinstance(m.string, str) else all(m.string)))
    ]
    assert not untranslated, "\n".join(untranslated)


def test_translations_keep_the_placeholders_of_their_msgid(catalogs: dict[str, Catalog]) -> None:
    broken = [f"{area}: {_key(m)}: {errors}" for area, catalog in catalogs.items()
              for m, errors in catalog.check() if errors]
    assert not broken, "\n".join(broken)


def test_every_message_in_the_code_is_in_a_catalog(catalogs: dict[str, Catalog]) -> None:
    """A string marked for translation that `make i18n` has not extracted is shown in English to Chinese shoppers."""
    known = {_key(m) for catalog in catalogs.values() for m in catalog if m.id}
    method_map = [("storefront/**.py", "python"), ("templates/**.html", "jinja2"), ("templates/**.txt", "jinja2")]
    missing = set()
    for _filename, _lineno, message, _comments, context in extract_from_dir(
            str(ROOT), method_map=method_map, keywords=KEYWORDS, options_map={
                "templates/**.html": {"extensions": "jinja2.ext.i18n"},
                "templates/**.txt": {"extensions": "jinja2.ext.i18n"}}):
        msgid = message if isinstance(message, str) else message[0]
        if (context, msgid) not in known:
            missing.add((context, msgid))
    assert not missing, "run `python -m storefront.i18n_tools update` and translate:\n" + "\n".join(
        f"  {c or ''}|{m!r}" for c, m in sorted(missing, key=str))
