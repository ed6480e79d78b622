"""Identity: which user an anonymous visitor is (identify, alias)."""
