"""End-to-end tests: a real Home Assistant, the emulator and Chromium, in network namespaces."""
