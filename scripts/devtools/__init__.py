"""Developer tooling: run a real Home Assistant with this integration (scripts/develop, tests/e2e).

Nothing here is part of the integration.  Modules:
  netns    - two network namespaces joined by a veth pair (mDNS never reaches a real NIC)
  hass     - prepare a config dir and run/stop a `hass` process
  haapi    - onboarding, tokens, websocket calls and config flows over HA's HTTP API
  prefetch - pre-install the runtime requirements HA would pip-install at start
  forward  - a tiny TCP forwarder from 127.0.0.1 into a network namespace
"""
