"""The mail outbox: queue_mail stores a message with the change that causes it; the sender delivers it after commit.

Delivery is at least once and nothing is ever deleted: `flask outbox send` (cron) drains every PENDING message
whose `next_attempt_at` has come, one transaction per message, to the log ("storefront.mail") when MAIL_SERVER is
empty and over SMTP otherwise. A failed attempt is retried with exponential backoff; after MAX_ATTEMPTS the message
becomes FAILED and stays in the table (`flask outbox requeue` puts it back). Two senders never send one message
twice: PostgreSQL locks the row (FOR UPDATE SKIP LOCKED) while it is sent, and a conditional UPDATE on the attempt
counter claims it on every database (on SQLite that also takes the write lock).

In development (MAIL_SEND_INLINE, on by default there, off elsewhere) a request that queued mail also drains the
outbox once its response has gone out, so a developer sees the mail in the console without running cron.
"""

from __future__ import annotations

import datetime as dt
import logging
import smtplib
import time
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from typing import Any, Protocol
from urllib.parse import urlsplit

import click
from flask import Flask, after_this_request, current_app, g, has_request_context, render_template, request
from flask_babel import force_locale
from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from models import OutboxMessage, OutboxStatus
from storefront import clock

mail_log = logging.getLogger("storefront.mail")
log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
FIRST_RETRY = dt.timedelta(minutes=1)
LONGEST_WAIT = dt.timedelta(hours=6)
SMTP_TIMEOUT_SECONDS = 30  # for one connect or reply; never beyond the run's deadline
RUN_SECONDS = 50  # `flask outbox send` runs every minute: it stops taking messages after this long
# The server is not there or not answering: the rest of this run would only wait for it, message after message.
# (smtplib reports a reply that timed out as SMTPServerDisconnected.)
SERVER_DOWN = (TimeoutError, ConnectionError, smtplib.SMTPConnectError, smtplib.SMTPServerDisconnected)


def queue_mail(
    session: Session,
    *,
    to: str,
    template: str,
    subject: str,
    locale: str = "zh_Hans_CN",
    attachments: list[dict[str, str]] | None = None,
    **context: object,
) -> OutboxMessage:
    """Render templates/mail/<template>.txt and .html in the shopper's language and store the message.

    `subject` is an English msgid; it is translated here with the same locale as the body.
    """
    from flask_babel import gettext

    with force_locale(locale):
        message = OutboxMessage(
            to_address=to,
            subject=gettext(subject)[:200],
            body_text=render_template(f"mail/{template}.txt", **context),
            body_html=render_template(f"mail/{template}.html", **context),
            attachments=attachments or [],
            kind=template,
        )
    session.add(message)
    _send_after_response_if_inline()
    return message


def public_base_url() -> str:
    """PUBLIC_BASE_URL, or when it is unset the address this request came to (http://localhost outside one)."""
    configured = str(current_app.config.get("PUBLIC_BASE_URL") or "").rstrip("/")
    if configured:
        return configured
    return request.host_url.rstrip("/") if has_request_context() else "http://localhost"


def public_url(endpoint: str, **values: Any) -> str:
    """An absolute link for an email or a QR code, on `public_base_url()`; works outside requests too."""
    base = urlsplit(public_base_url())
    adapter = current_app.url_map.bind(base.netloc, script_name=base.path or "/", url_scheme=base.scheme or "http")
    return adapter.build(endpoint, values, force_external=True)


def retry_delay(attempts: int) -> dt.timedelta:
    """Wait after the n-th failed attempt: 1, 2, 4, 8 ... minutes, at most LONGEST_WAIT."""
    factor: int = 2 ** min(max(attempts - 1, 0), 20)
    return min(FIRST_RETRY * factor, LONGEST_WAIT)


# --- Transports -----------------------------------------------------------------------------------------------


class Transport(Protocol):
    def send(self, email: EmailMessage) -> None: ...

    def close(self) -> None: ...


class LogTransport:
    """Development: the whole message goes to the "storefront.mail" logger instead of the network."""

    def send(self, email: EmailMessage) -> None:
        text = email.get_body(preferencelist=("plain",))
        body = text.get_content() if isinstance(text, EmailMessage) else ""
        attachments = [part.get_filename() for part in email.iter_attachments()]
        mail_log.info("mail to=%s subject=%s attachments=%s\n%s", email["To"], email["Subject"], attachments, body)

    def close(self) -> None:
        return None


class SmtpTransport:
    """One SMTP connection per drain, opened on the first message; STARTTLS before login when use_tls.

    Every wait on the server (connect, each reply) is capped by SMTP_TIMEOUT_SECONDS and by what is left until
    `deadline` (time.monotonic()), so a server that accepts and never answers cannot hold a run past it.
    """

    def __init__(self, *, host: str, port: int, username: str, password: str, use_tls: bool,
                 deadline: float | None = None) -> None:
        self.host, self.port, self.username, self.password, self.use_tls = host, port, username, password, use_tls
        self.deadline = deadline
        self._smtp: smtplib.SMTP | None = None

    def _timeout(self) -> float:
        if self.deadline is None:
            return SMTP_TIMEOUT_SECONDS
        return max(1.0, min(SMTP_TIMEOUT_SECONDS, self.deadline - time.monotonic()))

    def _connection(self) -> smtplib.SMTP:
        sock = getattr(self._smtp, "sock", None)
        if sock is not None:
            sock.settimeout(self._timeout())
        if self._smtp is None:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self._timeout())
            try:
                if self.use_tls:
                    smtp.starttls()
                if self.username:
                    smtp.login(self.username, self.password)
            except (smtplib.SMTPException, OSError):
                smtp.close()
                raise
            self._smtp = smtp
        return self._smtp

    def send(self, email: EmailMessage) -> None:
        try:
            self._connection().send_message(email)
        except SERVER_DOWN:
            self._drop()  # no polite QUIT: it would only wait for the silent server once more
            raise
        except (smtplib.SMTPException, OSError):
            self.close()  # the next message starts on a fresh connection
            raise

    def _drop(self) -> None:
        if self._smtp is not None:
            self._smtp.close()
            self._smtp = None

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (smtplib.SMTPException, OSError):
                self._smtp.close()
            self._smtp = None


def transport_for(config: dict[str, Any] | Any, *, deadline: float | None = None) -> Transport:
    """SMTP when MAIL_SERVER is set, the log otherwise; `deadline` (time.monotonic()) caps every wait on SMTP."""
    if not config.get("MAIL_SERVER"):
        return LogTransport()
    return SmtpTransport(
        host=config["MAIL_SERVER"], port=int(config.get("MAIL_PORT", 587)), username=config.get("MAIL_USERNAME", ""),
        password=config.get("MAIL_PASSWORD", ""), use_tls=bool(config.get("MAIL_USE_TLS", True)), deadline=deadline,
    )


def build_email(message: OutboxMessage, *, sender: str) -> EmailMessage:
    """Text body, HTML alternative, then attachments ({"filename", "content_type", "content"} text parts)."""
    email = EmailMessage()
    email["From"] = sender
    email["To"] = message.to_address
    email["Subject"] = message.subject
    email["Date"] = format_datetime(message.created_at)
    # An explicit domain: make_msgid would otherwise ask DNS for this host's name.
    domain = parseaddr(sender)[1].rpartition("@")[2] or "flagship.invalid"
    email["Message-ID"] = make_msgid(idstring=f"outbox-{message.id}", domain=domain)
    email.set_content(message.body_text)
    email.add_alternative(message.body_html, subtype="html")
    for attachment in message.attachments:
        maintype, _, subtype = attachment.get("content_type", "application/octet-stream").partition("/")
        content = attachment.get("content", "")
        if maintype == "text":
            email.add_attachment(content, subtype=subtype or "plain", filename=attachment.get("filename", "file.txt"))
        else:
            email.add_attachment(content.encode(), maintype=maintype, subtype=subtype or "octet-stream",
                                 filename=attachment.get("filename", "file"))
    return email


# --- The sender -----------------------------------------------------------------------------------------------


@dataclass
class SendReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    stopped: str = ""  # why the run stopped before the outbox was empty, if it did

    def __str__(self) -> str:
        text = f"sent {self.sent}, retrying later {self.retrying}, failed for good {self.failed}"
        return f"{text}; stopped early: {self.stopped}" if self.stopped else text


def send_pending(session: Session, *, transport: Transport, sender: str, limit: int = 100,
                 deadline: float | None = None) -> SendReport:
    """Send due PENDING messages, committing each one on its own; returns what happened.

    Stops taking messages at `deadline` (time.monotonic()), and at once when the mail server is down or does not
    answer (a connection timeout): the rest stay pending, untouched, for the next run.
    This is a unit of work of its own (like a CLI command), so it commits; nothing else in the request may be
    pending in `session`.
    """
    report = SendReport()
    try:
        for _ in range(limit):
            if deadline is not None and time.monotonic() >= deadline:
                report.stopped = "out of time"
                log.warning("outbox: run deadline reached; the rest waits for the next run")
                break
            message = _claim_next(session)
            if message is None:
                break
            error = _deliver(message, transport=transport, sender=sender, report=report)
            session.commit()
            if isinstance(error, SERVER_DOWN):
                report.stopped = f"mail server unavailable ({type(error).__name__})"
                log.warning("outbox: mail server unavailable (%s); the rest waits for the next run", error)
                break
    except OperationalError:
        # Typically SQLite: another sender holds the write lock. Nothing was sent twice; the next run goes on.
        session.rollback()
        log.warning("outbox: database busy or unavailable; stopping this run", exc_info=True)
    finally:
        transport.close()
    return report


def _claim_next(session: Session) -> OutboxMessage | None:
    """The oldest due message, locked (PostgreSQL) and claimed by bumping its attempt counter."""
    while True:
        now = clock.now()
        message = session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.next_attempt_at <= now)
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        ).first()
        if message is None:
            return None
        seen = message.attempts
        claimed = session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message.id, OutboxMessage.status == OutboxStatus.PENDING,
                   OutboxMessage.attempts == seen)
            .values(attempts=seen + 1)
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount == 1:  # type: ignore[attr-defined]
            session.refresh(message)
            return message
        session.rollback()  # someone else got it first; look again


def _deliver(message: OutboxMessage, *, transport: Transport, sender: str, report: SendReport) -> Exception | None:
    """Send one message and record the outcome on it; returns the error when sending failed."""
    now = clock.now()
    try:
        transport.send(build_email(message, sender=sender))
    except (smtplib.SMTPException, OSError, UnicodeError, ValueError) as error:
        message.last_error = f"{type(error).__name__}: {error}"[:500]
        if message.attempts >= MAX_ATTEMPTS:
            message.status = OutboxStatus.FAILED
            report.failed += 1
            log.error("outbox: message %s to %s failed for good after %s attempts: %s",
                      message.id, message.to_address, message.attempts, message.last_error)
        else:
            message.next_attempt_at = now + retry_delay(message.attempts)
            report.retrying += 1
            log.warning("outbox: message %s attempt %s failed, retry at %s: %s",
                        message.id, message.attempts, message.next_attempt_at.isoformat(), message.last_error)
        return error
    message.status = OutboxStatus.SENT
    message.sent_at = now
    message.last_error = ""
    report.sent += 1
    return None


def requeue_failed(session: Session) -> int:
    """Give every FAILED message a fresh set of attempts (after fixing the mail settings). Flushes only."""
    result = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.status == OutboxStatus.FAILED)
        .values(status=OutboxStatus.PENDING, attempts=0, next_attempt_at=clock.now())
        .execution_options(synchronize_session=False)
    )
    session.flush()
    return int(result.rowcount)  # type: ignore[attr-defined]


# --- Sending right after a request (development) --------------------------------------------------------------


def send_inline_enabled(app: Flask) -> bool:
    return bool(app.config.get("MAIL_SEND_INLINE", False))


def _send_after_response_if_inline() -> None:
    if not has_request_context() or g.get("_outbox_send_inline") or not send_inline_enabled(current_app):
        return
    g._outbox_send_inline = True
    app = current_app._get_current_object()  # type: ignore[attr-defined]

    @after_this_request
    def _schedule(response: Response) -> Response:
        # Runs once the response has been sent and the request's session is closed, so it never holds up
        # the page and never fights the request for SQLite's lock; a rolled-back request left nothing to send.
        response.call_on_close(lambda: drain_in_background(app))
        return response


def drain_in_background(app: Flask) -> None:
    from storefront.extensions import db

    with app.app_context():
        try:
            report = send_pending(db.session, transport=transport_for(app.config),
                                  sender=app.config["MAIL_DEFAULT_SENDER"], limit=20)
        except SQLAlchemyError:
            log.exception("outbox: sending after the request failed; `flask outbox send` will retry")
            return
        if report.sent or report.retrying or report.failed:
            log.info("outbox (inline): %s", report)


# --- CLI: flask outbox ... ------------------------------------------------------------------------------------


@click.group("outbox")
def outbox_group() -> None:
    """Outgoing mail: send what is due, requeue what failed."""


@outbox_group.command("send")
@click.option("--limit", default=500, show_default=True, help="Most messages to send in this run.")
@click.option("--max-seconds", default=RUN_SECONDS, show_default=True, type=float,
              help="Stop taking messages after this long (keep it under the cron interval).")
def send_command(limit: int, max_seconds: float) -> None:
    """Send every due message (run it from cron every minute); stops early when the mail server does not answer."""
    from storefront.extensions import db

    config = current_app.config
    deadline = time.monotonic() + max_seconds
    report = send_pending(db.session, transport=transport_for(config, deadline=deadline),
                          sender=config["MAIL_DEFAULT_SENDER"], limit=limit, deadline=deadline)
    click.echo(str(report))


@outbox_group.command("requeue")
def requeue_command() -> None:
    """Put FAILED messages back in the queue with fresh attempts."""
    from storefront.extensions import db

    count = requeue_failed(db.session)
    db.session.commit()
    click.echo(f"requeued {count} message(s)")
