"""Helper processes for cross-process tests (servers started with subprocess)."""
