"""Seed data (JSON files and source texts) and the idempotent loader that stores it."""
