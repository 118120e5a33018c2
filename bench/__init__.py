"""Benchmarks, run by hand (`python -m bench.<name>`); results and commands in docs/."""
