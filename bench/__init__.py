"""Benchmarks of cityops against the store limit and a peer (issue #6). Run ``python -m bench --help``."""
