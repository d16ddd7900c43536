"""Temporal activities: the order workflow's I/O (ledger, carriers, notifications)."""
