"""Reviewed data files the archive reads (indicator overrides)."""
