"""Hostile input (issue 16): broken and malicious plugins, bad data, unwritable places."""
