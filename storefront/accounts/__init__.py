"""Accounts: registration, sign-in, passwords and profiles."""
