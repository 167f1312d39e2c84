"""Test drives: showroom slots, self-service drives and the staff schedule."""
