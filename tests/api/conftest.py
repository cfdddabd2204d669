"""Fixtures of the API tests: `installed_crds` lives in tests/conftest.py (shared)."""
