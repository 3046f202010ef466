"""Metrics: the Metric contract, one registry of metric kinds, and each metric's implementation."""
