"""Configuration classes; every setting comes from the environment, read when the app is created."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent
MIN_DEMO_ACCESS_CODE_LENGTH = 16


def _env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw else default


def normalise_database_url(url: str) -> str:
    """Use the psycopg 3 driver for bare postgres:// and postgresql:// URLs."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


# --- Connection budget (issue 16; docs/deploy.md) ------------------------------------------------------------------
# Every gunicorn worker of every app host keeps its own pool: up to DB_POOL_SIZE + DB_MAX_OVERFLOW connections.
# All of them, plus what periodic jobs, migrations and an operator's psql need, must fit PostgreSQL's
# max_connections, or a busy minute ends in "too many clients" on some host.


def default_web_workers() -> int:
    """gunicorn (sync) workers per host: two per CPU plus one, gunicorn's own advice; WEB_WORKERS overrides."""
    return _env_int("WEB_WORKERS", 0) or 2 * (os.cpu_count() or 1) + 1


def connections_needed(*, hosts: int, workers: int, pool_size: int, max_overflow: int, reserved: int) -> int:
    """The most connections the whole deployment can open at once."""
    return hosts * workers * (pool_size + max_overflow) + reserved


def pooled_engine(url: str, *, pool_size: int, max_overflow: int) -> str | dict[str, Any]:
    """The engine setting for Flask-SQLAlchemy-Lite: PostgreSQL gets the budgeted pool, SQLite stays as it is."""
    if not url.startswith("postgresql"):
        return url
    return {"url": url, "pool_size": pool_size, "max_overflow": max_overflow}


def engine_url(setting: str | dict[str, Any]) -> str:
    """The database URL inside an SQLALCHEMY_ENGINES entry (a URL, or a dict with "url")."""
    return setting if isinstance(setting, str) else str(setting["url"])


class Config:
    """Settings shared by every environment. Instantiate to read the environment."""

    ENV_NAME = "development"
    TESTING = False

    def __init__(self) -> None:
        env = os.environ
        self.SECRET_KEY: str | None = env.get("SECRET_KEY") or self.default_secret_key()
        database_url = env.get("DATABASE_URL") or self.default_database_url()
        self.DATABASE_URL = normalise_database_url(database_url) if database_url else None
        self.SQLALCHEMY_ENGINES: dict[str, Any] = {"default": self.DATABASE_URL or "sqlite://"}
        self.REDIS_URL = env.get("REDIS_URL", "")
        self.RATELIMIT_STORAGE_URI = self.REDIS_URL or "memory://"
        # Stores sharing one Redis (several deployments, or the system tests) keep their counters apart.
        self.RATELIMIT_KEY_PREFIX = env.get("RATELIMIT_KEY_PREFIX", "flagship")
        # Catalog page cache (storefront/caching.py): Redis when REDIS_URL is set, in-process otherwise;
        # CACHE_TYPE=NullCache turns it off.
        self.CACHE_TYPE = env.get("CACHE_TYPE", "")
        self.CACHE_KEY_PREFIX = env.get("CACHE_KEY_PREFIX", "flagship:catalog:")
        # gzip text answers in the app (level 1) when no proxy in front compresses them (README "Speed").
        self.COMPRESS_RESPONSES = _env_bool("COMPRESS_RESPONSES", False)
        # Model page views are written in batches, at most this many seconds apart per worker (0: one per view).
        self.VIEW_BATCH_SECONDS = float(env.get("VIEW_BATCH_SECONDS") or 2)
        # How stale a stock figure on a catalog page may be (seconds; 0 = always live). Reserving always checks live.
        self.STOCK_STALENESS_SECONDS = _env_int("STOCK_STALENESS_SECONDS", 5)
        # Catalog pages put lapsed holds back on sale at most this often per worker (cron does it every minute).
        self.HOLD_RELEASE_INTERVAL_SECONDS = _env_int("HOLD_RELEASE_INTERVAL_SECONDS", 5)
        self.RATELIMIT_HEADERS_ENABLED = True
        # Redis down: fail open to per-process in-memory limits (logged), back to Redis once it answers; never a 5xx.
        self.RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
        self.RATELIMIT_SWALLOW_ERRORS = True
        self.RATELIMIT_STORAGE_OPTIONS = {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}
        self.RATELIMIT_ENABLED = _env_bool("RATELIMIT_ENABLED", True)
        self.WTF_CSRF_ENABLED = True
        self.WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session
        self.MAX_CONTENT_LENGTH = 5 * 1024 * 1024
        self.SESSION_COOKIE_HTTPONLY = True
        self.SESSION_COOKIE_SAMESITE = "Lax"
        self.SESSION_COOKIE_SECURE = _env_bool("SESSION_COOKIE_SECURE", self.ENV_NAME == "production")
        self.REMEMBER_COOKIE_HTTPONLY = True
        self.REMEMBER_COOKIE_SAMESITE = "Lax"
        self.REMEMBER_COOKIE_SECURE = self.SESSION_COOKIE_SECURE
        self.BABEL_DEFAULT_LOCALE = "zh_Hans_CN"
        self.BABEL_DEFAULT_TIMEZONE = "Asia/Shanghai"
        self.SUPPORTED_LOCALES = ("zh_Hans_CN", "en")
        self.STORE_TIMEZONE = "Asia/Shanghai"
        self.DEMO_MODE = _env_bool("DEMO_MODE", False)
        # Presenter access code: when set, /demo/ shows nothing and one-click sign-in works only after it has been
        # typed (compared in constant time). Production refuses DEMO_MODE without one (see ProductionConfig).
        self.DEMO_ACCESS_CODE = env.get("DEMO_ACCESS_CODE", "")
        # The demo payment provider (pay without money) has its own switch: on by default outside production,
        # off in production unless DEMO_PAYMENTS=1. A demo payment is paid only while the switch is on.
        self.DEMO_PAYMENTS = _env_bool("DEMO_PAYMENTS", self.ENV_NAME != "production")
        # Strict-Transport-Security on every response (production: the store is only ever served over https).
        self.HSTS_SECONDS = _env_int("HSTS_SECONDS", 31_536_000 if self.ENV_NAME == "production" else 0)
        self.PAGE_SIZE = _env_int("PAGE_SIZE", 12)
        self.LOG_LEVEL = env.get("LOG_LEVEL", "INFO")
        self.LOG_FORMAT = env.get("LOG_FORMAT", "text")  # "json" for one JSON object per line
        # Payments: Stripe when keys are set, the demo provider otherwise.
        self.STRIPE_SECRET_KEY = env.get("STRIPE_SECRET_KEY", "")
        self.STRIPE_WEBHOOK_SECRET = env.get("STRIPE_WEBHOOK_SECRET", "")
        self.STRIPE_API_BASE = env.get("STRIPE_API_BASE", "")  # empty = Stripe's real API
        # Checkout payment methods, comma-separated; list only those the Stripe account has enabled for CNY.
        self.STRIPE_PAYMENT_METHODS = env.get("STRIPE_PAYMENT_METHODS", "card,alipay,wechat_pay")
        self.RESERVATION_HOLD_MINUTES = _env_int("RESERVATION_HOLD_MINUTES", 30)
        # Launch-day waiting room (storefront/presale/waiting_room.py). An order press that waited longer than
        # PRESALE_QUEUE_SECONDS for a worker (X-Request-Start, stamped by the proxy) opens a line; until it has
        # drained, shoppers are let in in first-press order, PRESALE_ADMIT_PER_SECOND a second across all hosts
        # (what the order pool sustains; 0 = no waiting room), a press up to PRESALE_ADMIT_BURST_SECONDS early
        # counting as on time. The others get an instant "you are in the queue" page that presses again at
        # their turn.
        self.PRESALE_QUEUE_SECONDS = float(env.get("PRESALE_QUEUE_SECONDS") or 1.0)
        self.PRESALE_ADMIT_PER_SECOND = float(env.get("PRESALE_ADMIT_PER_SECOND") or 150)
        self.PRESALE_ADMIT_BURST_SECONDS = float(env.get("PRESALE_ADMIT_BURST_SECONDS") or 0.25)
        # Mail: stored in the outbox, sent to the log unless MAIL_SERVER is set.
        self.MAIL_SERVER = env.get("MAIL_SERVER", "")
        self.MAIL_PORT = _env_int("MAIL_PORT", 587)
        self.MAIL_USERNAME = env.get("MAIL_USERNAME", "")
        self.MAIL_PASSWORD = env.get("MAIL_PASSWORD", "")
        self.MAIL_USE_TLS = _env_bool("MAIL_USE_TLS", True)
        self.MAIL_DEFAULT_SENDER = env.get("MAIL_DEFAULT_SENDER", "Flagship <noreply@flagship.example>")
        # Development: also send queued mail right after the request (cron runs `flask outbox send` elsewhere).
        self.MAIL_SEND_INLINE = _env_bool("MAIL_SEND_INLINE", self.ENV_NAME == "development")
        # Where mailed links and QR codes point. Empty: the address the request came to (so `make run` on any
        # PORT works); set it in production so mailed links never depend on a request's Host header.
        self.PUBLIC_BASE_URL = env.get("PUBLIC_BASE_URL", "")
        # How many reverse proxies in front of the app set X-Forwarded-For/-Proto/-Host. 0 (the default) trusts
        # none: the headers are ignored, so a client cannot pick its own address to dodge the rate limits.
        self.TRUSTED_PROXY_COUNT = _env_int("TRUSTED_PROXY_COUNT", 0)
        # API: origins (comma-separated, or "*") whose browser pages may call /api; empty = no CORS headers at all.
        self.API_CORS_ORIGINS = env.get("API_CORS_ORIGINS", "")
        self._read_connection_budget()

    def _read_connection_budget(self) -> None:
        """Connection budget (see the block at the top): pool per worker, workers per host, hosts, server limit."""
        self.DB_POOL_SIZE = _env_int("DB_POOL_SIZE", 2)  # a sync worker serves one request at a time
        self.DB_MAX_OVERFLOW = _env_int("DB_MAX_OVERFLOW", 1)  # the page-view write after the response
        self.WEB_WORKERS = default_web_workers()
        # The presale order pool's workers per host (flagship-orders.service; 0 = no order pool).
        self.ORDER_WORKERS = _env_int("ORDER_WORKERS", 0)
        self.APP_HOSTS = _env_int("APP_HOSTS", 1)
        self.DB_MAX_CONNECTIONS = _env_int("DB_MAX_CONNECTIONS", 100)  # PostgreSQL's max_connections
        # superuser_reserved_connections (3), periodic jobs on every host, migrations, an operator's psql.
        self.DB_RESERVED_CONNECTIONS = _env_int("DB_RESERVED_CONNECTIONS", 10)

    def connections_needed(self) -> int:
        return connections_needed(hosts=self.APP_HOSTS, workers=self.WEB_WORKERS + self.ORDER_WORKERS,
                                  pool_size=self.DB_POOL_SIZE,
                                  max_overflow=self.DB_MAX_OVERFLOW, reserved=self.DB_RESERVED_CONNECTIONS)

    def check_connection_budget(self) -> None:
        """Refuse to start when every worker of every host filling its pool would exceed max_connections."""
        needed = self.connections_needed()
        if needed > self.DB_MAX_CONNECTIONS:
            raise RuntimeError(
                f"connection budget exceeded: {self.APP_HOSTS} host(s) x ({self.WEB_WORKERS} web + "
                f"{self.ORDER_WORKERS} order worker(s)) x "
                f"({self.DB_POOL_SIZE} pool + {self.DB_MAX_OVERFLOW} overflow) + {self.DB_RESERVED_CONNECTIONS} "
                f"reserved = {needed} > DB_MAX_CONNECTIONS {self.DB_MAX_CONNECTIONS}; lower WEB_WORKERS, "
                "ORDER_WORKERS or DB_POOL_SIZE, or put PgBouncer in front (docs/deploy.md)"
            )

    def default_secret_key(self) -> str | None:
        return "dev-only-not-secret"

    def default_database_url(self) -> str | None:
        return f"sqlite:///{BASE_DIR / 'instance' / 'flagship.db'}"

    def validate(self) -> None:
        """Refuse to start with a configuration that cannot work."""


class DevelopmentConfig(Config):
    ENV_NAME = "development"


class TestingConfig(Config):
    ENV_NAME = "testing"
    TESTING = True

    def __init__(self) -> None:
        super().__init__()
        self.WTF_CSRF_ENABLED = False
        self.RATELIMIT_ENABLED = False
        self.CACHE_TYPE = "NullCache"  # tests share one app; the caching tests turn it on for their own app
        self.HOLD_RELEASE_INTERVAL_SECONDS = 0
        self.VIEW_BATCH_SECONDS = 0.0  # each view written when its response closes, as the tests expect

    def default_database_url(self) -> str | None:
        return os.environ.get("TEST_DATABASE_URL") or "sqlite://"


class ProductionConfig(Config):
    ENV_NAME = "production"

    def __init__(self) -> None:
        super().__init__()
        # The budgeted pool (development and tests keep SQLAlchemy's defaults, which threads in tests rely on).
        self.SQLALCHEMY_ENGINES["default"] = pooled_engine(
            self.SQLALCHEMY_ENGINES["default"], pool_size=self.DB_POOL_SIZE, max_overflow=self.DB_MAX_OVERFLOW
        )

    def default_secret_key(self) -> str | None:
        return None

    def default_database_url(self) -> str | None:
        return None

    def validate(self) -> None:
        # PUBLIC_BASE_URL too: without it mailed links (password resets included) would follow the request's Host
        # header, which a client can forge.
        missing = [name for name in ("SECRET_KEY", "DATABASE_URL", "PUBLIC_BASE_URL") if not getattr(self, name)]
        if missing:
            raise RuntimeError(f"production configuration is missing: {', '.join(missing)}")
        # Demo mode hands out one-click sign-in (admin included) and a reset that erases the database: in
        # production only behind a presenter access code long enough not to be guessed under the rate limit.
        if self.DEMO_MODE and len(self.DEMO_ACCESS_CODE) < MIN_DEMO_ACCESS_CODE_LENGTH:
            raise RuntimeError(
                "production refuses DEMO_MODE without a DEMO_ACCESS_CODE of at least "
                f"{MIN_DEMO_ACCESS_CODE_LENGTH} characters"
            )
        self.check_connection_budget()


CONFIGS: dict[str, type[Config]] = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}


def load_config(name: str | None = None) -> Config:
    """The config object for `name`, or for FLASK_ENV_NAME / APP_ENV (default development)."""
    name = name or os.environ.get("APP_ENV") or "development"
    try:
        config = CONFIGS[name]()
    except KeyError:
        raise RuntimeError(f"unknown APP_ENV {name!r}; use one of {sorted(CONFIGS)}") from None
    config.validate()
    return config
