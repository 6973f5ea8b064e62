"""Benchmarks: figures printed and written as JSON to ``benchmarks/results/``."""
