"""Staff back office: inventory, prices, showrooms, users and the audit log."""
