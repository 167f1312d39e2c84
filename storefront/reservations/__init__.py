"""Reservations: holding a car with a deposit until pick-up."""
