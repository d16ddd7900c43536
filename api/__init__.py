"""The HTTP API: thin routes over the ledger, the read model and the order workflows."""
