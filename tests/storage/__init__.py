"""Storage adapter tests (a package, so module names cannot clash with other tests)."""
