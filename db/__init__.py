"""Persistence: sqlmodel tables, the engine, the inventory ledger and read models."""
