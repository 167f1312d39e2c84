"""Signed-in sessions made without the sign-in form, for load tests of thousands of shoppers.

Signing in costs an argon2 verification (~40 ms of CPU) by design; a spike test of thousands of shoppers who
signed in long before the launch must not spend its time there. The store's session is a signed cookie, so with
the store's SECRET_KEY we write the same cookie its sign-in form would give: Flask-Login's user id with the
account's session token, fresh, and the "strong" session-protection identifier of the client's address and
User-Agent (computed by Flask-Login's own function, so the two cannot drift apart).
"""

from __future__ import annotations

import time

from flask import Flask
from flask_login.utils import _create_identifier


def signed_in_cookie(secret_key: str, *, user_id: int, session_token: str, address: str, user_agent: str) -> str:
    app = Flask("session-minter")
    app.secret_key = secret_key
    with app.test_request_context(headers={"X-Forwarded-For": address, "User-Agent": user_agent}):
        data = {
            "_user_id": f"{user_id}:{session_token}",
            "_fresh": True,
            "_id": _create_identifier(),
            "auth_at": time.time(),
        }
        serializer = app.session_interface.get_signing_serializer(app)  # type: ignore[attr-defined]
        assert serializer is not None
        return str(serializer.dumps(data))
