"""Finance and leasing quotes."""
