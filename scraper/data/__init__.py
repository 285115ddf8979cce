"""Bundled data: ``seed_urls.txt`` (every real page URL we know) and ``agencies.txt``."""
