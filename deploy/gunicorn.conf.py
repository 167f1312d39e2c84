"""gunicorn settings for one app host: `gunicorn -c deploy/gunicorn.conf.py wsgi:app` (systemd runs exactly this).

Environment: BIND (default 127.0.0.1:8000), WEB_WORKERS (default 2 x CPUs + 1), FORWARDED_ALLOW_IPS (the
proxy's address; default 127.0.0.1), LOG_FORMAT (text or json, as the store), plus the store's own settings.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from config import default_web_workers, engine_url, load_config  # noqa: E402

bind = os.environ.get("BIND", "127.0.0.1:8000")
workers = default_web_workers()
worker_class = "sync"  # nginx buffers slow clients, so a sync worker never waits on a phone's network
timeout = 30  # a worker silent this long is killed and replaced
graceful_timeout = 30  # on SIGTERM / HUP, requests in flight get this long to finish
max_requests = 2000  # recycle workers now and then; the jitter keeps them from restarting together
max_requests_jitter = 200
preload_app = False  # each worker builds its own app and connection pool after the fork
# Only the proxy may tell us the client's scheme; the app's ProxyFix (TRUSTED_PROXY_COUNT=1) reads
# X-Forwarded-For / -Proto / -Host for the one hop it trusts.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
proxy_allow_ips = forwarded_allow_ips

# Access log in the store's format: key=value text (or JSON) with the request id nginx passed through.
accesslog = "-"
access_log_format = (
    'request_id=%({x-request-id}o)s method=%(m)s path="%(U)s" status=%(s)s ms=%(M)s bytes=%(B)s '
    'client=%({x-forwarded-for}i)s agent="%(a)s"'
)
_formatter: dict[str, Any] = (
    {"()": "storefront.logs.JsonFormatter"}
    if os.environ.get("LOG_FORMAT") == "json"
    else {"format": "%(asctime)s level=%(levelname)s logger=%(name)s %(message)s"}
)
logconfig_dict: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"store": _formatter},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "store", "stream": "ext://sys.stderr"}},
    "root": {"level": "WARNING", "handlers": ["stderr"]},
    "loggers": {
        "gunicorn.error": {"level": "INFO", "handlers": ["stderr"], "propagate": False},
        "gunicorn.access": {"level": "INFO", "handlers": ["stderr"], "propagate": False},
    },
}


def on_starting(server: Any) -> None:
    """Refuse to start on a configuration that cannot work, before any worker forks: missing secrets or a
    connection budget over the limit (config.py), or over what the PostgreSQL server really allows."""
    settings = load_config()
    settings.WEB_WORKERS = workers  # what this server will really run
    settings.check_connection_budget()
    url = engine_url(settings.SQLALCHEMY_ENGINES["default"])
    if not url.startswith("postgresql"):
        return
    log = logging.getLogger("gunicorn.error")
    try:
        import psycopg

        with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), connect_timeout=5) as conn:
            row = conn.execute("SHOW max_connections").fetchone()
        server_max = int(row[0]) if row else 0
    except Exception as error:  # noqa: BLE001 - an unreachable database is /readyz's business, not a reason to stay down
        log.warning("connection budget: could not read max_connections (%s); using DB_MAX_CONNECTIONS", error)
        return
    needed = settings.connections_needed()
    if needed > server_max:
        raise RuntimeError(
            f"connection budget: the deployment may open {needed} connections but PostgreSQL allows "
            f"{server_max} (max_connections); see docs/deploy.md"
        )
    log.info("connection budget: %s of %s PostgreSQL connections at most", needed, server_max)
