"""Vehicle CSV import (parse, dry-run validation, all-or-nothing import) and export lines.

Import format (header row required, column order free, other columns ignored so an export can be edited and
imported again): `vin,trim_id,showroom,colour,status` — showroom is the showroom code, colour the colour code,
status `in_stock` (default when empty) or `demo_fleet`. UTF-8 (with or without BOM) or GB18030 as saved by Excel.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models import Dealer, Trim, User, Vehicle, VehicleStatus
from storefront import clock
from storefront.audit import record_audit
from storefront.errors import ConflictError, DomainError
from storefront.staff.services import ARRIVAL_STATUSES, _, normalise_vin, vin_message

COLUMNS = ("vin", "trim_id", "showroom", "colour", "status")
REQUIRED = ("vin", "trim_id", "showroom", "colour")
MAX_ROWS = 5000
TOKEN_MAX_AGE = 3600  # seconds a preview stays importable
_TOKEN_SALT = "staff.vehicle-import"  # noqa: S105 - a signing namespace, not a secret
_VIN_BATCH = 500  # VINs per IN (...) lookup


@dataclass
class ImportRow:
    """One data line of the file, as typed, with what is wrong with it."""

    line: int
    vin: str
    trim_id: str
    showroom: str
    colour: str
    status: str
    errors: list[str] = field(default_factory=list)

    @property
    def values(self) -> list[str]:
        return [self.vin, self.trim_id, self.showroom, self.colour, self.status]

    @property
    def status_value(self) -> str:
        return self.status or VehicleStatus.IN_STOCK.value


class ImportRejected(DomainError):
    """At least one row is wrong, so nothing was imported; `rows` carries every row's errors."""

    def __init__(self, rows: list[ImportRow]):
        bad = sum(1 for row in rows if row.errors)
        super().__init__(_("%(num)d of %(total)d rows have errors; nothing was imported.", num=bad, total=len(rows)),
                         field="file")
        self.rows = rows


def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise DomainError(_("The file is not text in UTF-8 or GB18030; save it as CSV and try again."), field="file")


def parse_csv(data: bytes) -> list[ImportRow]:
    """Rows of an uploaded file; refuses files without the needed columns, empty files and very large ones."""
    text = _decode(data)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        if header is None:
            raise DomainError(_("The file is empty."), field="file")
        names = [name.strip().lower() for name in header]
        missing = [name for name in REQUIRED if name not in names]
        if missing:
            raise DomainError(
                _("The header row must name the columns %(columns)s; missing: %(missing)s.",
                  columns=", ".join(COLUMNS), missing=", ".join(missing)),
                field="file",
            )
        position = {name: names.index(name) for name in COLUMNS if name in names}
        rows: list[ImportRow] = []
        for cells in reader:
            if not any(cell.strip() for cell in cells):
                continue
            if len(rows) >= MAX_ROWS:
                raise DomainError(_("At most %(max)d vehicles per file; split it and import the parts.", max=MAX_ROWS),
                                  field="file")

            def cell(name: str, cells: list[str] = cells) -> str:
                index = position.get(name)
                return cells[index].strip() if index is not None and index < len(cells) else ""

            rows.append(ImportRow(line=reader.line_num, vin=normalise_vin(cell("vin")), trim_id=cell("trim_id"),
                                  showroom=cell("showroom").upper(), colour=cell("colour").lower(),
                                  status=cell("status").lower()))
    except csv.Error as error:
        raise DomainError(_("The file could not be read as CSV (line %(line)d).", line=reader.line_num),
                          field="file") from error
    if not rows:
        raise DomainError(_("The file has a header but no vehicles."), field="file")
    return rows


def _as_id(text: str) -> int | None:
    """A row id typed in the file, if it can be one (at most 9 digits: fits every integer column)."""
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 9 else None


def validate_rows(session: Session, *, actor: User, rows: list[ImportRow]) -> list[ImportRow]:
    """Fill in each row's errors (dry run). A fixed number of queries: trims, showrooms, VINs in batches."""
    trim_ids = {number for row in rows if (number := _as_id(row.trim_id)) is not None}
    trims = {t.id: t for t in session.scalars(select(Trim).where(Trim.id.in_(trim_ids)))} if trim_ids else {}
    codes = {row.showroom for row in rows if row.showroom}
    dealers = {d.code: d for d in session.scalars(select(Dealer).where(Dealer.code.in_(codes)))} if codes else {}
    vins = sorted({row.vin for row in rows if row.vin})
    taken: set[str] = set()
    for start in range(0, len(vins), _VIN_BATCH):
        batch = vins[start : start + _VIN_BATCH]
        taken.update(session.scalars(select(Vehicle.vin).where(Vehicle.vin.in_(batch))))
    in_file = Counter(row.vin for row in rows if row.vin)
    allowed_status = {status.value for status in ARRIVAL_STATUSES}

    for row in rows:
        row.errors = []
        problem = vin_message(row.vin)
        if problem:
            row.errors.append(problem)
        elif in_file[row.vin] > 1:
            row.errors.append(_("VIN appears more than once in this file."))
        elif row.vin in taken:
            row.errors.append(_("A vehicle with this VIN already exists."))
        trim_id = _as_id(row.trim_id)
        trim = trims.get(trim_id) if trim_id is not None else None
        if trim is None:
            row.errors.append(_("Unknown trim id %(value)s.", value=row.trim_id or "—"))
        dealer = dealers.get(row.showroom)
        if dealer is None:
            row.errors.append(_("Unknown showroom %(value)s.", value=row.showroom or "—"))
        elif not actor.works_at(dealer.id):
            row.errors.append(_("You do not work at showroom %(value)s.", value=row.showroom))
        if trim is not None and (not row.colour or (trim.colours and trim.colour(row.colour) is None)):
            row.errors.append(_("Colour %(value)s is not offered on this trim.", value=row.colour or "—"))
        if row.status_value not in allowed_status:
            row.errors.append(_("Status %(value)s is not allowed; use in_stock or demo_fleet.", value=row.status))
    return rows


def import_rows(session: Session, *, actor: User, rows: list[ImportRow], filename: str = "") -> int:
    """Validate again (the database may have moved since the preview), then add every row or none.

    One bulk INSERT (batched by the driver) instead of one per car: 1,000 rows take well under a second.
    """
    validate_rows(session, actor=actor, rows=rows)
    if any(row.errors for row in rows):
        raise ImportRejected(rows)
    codes = select(Dealer.code, Dealer.id).where(Dealer.code.in_({row.showroom for row in rows}))
    dealer_ids = {dealer.code: dealer.id for dealer in session.execute(codes)}
    stamp = clock.now()
    values = [
        {"vin": row.vin, "trim_id": int(row.trim_id), "dealer_id": dealer_ids[row.showroom], "colour_code": row.colour,
         "status": VehicleStatus(row.status_value), "version": 1, "created_at": stamp, "updated_at": stamp}
        for row in rows
    ]
    try:
        session.execute(insert(Vehicle), values)
    except IntegrityError:
        raise ConflictError(_("Some of these VINs were just added by someone else; nothing was imported.")) from None
    record_audit(
        session, actor=actor, action="vehicle.import", entity_type="vehicle", entity_id="csv",
        after={"count": len(rows), "vins": [row.vin for row in rows],
               "showrooms": dict(Counter(row.showroom for row in rows))},
        note=filename,
    )
    session.flush()
    return len(rows)


# ---------------------------------------------------------------------------------------------------------------
# Carrying a checked file from the preview to the import: signed, time-limited, bound to the user.


def rows_token(secret_key: str, *, actor: User, rows: list[ImportRow], filename: str) -> str:
    serializer = URLSafeTimedSerializer(secret_key, salt=_TOKEN_SALT)
    return serializer.dumps({"u": actor.id, "f": filename[:120], "r": [[row.line, *row.values] for row in rows]})


def rows_from_token(secret_key: str, token: str, *, actor: User) -> tuple[list[ImportRow], str]:
    serializer = URLSafeTimedSerializer(secret_key, salt=_TOKEN_SALT)
    try:
        payload: dict[str, Any] = serializer.loads(token, max_age=TOKEN_MAX_AGE)
    except BadSignature:  # includes SignatureExpired
        raise DomainError(_("This preview has expired or was changed; upload the file again."), field="file") from None
    if payload.get("u") != actor.id:
        raise DomainError(_("This preview has expired or was changed; upload the file again."), field="file")
    rows = [
        ImportRow(line=int(line), vin=str(vin), trim_id=str(trim_id), showroom=str(showroom), colour=str(colour),
                  status=str(status))
        for line, vin, trim_id, showroom, colour, status in payload["r"]
    ]
    return rows, str(payload.get("f", ""))


# ---------------------------------------------------------------------------------------------------------------
# Export


EXPORT_HEADER = (*COLUMNS, "brand", "model", "trim", "msrp_cny", "updated_at")
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text  # no spreadsheet formulas from our data


def export_lines(rows: Iterable[Iterable[object]], *, chunk: int = 200) -> Iterator[str]:
    """CSV text chunk by chunk: a BOM (so Excel in China reads UTF-8), the header, then the rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow(EXPORT_HEADER)
    for number, row in enumerate(rows, start=1):
        writer.writerow([_cell(value) for value in row])
        if number % chunk == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
