"""The one error hierarchy of the app and the handlers that turn errors into pages or JSON."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify, make_response, render_template, request
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import HTTPException
from wtforms import Field, Form, FormField

from storefront.extensions import db

log = logging.getLogger(__name__)


class DomainError(Exception):
    """A business rule said no. `user_message` is safe to show; `field` names the form field."""

    status_code = 422
    code = "invalid"

    def __init__(self, user_message: str, *, field: str | None = None, fields: dict[str, str] | None = None):
        super().__init__(user_message)
        self.user_message = user_message
        self.field = field
        self.fields = dict(fields or {})
        if field and field not in self.fields:
            self.fields[field] = user_message


class NotFoundError(DomainError):
    status_code = 404
    code = "not_found"


class ConflictError(DomainError):
    """The request was valid but the world moved (car just reserved, slot just filled, stale edit)."""

    status_code = 409
    code = "conflict"


class PermissionDeniedError(DomainError):
    status_code = 403
    code = "forbidden"


# What the error pages say under their heading when the code that refused gave no message of its own.
HTTP_MESSAGES = {
    400: _l("The request could not be understood. Please go back and try again."),
    403: _l("Your account does not have access to this page. Sign in with another account or go back."),
    404: _l("There is nothing at this address."),
    405: _l("This page cannot be used that way. Please use the buttons on the page."),
    409: _l("Someone changed this at the same time. Reload the page and try again."),
    413: _l("The file is larger than the store accepts."),
    429: _l("You have tried this too often in a short time. Please wait a minute and try again."),
    500: _l("Something went wrong on our side. Please try again."),
}


def wants_json() -> bool:
    """API and webhook callers get JSON errors; browsers get pages."""
    path = request.path
    return path.startswith("/api/") or path.startswith("/payments/webhook") or request.is_json


def error_response(status: int, code: str, message: str, fields: dict[str, str] | None = None) -> Any:
    if wants_json():
        body: dict[str, Any] = {"error": code, "message": message}
        if fields:
            body["fields"] = fields
        return jsonify(body), status
    known = (400, 403, 404, 405, 409, 413, 422, 429, 500)
    template = f"errors/{status}.html" if status in known else "errors/generic.html"
    return render_template(template, status=status, message=message, fields=fields or {}), status


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def handle_domain_error(error: DomainError) -> Any:
        db.session.rollback()
        return error_response(error.status_code, error.code, error.user_message, error.fields)

    @app.errorhandler(HTTPException)
    def handle_http_error(error: HTTPException) -> Any:
        if error.code in (301, 302, 303, 307, 308):  # routing redirects (trailing slash)
            return error
        status = error.code or 500
        code = (error.name or "error").lower().replace(" ", "_")
        message = error.description or error.name
        limit = getattr(error, "limit", None)  # Flask-Limiter: without an error_message its text is "10 per 1 minute"
        default = message == type(error).description or (limit is not None and not limit.error_message)
        if default and status in HTTP_MESSAGES and not wants_json():
            # werkzeug's (and the limiter's) English text: say it in the page's language
            message = str(HTTP_MESSAGES[status])
        response = make_response(error_response(status, code, message))
        headers = dict(error.get_headers())
        for name in ("Allow", "Retry-After", "WWW-Authenticate"):  # e.g. a 405 must still say what is allowed
            if name in headers:
                response.headers[name] = headers[name]
        return response

    @app.errorhandler(Exception)
    def handle_unexpected(error: Exception) -> Any:
        log.exception("unhandled error on %s %s", request.method, request.path)
        db.session.rollback()
        if app.config.get("PROPAGATE_EXCEPTIONS"):
            raise error
        return error_response(500, "internal_error", "Something went wrong on our side. Please try again.")


def json_error(status: int, code: str, message: str, fields: dict[str, str] | None = None) -> tuple[Response, int]:
    """A JSON error body for API views that validate input themselves."""
    body: dict[str, Any] = {"error": code, "message": message}
    if fields:
        body["fields"] = fields
    return jsonify(body), status


def show_on_form(form: Form, error: DomainError) -> None:
    """Put a service's refusal on the form: each message next to the field it names (a sub-form's on top of that
    sub-form), a message for a field the form lacks, or one naming no field, on top of the form."""
    for name, message in error.fields.items():
        target = getattr(form, name, None)
        if isinstance(target, FormField):  # e.g. one weekday of the opening hours
            target.form.form_errors.append(message)
        elif isinstance(target, Field):
            target.errors = [*target.errors, message]
        else:
            form.form_errors.append(message)
    if not error.fields:
        form.form_errors.append(error.user_message)
