"""Demo mode: the guided stakeholder tour, reset, time travel and insights."""
