"""`python -m storefront.i18n_tools update`: extract each area's messages into its own catalog.

Each area keeps storefront/<area>/translations/zh_Hans_CN/LC_MESSAGES/messages.po for its Python code,
templates/<area>/ and its mail, templates/mail/<area>/ (.html and .txt); shared templates and top-level modules
go to storefront/translations. English is the source language, so only the Chinese catalog needs filling in.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCALE = "zh_Hans_CN"


def _areas() -> list[tuple[Path, list[Path]]]:
    storefront = ROOT / "storefront"
    templates = ROOT / "templates"
    result = []
    shared_sources = list(storefront.glob("*.py")) + [templates / "base.html", templates / "_macros.html",
                                                             templates / "_partials", templates / "errors",
                                                             templates / "mail" / "_shell.html"]
    result.append((storefront / "translations", [p for p in shared_sources if p.exists()]))
    for area in sorted(p for p in storefront.iterdir() if p.is_dir() and (p / "__init__.py").exists()):
        # The area's templates, including its mail (templates/mail/<area>/, text and HTML).
        sources = [area] + [d for d in (templates / area.name, templates / "mail" / area.name) if d.exists()]
        result.append((area / "translations", sources))
    return result


def update() -> None:
    pybabel = str(Path(sys.executable).with_name("pybabel"))
    mapping = str(ROOT / "storefront" / "translations" / "babel.cfg")
    for target, sources in _areas():
        target.mkdir(parents=True, exist_ok=True)
        pot = target / "messages.pot"
        files: list[str] = []
        for source in sources:
            if source.is_dir():
                files += [str(p) for p in sorted(source.rglob("*")) if p.suffix in {".py", ".html", ".txt"}
                          and "translations" not in p.parts]
            else:
                files.append(str(source))
        if source_is_empty(files):
            continue
        subprocess.run(  # noqa: S603 - fixed argv, no shell
            [pybabel, "-q", "extract", "-F", mapping, "-k", "_l", "-k", "lazy_gettext", "-k", "lazy_pgettext:1c,2",
                        "--no-location",
                        "--sort-output", "-o", str(pot), *files], check=True, cwd=ROOT)
        po = target / LOCALE / "LC_MESSAGES" / "messages.po"
        command = "update" if po.exists() else "init"
        subprocess.run(  # noqa: S603 - fixed argv, no shell
            [pybabel, "-q", command, "-i", str(pot), "-d", str(target), "-l", LOCALE,
                        *(["--no-fuzzy-matching"] if command == "update" else [])], check=True, cwd=ROOT)
        pot.unlink()
        if command == "init":  # a new catalog's header is marked fuzzy, which would stop it compiling
            po.write_text(po.read_text(encoding="utf-8").replace('#, fuzzy\nmsgid ""\n', 'msgid ""\n', 1),
                          encoding="utf-8")
        print(f"updated {po.relative_to(ROOT)}")


def source_is_empty(files: list[str]) -> bool:
    return not files


if __name__ == "__main__":
    if sys.argv[1:] != ["update"]:
        sys.exit("usage: python -m storefront.i18n_tools update")
    update()
