"""Async client for the whatwatt Go local API (no Home Assistant imports)."""
