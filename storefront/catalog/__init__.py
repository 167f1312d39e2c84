"""Catalog: the flagship hall, brand pages, model listing and detail, compare and showrooms."""
