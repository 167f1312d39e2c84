"""Text messages. No SMS gateway is wired in (China's need a signed-up sender and templates approved by the
carrier), so the one provider writes each message to the log, as mail goes to the log without MAIL_SERVER. A
gateway plugs in here: `send_sms` is the only call the store makes."""

from __future__ import annotations

import logging

log = logging.getLogger("storefront.sms")


def masked(phone: str) -> str:
    """138****8000: enough to tell numbers apart in a log, not enough to call."""
    return f"{phone[:3]}****{phone[-4:]}" if len(phone) >= 8 else "****"


def send_sms(phone: str, text: str) -> None:
    log.info("sms to=%s text=%r (log provider: no SMS gateway is configured)", masked(phone), text)
