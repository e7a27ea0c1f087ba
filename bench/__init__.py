"""Benchmarks of the whatwatt integration inside Home Assistant (run with scripts/bench)."""
