"""Temporal workflows (deterministic): the order lifecycle."""
