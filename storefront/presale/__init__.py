"""Launch-day presale (预售): numbered launch editions, deposits that lock, and a waitlist."""
