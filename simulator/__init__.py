"""The peak simulator: rehearses a peak on the real order workflows."""
