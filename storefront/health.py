"""Health endpoints for load balancers and process managers: /healthz (alive) and /readyz (can serve).

Neither reads or writes the session, so neither sets a cookie; neither is rate limited. /healthz touches
nothing but the process, so it answers in well under a millisecond even when the database is down (a
liveness probe that fails with the database would restart every host at once). /readyz checks what a request
needs: the database answers and carries every Alembic head (one per area), and Redis answers when REDIS_URL
is set. It answers 200, or 503 with a JSON body naming each failed check.
"""

from __future__ import annotations

import logging
from typing import Any

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from flask import Blueprint, Flask, current_app, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from storefront.database import alembic_config
from storefront.extensions import db

log = logging.getLogger(__name__)

bp = Blueprint("health", __name__)

# Seconds a readiness probe waits for Redis before calling it down.
REDIS_TIMEOUT = 1.0


@bp.get("/healthz")
def healthz() -> Any:
    """The process is up and answering; nothing else is checked."""
    return _no_store(jsonify(status="ok"))


@bp.get("/readyz")
def readyz() -> Any:
    """200 when the database is reachable and migrated to every head and Redis (if configured) answers."""
    problems: dict[str, str] = {}
    database_problem = _database_problem()
    if database_problem:
        problems["database"] = database_problem
    if current_app.config.get("REDIS_URL"):
        redis_problem = _redis_problem()
        if redis_problem:
            problems["redis"] = redis_problem
    if problems:
        log.warning("readyz: not ready: %s", problems)
        return _no_store(jsonify(status="unavailable", problems=problems)), 503
    return _no_store(jsonify(status="ok"))


def _no_store(response: Any) -> Any:
    response.headers["Cache-Control"] = "no-store"
    return response


def migration_scripts(app: Flask) -> ScriptDirectory:
    """The Alembic scripts of the code that runs (read once per process: the code does not change under it)."""
    script = app.extensions.get("flagship_alembic_scripts")
    if script is None:
        script = ScriptDirectory.from_config(alembic_config("sqlite://"))
        app.extensions["flagship_alembic_scripts"] = script
    return script


def missing_heads(script: ScriptDirectory, applied_heads: set[str]) -> set[str]:
    """Heads of the code not yet applied. A head another area's revision depends on is applied but not
    stored in alembic_version, so compare against everything below the stored heads, not the rows alone."""
    applied = {revision.revision for revision in script.iterate_revisions(tuple(applied_heads), "base")}
    return set(script.get_heads()) - applied


def _database_problem() -> str:
    try:
        with db.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            applied = set(MigrationContext.configure(connection).get_current_heads())
    except SQLAlchemyError as error:
        return f"unreachable: {type(error).__name__}"
    script = migration_scripts(current_app._get_current_object())  # type: ignore[attr-defined]
    try:
        missing = missing_heads(script, applied)
    except CommandError as error:  # the database names a revision this code does not know
        return f"unknown migration: {error}"
    if missing:
        return f"not migrated to head: missing {', '.join(sorted(missing))}"
    return ""


def _redis_problem() -> str:
    import redis

    client = current_app.extensions.get("flagship_health_redis")
    if client is None:
        client = redis.Redis.from_url(
            current_app.config["REDIS_URL"], socket_timeout=REDIS_TIMEOUT, socket_connect_timeout=REDIS_TIMEOUT
        )
        current_app.extensions["flagship_health_redis"] = client
    try:
        client.ping()
    except (redis.RedisError, OSError) as error:
        return f"unreachable: {type(error).__name__}"
    return ""
