"""The business core of the OMS: pure Python, no I/O."""
