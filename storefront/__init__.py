"""Flagship: the app factory. It only wires extensions, blueprints, handlers, CLI and template helpers."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
from typing import Any

from flask import Flask
from flask_babel import lazy_gettext as _l

from config import BASE_DIR, Config, load_config

# Every area is a package with routes.py defining `bp`; order decides nothing but readability.
AREAS = (
    "catalog",
    "accounts",
    "staff",
    "reservations",
    "presale",
    "test_drives",
    "finance",
    "payments",
    "demo",
    "api",
)


def create_app(config: Config | str | None = None, **overrides: Any) -> Flask:
    """Build the app. `config` is a Config object or its name; keyword overrides win (tests use them)."""
    app = Flask(
        __name__,
        template_folder=str(BASE_DIR / "templates"),
        static_folder=str(BASE_DIR / "static"),
        instance_path=str(BASE_DIR / "instance"),
    )
    settings = config if isinstance(config, Config) else load_config(config)
    app.config.from_object(settings)
    app.config.update(overrides)
    if "SQLALCHEMY_ENGINES" not in overrides and "DATABASE_URL" in overrides:
        app.config["SQLALCHEMY_ENGINES"] = {"default": overrides["DATABASE_URL"]}

    from storefront import logs

    logs.configure(app)
    from storefront.ids import IdConverter

    app.url_map.converters["int"] = IdConverter  # before the routes: ids are ASCII digits within range
    _init_extensions(app)
    _register_blueprints(app)

    from storefront import http_caching, templating
    from storefront.errors import register_error_handlers
    from storefront.security import init_security

    register_error_handlers(app)
    init_security(app)
    http_caching.init_app(app)
    templating.init_app(app)

    from storefront import cli

    cli.init_app(app)
    return app


def _init_extensions(app: Flask) -> None:
    from storefront import caching
    from storefront.database import configure_engine
    from storefront.extensions import babel, csrf, db, limiter, login_manager
    from storefront.i18n import select_locale, translation_directories

    db.init_app(app)
    # No async engines here: drop the extension's async teardown, which would need an event-loop-free thread
    # (asgiref refuses to run it where Playwright's loop is running, e.g. in the browser tests).
    app.teardown_appcontext_funcs[:] = [f for f in app.teardown_appcontext_funcs if not inspect.iscoroutinefunction(f)]
    with app.app_context():
        configure_engine(db.engine)
    csrf.init_app(app)
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = translation_directories(app)
    babel.init_app(app, locale_selector=select_locale)
    limiter.init_app(app)
    caching.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    login_manager.login_message_category = "info"
    login_manager.login_message = _l("Please sign in to see this page.")
    login_manager.needs_refresh_message = _l("Please sign in again to confirm it is you.")
    login_manager.localize_callback = str  # the lazy messages above, in the language of the request
    login_manager.session_protection = "strong"
    import storefront.auth  # noqa: F401  (registers the user loader)


def _register_blueprints(app: Flask) -> None:
    """Each area's public `bp`, plus its `staff_bp` (URLs under /staff, guarded by require_staff) if it has one,
    and its `api_bp` (its part of /api/v1, in the area's api.py) if it has one."""
    for area in AREAS:
        module = importlib.import_module(f"storefront.{area}.routes")
        app.register_blueprint(module.bp)
        if hasattr(module, "staff_bp"):
            app.register_blueprint(module.staff_bp)
        if importlib.util.find_spec(f"storefront.{area}.api") is not None:
            app.register_blueprint(importlib.import_module(f"storefront.{area}.api").api_bp)
    from storefront import health

    app.register_blueprint(health.bp)  # /healthz and /readyz for the proxy and the process manager
