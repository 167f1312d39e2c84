"""The mail outbox: log and SMTP delivery, retries with backoff, nothing lost, no message sent twice."""

from __future__ import annotations

import datetime as dt
import logging
import smtplib
import threading
import time

import pytest
import sqlalchemy as sa
from sqlalchemy import select
from sqlalchemy.orm import Session

import models
from models import OutboxMessage, OutboxStatus
from storefront import clock, outbox

SENDER = "Flagship <noreply@flagship.example>"


def _message(db, to="li.na@example.com", **values) -> OutboxMessage:
    message = OutboxMessage(
        to_address=to, subject=values.pop("subject", "测试 subject"), body_text=values.pop("body_text", "纯文本正文"),
        body_html=values.pop("body_html", "<p>HTML 正文</p>"), kind="test", **values,
    )
    db.add(message)
    db.flush()
    return message


class FakeSMTP:
    """Stands in for smtplib.SMTP: records what a real server would have received; no network."""

    instances: list[FakeSMTP] = []
    refuse: set[str] = set()  # recipients whose delivery fails with a temporary error

    def __init__(self, host, port, timeout=None):
        self.host, self.port, self.timeout = host, port, timeout
        self.calls: list[str] = []
        self.sent: list = []
        FakeSMTP.instances.append(self)

    def starttls(self):
        self.calls.append("starttls")

    def login(self, username, password):
        self.calls.append(f"login:{username}:{password}")

    def send_message(self, email):
        if email["To"] in FakeSMTP.refuse:
            raise smtplib.SMTPRecipientsRefused({email["To"]: (450, b"mailbox busy")})
        self.sent.append(email)

    def quit(self):
        self.calls.append("quit")

    def close(self):
        self.calls.append("close")


class Captured(logging.Handler):
    def __init__(self):
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(record.getMessage())


@pytest.fixture
def mail_log():
    """What went to the "storefront.mail" logger (attached directly: the "storefront" logger does not propagate)."""
    handler, logger = Captured(), logging.getLogger("storefront.mail")
    logger.addHandler(handler)
    yield handler.lines
    logger.removeHandler(handler)


@pytest.fixture
def fake_smtp(monkeypatch):
    FakeSMTP.instances, FakeSMTP.refuse = [], set()
    monkeypatch.setattr(smtplib, "SMTP", FakeSMTP)
    return FakeSMTP


def _smtp_transport():
    return outbox.transport_for({"MAIL_SERVER": "smtp.example.com", "MAIL_PORT": 587, "MAIL_USERNAME": "store",
                                 "MAIL_PASSWORD": "secret", "MAIL_USE_TLS": True})


class Broken:
    """A transport whose server is down."""

    def __init__(self):
        self.closed = 0

    def send(self, email):
        raise smtplib.SMTPServerDisconnected("connection unexpectedly closed")

    def close(self):
        self.closed += 1


# --- the log transport (development) --------------------------------------------------------------------------------


def test_without_mail_server_messages_go_to_the_log(db, mail_log):
    message = _message(db, attachments=[{"filename": "test-drive.ics", "content_type": "text/calendar",
                                         "content": "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n"}])
    transport = outbox.transport_for({"MAIL_SERVER": ""})
    assert isinstance(transport, outbox.LogTransport)
    report = outbox.send_pending(db, transport=transport, sender=SENDER)
    assert (report.sent, report.retrying, report.failed) == (1, 0, 0)
    (text,) = mail_log
    assert "li.na@example.com" in text and "测试 subject" in text and "纯文本正文" in text and "test-drive.ics" in text
    assert message.status is OutboxStatus.SENT and message.sent_at is not None and message.attempts == 1


def test_only_due_pending_messages_are_sent(db):
    due = _message(db)
    later = _message(db, next_attempt_at=clock.now() + dt.timedelta(minutes=5))
    done = _message(db, status=OutboxStatus.SENT)
    gave_up = _message(db, status=OutboxStatus.FAILED, attempts=8)
    outbox.send_pending(db, transport=outbox.LogTransport(), sender=SENDER)
    assert (due.status, later.status, done.attempts, gave_up.status) == (
        OutboxStatus.SENT, OutboxStatus.PENDING, 0, OutboxStatus.FAILED)


# --- SMTP -----------------------------------------------------------------------------------------------------------


def test_smtp_sends_text_html_and_attachments_over_starttls(db, fake_smtp):
    _message(db, attachments=[{"filename": "test-drive.ics", "content_type": "text/calendar",
                               "content": "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n"}])
    _message(db, to="wang@example.com")
    report = outbox.send_pending(db, transport=_smtp_transport(), sender=SENDER)
    assert report.sent == 2
    (server,) = fake_smtp.instances  # one connection for the whole run
    assert (server.host, server.port, server.timeout) == ("smtp.example.com", 587, outbox.SMTP_TIMEOUT_SECONDS)
    assert server.calls == ["starttls", "login:store:secret", "quit"]
    first = server.sent[0]
    assert first["From"] == SENDER and first["To"] == "li.na@example.com" and first["Subject"] == "测试 subject"
    assert first["Message-ID"].endswith("@flagship.example>")
    assert first.get_content_type() == "multipart/mixed"
    assert first.get_body(("plain",)).get_content().strip() == "纯文本正文"
    assert first.get_body(("html",)).get_content().strip() == "<p>HTML 正文</p>"
    (attachment,) = list(first.iter_attachments())
    assert attachment.get_filename() == "test-drive.ics" and attachment.get_content_type() == "text/calendar"
    assert server.sent[1].get_content_type() == "multipart/alternative"


def test_smtp_without_tls_or_login(db, fake_smtp):
    _message(db)
    transport = outbox.transport_for({"MAIL_SERVER": "localhost", "MAIL_PORT": 25, "MAIL_USE_TLS": False})
    outbox.send_pending(db, transport=transport, sender=SENDER)
    assert fake_smtp.instances[0].calls == ["quit"]


def test_one_refused_message_does_not_hold_up_the_others(db, fake_smtp):
    fake_smtp.refuse = {"busy@example.com"}
    first, busy, last = _message(db, to="a@example.com"), _message(db, to="busy@example.com"), _message(db)
    report = outbox.send_pending(db, transport=_smtp_transport(), sender=SENDER)
    assert (report.sent, report.retrying) == (2, 1)
    assert (first.status, busy.status, last.status) == (OutboxStatus.SENT, OutboxStatus.PENDING, OutboxStatus.SENT)
    assert "SMTPRecipientsRefused" in busy.last_error and busy.attempts == 1
    assert len(fake_smtp.instances) == 2  # a fresh connection after the failure


def test_unreachable_smtp_server_is_retried_later(db, monkeypatch):
    def refuse_connection(*_args, **_kwargs):
        raise ConnectionRefusedError(111, "Connection refused")

    monkeypatch.setattr(smtplib, "SMTP", refuse_connection)
    message = _message(db)
    report = outbox.send_pending(db, transport=_smtp_transport(), sender=SENDER)
    assert report.retrying == 1 and message.status is OutboxStatus.PENDING
    assert "ConnectionRefusedError" in message.last_error


# --- retries: backoff, give up, never lost --------------------------------------------------------------------------


def test_backoff_doubles_up_to_a_ceiling():
    minutes = [outbox.retry_delay(n).total_seconds() / 60 for n in range(1, 12)]
    assert minutes == [1, 2, 4, 8, 16, 32, 64, 128, 256, 360, 360]


def test_failures_back_off_then_give_up_but_the_message_stays(db):
    message = _message(db)
    transport = Broken()
    waits = []
    for attempt in range(1, outbox.MAX_ATTEMPTS + 1):
        before = clock.now()
        report = outbox.send_pending(db, transport=transport, sender=SENDER)
        assert message.attempts == attempt
        if attempt < outbox.MAX_ATTEMPTS:
            assert report.retrying == 1 and message.status is OutboxStatus.PENDING
            waits.append(round((message.next_attempt_at - before).total_seconds() / 60))
            # not due yet: a run now sends nothing
            assert outbox.send_pending(db, transport=transport, sender=SENDER).retrying == 0
            message.next_attempt_at = clock.now() - dt.timedelta(seconds=1)  # time passes
            db.flush()
        else:
            assert report.failed == 1
    assert waits == [1, 2, 4, 8, 16, 32, 64]
    assert message.status is OutboxStatus.FAILED and "SMTPServerDisconnected" in message.last_error
    assert db.get(OutboxMessage, message.id) is not None  # never deleted
    assert transport.closed == outbox.MAX_ATTEMPTS * 2 - 1  # every run closes its transport


def test_requeue_gives_failed_messages_another_go(app, db):
    message = _message(db, status=OutboxStatus.FAILED, attempts=8, last_error="SMTPServerDisconnected")
    result = app.test_cli_runner().invoke(args=["outbox", "requeue"])
    assert result.exit_code == 0 and "requeued 1" in result.output
    assert (message.status, message.attempts) == (OutboxStatus.PENDING, 0)


def test_cli_send_drains_the_outbox(app, db, mail_log):
    _message(db)
    _message(db)
    result = app.test_cli_runner().invoke(args=["outbox", "send"])
    assert result.exit_code == 0 and "sent 2, retrying later 0, failed for good 0" in result.output
    assert len(mail_log) == 2
    assert db.scalar(select(sa.func.count()).where(OutboxMessage.status == OutboxStatus.PENDING)) == 0


def test_send_command_is_not_on_an_area_group(app):
    assert "outbox" in app.cli.commands and "send" in app.cli.commands["outbox"].commands


# --- queueing with the change that causes it ------------------------------------------------------------------------


def test_queued_mail_is_rendered_in_the_recipients_language(app, db):
    with app.test_request_context("/", headers={"Accept-Language": "en"}):
        message = outbox.queue_mail(db, to="li.na@example.com", template="accounts/welcome",
                                    subject="Welcome to the Flagship store", locale="zh_Hans_CN", name="李娜",
                                    models_url="http://x/models", profile_url="http://x/account/profile")
    db.flush()
    assert message.subject == "欢迎光临汽车旗舰店" and "李娜，您好" in message.body_text
    assert 'lang="zh-CN"' in message.body_html and "<p>" in message.body_html
    assert message.status is OutboxStatus.PENDING


def test_a_rolled_back_change_leaves_no_mail(app, db):
    with app.test_request_context("/"):
        savepoint = db.begin_nested()
        outbox.queue_mail(db, to="x@example.com", template="accounts/welcome", subject="Welcome to the Flagship store",
                          name="", models_url="u", profile_url="u")
        savepoint.rollback()
    assert db.scalar(select(sa.func.count()).select_from(OutboxMessage)) == 0


def test_public_links_use_the_public_base_url(app, monkeypatch):
    monkeypatch.setitem(app.config, "PUBLIC_BASE_URL", "https://shop.example.com/")
    with app.test_request_context("/", base_url="http://internal:8000"):
        assert outbox.public_url("accounts.reset_password", token="abc") == "https://shop.example.com/account/reset/abc"


def test_without_a_public_base_url_links_use_the_requests_host(app, monkeypatch):
    monkeypatch.setitem(app.config, "PUBLIC_BASE_URL", "")
    with app.test_request_context("/", base_url="http://127.0.0.1:5077"):
        assert outbox.public_url("accounts.reset_password", token="abc") == "http://127.0.0.1:5077/account/reset/abc"
    with app.app_context():  # a cron job outside any request
        assert outbox.public_url("accounts.reset_password", token="abc") == "http://localhost/account/reset/abc"


def test_inline_sending_after_the_response_in_development(make_test_app, db, mail_log):
    dev = make_test_app(MAIL_SEND_INLINE=True)
    assert outbox.send_inline_enabled(dev) and not outbox.send_inline_enabled(make_test_app())
    response = dev.test_client().post("/account/register", buffered=True, data={
        "email": "inline@example.com", "password": "lantern orchard velvet", "confirm": "lantern orchard velvet"})
    assert response.status_code == 302
    assert any("inline@example.com" in line for line in mail_log)
    (message,) = db.scalars(select(OutboxMessage).where(OutboxMessage.to_address == "inline@example.com"))
    assert message.status is OutboxStatus.SENT


# --- two senders at once (PostgreSQL row locks) ---------------------------------------------------------------------


@pytest.mark.postgres
def test_two_senders_never_send_one_message_twice(database_url, is_postgres, app):
    if not is_postgres:
        pytest.skip("needs PostgreSQL row locks (FOR UPDATE SKIP LOCKED)")
    engine = sa.create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1), pool_size=4)
    marker = f"race-{time.monotonic_ns()}"
    with Session(engine) as session:
        session.add_all([OutboxMessage(to_address=f"{n}@example.com", subject=marker, body_text="t", body_html="h",
                                       kind=marker) for n in range(30)])
        session.commit()
    delivered: list[str] = []
    lock = threading.Lock()

    class SlowTransport:
        def send(self, email):
            time.sleep(0.005)  # hold the row lock for a moment, like a real SMTP exchange
            with lock:
                delivered.append(email["To"])

        def close(self):
            pass

    def sender():
        with Session(engine) as session:
            outbox.send_pending(session, transport=SlowTransport(), sender=SENDER)

    try:
        threads = [threading.Thread(target=sender) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(delivered) == sorted(f"{n}@example.com" for n in range(30))  # each exactly once
        with Session(engine) as session:
            statuses = session.scalars(select(OutboxMessage.status).where(OutboxMessage.kind == marker)).all()
            assert set(statuses) == {OutboxStatus.SENT}
    finally:
        with engine.begin() as conn:
            conn.execute(sa.delete(OutboxMessage).where(OutboxMessage.kind == marker))
        engine.dispose()


def test_models_export_outbox():
    assert models.OutboxMessage is OutboxMessage


# --- a mail server that accepts connections and never answers (issue 11 row 12) -------------------------------------


@pytest.fixture
def silent_smtp():
    from tests.servers import SilentSMTPServer

    server = SilentSMTPServer()
    yield server
    server.close()


def test_a_silent_mail_server_stops_the_run_after_one_timeout(app, db, monkeypatch, silent_smtp):
    """The cron run ends within its interval: one connection timeout, then the rest waits for the next run."""
    monkeypatch.setattr(outbox, "SMTP_TIMEOUT_SECONDS", 1)  # 30 s in production; the behaviour is the same
    for key, value in {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": silent_smtp.port, "MAIL_USE_TLS": False}.items():
        monkeypatch.setitem(app.config, key, value)
    messages = [_message(db, to=f"n{n}@example.com") for n in range(4)]
    started = time.monotonic()
    result = app.test_cli_runner().invoke(args=["outbox", "send"])
    elapsed = time.monotonic() - started
    assert result.exit_code == 0, result.output
    assert "stopped early: mail server unavailable" in result.output
    assert elapsed < 3  # one timeout, not one per message
    assert len(silent_smtp.connections) == 1
    assert [m.attempts for m in messages] == [1, 0, 0, 0]
    assert all(m.status is OutboxStatus.PENDING for m in messages)


class Slow:
    """A working transport that takes its time (a slow relay)."""

    def __init__(self, seconds):
        self.seconds, self.sent = seconds, 0

    def send(self, email):
        time.sleep(self.seconds)
        self.sent += 1

    def close(self):
        return None


def test_a_run_stops_taking_messages_at_its_deadline(db):
    messages = [_message(db, to=f"d{n}@example.com") for n in range(6)]
    transport = Slow(0.2)
    report = outbox.send_pending(db, transport=transport, sender=SENDER, deadline=time.monotonic() + 0.5)
    assert report.stopped == "out of time" and 2 <= report.sent <= 4 and transport.sent == report.sent
    assert sum(m.status is OutboxStatus.PENDING and m.attempts == 0 for m in messages) == 6 - report.sent


def test_every_wait_on_the_server_is_capped_by_the_deadline(monkeypatch, fake_smtp):
    transport = outbox.transport_for({"MAIL_SERVER": "smtp.example.com", "MAIL_USE_TLS": False},
                                     deadline=time.monotonic() + 5)
    transport._connection()
    assert fake_smtp.instances[0].timeout <= 5
