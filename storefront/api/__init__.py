"""The partner API: the OpenAPI document and viewer, API keys and the inventory API (see routes.py)."""
