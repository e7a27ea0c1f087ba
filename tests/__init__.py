"""Tests of the whatwatt Go integration, client and emulator."""
