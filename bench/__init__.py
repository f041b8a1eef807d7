"""Benchmarks: figures printed, never asserted (these machines are shared and noisy)."""
