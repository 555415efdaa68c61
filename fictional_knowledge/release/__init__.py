"""Versioned data releases: cut, verify and publish."""
