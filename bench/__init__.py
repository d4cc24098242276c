"""Benchmarks (`make bench`): each figure measured side by side with its reference in
one run, as a median over repeats, written to docs/BENCHMARKS.md."""
