"""Composition root: from `Settings` to open tenants with their registry and audit trail."""
