"""The .ics calendar file of a booking (RFC 5545 via icalendar), in Beijing time with a stable UID.

The UID never changes for a booking, so calendar apps update the same entry: a reschedule sends the
same UID with a higher SEQUENCE, a cancellation sends METHOD:CANCEL / STATUS:CANCELLED.
"""

from __future__ import annotations

import datetime as dt

from icalendar import Calendar, Event, Timezone, TimezoneStandard, vCalAddress, vText

from models import TestDriveBooking
from storefront.clock import STORE_TZ

UID_DOMAIN = "test-drives.flagship.example"
PRODID = "-//Flagship//Test drives//EN"
ORGANIZER = "mailto:noreply@flagship.example"
CONTENT_TYPE = "text/calendar"


def booking_uid(booking: TestDriveBooking) -> str:
    return f"{booking.reference}@{UID_DOMAIN}"


def filename(booking: TestDriveBooking) -> str:
    return f"test-drive-{booking.reference}.ics"


def shanghai_vtimezone() -> Timezone:
    """Asia/Shanghai has been UTC+8 all year since 1991: one STANDARD rule, no daylight saving."""
    zone = Timezone()
    zone.add("tzid", "Asia/Shanghai")
    standard = TimezoneStandard()
    standard.add("dtstart", dt.datetime(1970, 1, 1))  # noqa: DTZ001 - VTIMEZONE rules are floating local times
    standard.add("tzoffsetfrom", dt.timedelta(hours=8))
    standard.add("tzoffsetto", dt.timedelta(hours=8))
    standard.add("tzname", "CST")
    zone.add_component(standard)
    return zone


def booking_calendar(
    booking: TestDriveBooking,
    *,
    method: str = "REQUEST",
    summary: str,
    location: str,
    description: str,
    stamp: dt.datetime,
    attendee_email: str = "",
) -> str:
    """The VCALENDAR text. `method` is REQUEST (invite or update), CANCEL, or PUBLISH (plain download)."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", method)
    calendar.add_component(shanghai_vtimezone())

    event = Event()
    event.add("uid", booking_uid(booking))
    event.add("sequence", booking.sequence)
    event.add("dtstamp", stamp.astimezone(dt.UTC))
    event.add("dtstart", booking.starts_at.astimezone(STORE_TZ))
    event.add("dtend", booking.ends_at.astimezone(STORE_TZ))
    event.add("summary", summary)
    event.add("location", location)
    event.add("description", description)
    cancelled = method == "CANCEL" or not booking.is_active
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    event.add("transp", "OPAQUE")
    if method != "PUBLISH":
        organizer = vCalAddress(ORGANIZER)
        organizer.params["cn"] = vText("Flagship")
        event.add("organizer", organizer)
        if attendee_email:
            attendee = vCalAddress(f"mailto:{attendee_email}")
            attendee.params["cn"] = vText(booking.contact_name)
            attendee.params["role"] = vText("REQ-PARTICIPANT")
            event.add("attendee", attendee)
    calendar.add_component(event)
    return str(calendar.to_ical().decode("utf-8"))
