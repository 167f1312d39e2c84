"""Fixtures of the payments tests: the offline Stripe fake."""

from tests.payments.stripe_fake import english_messages, fake_stripe, webhook_secret  # noqa: F401
