"""The OdooInstance reconciler: snapshot -> state table -> children and status."""
