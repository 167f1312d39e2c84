"""Payments: the only area that talks to Stripe; a demo provider stands in without keys."""
