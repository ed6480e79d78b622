"""Validation of raw hits into canonical events: small pure steps, each able to drop with a reason."""
