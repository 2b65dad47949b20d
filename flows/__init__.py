"""Prefect flows, the embedded scheduler and the `duban` command line."""
