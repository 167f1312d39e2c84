"""Configuration classes; every setting comes from the environment, read when the app is created."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent


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
        self.RATELIMIT_HEADERS_ENABLED = True
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
        # Launch-day waiting room: an order that waited longer than this for a worker (X-Request-Start from the
        # proxy) gets an instant "you are in the queue" page that re-sends it, instead of adding to the backlog.
        self.PRESALE_QUEUE_SECONDS = float(env.get("PRESALE_QUEUE_SECONDS") or 3.0)
        # Mail: stored in the outbox, sent to the log unless MAIL_SERVER is set.
        self.MAIL_SERVER = env.get("MAIL_SERVER", "")
        self.MAIL_PORT = _env_int("MAIL_PORT", 587)
        self.MAIL_USERNAME = env.get("MAIL_USERNAME", "")
        self.MAIL_PASSWORD = env.get("MAIL_PASSWORD", "")
        self.MAIL_USE_TLS = _env_bool("MAIL_USE_TLS", True)
        self.MAIL_DEFAULT_SENDER = env.get("MAIL_DEFAULT_SENDER", "Flagship <noreply@flagship.example>")
        # Development: also send queued mail right after the request (cron runs `flask outbox send` elsewhere).
        self.MAIL_SEND_INLINE = _env_bool("MAIL_SEND_INLINE", self.ENV_NAME == "development")
        self.PUBLIC_BASE_URL = env.get("PUBLIC_BASE_URL", "http://127.0.0.1:5000")
        # How many reverse proxies in front of the app set X-Forwarded-For/-Proto/-Host. 0 (the default) trusts
        # none: the headers are ignored, so a client cannot pick its own address to dodge the rate limits.
        self.TRUSTED_PROXY_COUNT = _env_int("TRUSTED_PROXY_COUNT", 0)

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

    def default_database_url(self) -> str | None:
        return os.environ.get("TEST_DATABASE_URL") or "sqlite://"


class ProductionConfig(Config):
    ENV_NAME = "production"

    def default_secret_key(self) -> str | None:
        return None

    def default_database_url(self) -> str | None:
        return None

    def validate(self) -> None:
        missing = [name for name in ("SECRET_KEY", "DATABASE_URL") if not getattr(self, name)]
        if missing:
            raise RuntimeError(f"production configuration is missing: {', '.join(missing)}")


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
