"""Loading the shared store-clock offset (demo time travel) into each request and CLI command.

The offset lives in the database (StoreSetting "clock_offset_seconds"), so every web worker and every
`flask ...` command agrees on the store's time. It is read once per request into flask.g, where
storefront.clock.now() looks first; outside demo mode nothing is read and the clock is real time.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import current_app, g, request

from storefront.clock import G_OFFSET
from storefront.demo.services import load_clock_offset
from storefront.extensions import db

F = TypeVar("F", bound=Callable[..., Any])


def load_store_clock() -> None:
    """Put this store's offset in flask.g (demo mode only); called per request and per CLI command."""
    g.pop(G_OFFSET, None)
    if not current_app.config.get("DEMO_MODE"):
        return
    offset = load_clock_offset(db.session)
    if offset is not None:
        setattr(g, G_OFFSET, offset)


def load_store_clock_for_request() -> None:
    """before_app_request hook; static files never need the clock. In demo mode, waits out a running reset."""
    if request.endpoint == "static":
        g.pop(G_OFFSET, None)
        return
    if current_app.config.get("DEMO_MODE"):
        from storefront.demo.reset import wait_for_running_reset

        wait_for_running_reset()  # before the first query: a reset may be rebuilding the schema right now
    load_store_clock()


def with_store_clock(command: F) -> F:
    """Decorate a CLI command (inside its app context) so now() follows the demo clock, like web requests do.

    Usage: put it below the click decorators: `@bp.cli.command("expire")` / `@with_store_clock` / `def ...`.
    """

    @wraps(command)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        load_store_clock()
        return command(*args, **kwargs)

    return cast(F, wrapped)
