"""Metrics and plots from result directories."""
