"""Flagship: the app factory. It only wires extensions, blueprints, handlers, CLI and template helpers."""

from __future__ import annotations

import importlib
import inspect
from typing import Any

from flask import Flask

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
    _init_extensions(app)
    _register_blueprints(app)

    from storefront import templating
    from storefront.errors import register_error_handlers
    from storefront.security import init_security

    register_error_handlers(app)
    init_security(app)
    templating.init_app(app)

    from storefront import cli

    cli.init_app(app)
    return app


def _init_extensions(app: Flask) -> None:
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
    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    login_manager.login_message_category = "info"
    login_manager.session_protection = "strong"
    import storefront.auth  # noqa: F401  (registers the user loader)


def _register_blueprints(app: Flask) -> None:
    """Each area's public `bp`, plus its `staff_bp` (URLs under /staff, guarded by require_staff) if it has one."""
    for area in AREAS:
        module = importlib.import_module(f"storefront.{area}.routes")
        app.register_blueprint(module.bp)
        if hasattr(module, "staff_bp"):
            app.register_blueprint(module.staff_bp)
