"""Benchmarks and load drivers for the local stack; what each prints: docs/performance.md."""
