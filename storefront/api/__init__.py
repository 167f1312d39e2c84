"""JSON API v1 (documented in docs/openapi.yaml)."""
