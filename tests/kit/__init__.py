"""The shared test kit: factories, query counters and the generic API resource test case (see README.md)."""
