"""Home Assistant's HTTP/websocket API: onboarding, tokens and config flows (stdlib + aiohttp)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
import json
import time
from typing import Any
import urllib.error
import urllib.parse
import urllib.request

import aiohttp

DEV_USER = "dev"
DEV_PASSWORD = "whatwatt-dev-2026"  # noqa: S105 - a throwaway local dev/test account, printed


def request(
    method: str,
    url: str,
    data: Mapping[str, Any] | None = None,
    token: str | None = None,
    *,
    form: bool = False,
    timeout: float = 60.0,
) -> Any:
    """Send one HTTP request and return the decoded JSON answer (None for an empty body)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    body = None
    if data is not None:
        if form:
            body = urllib.parse.urlencode(data).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        else:
            body = json.dumps(data).encode()
            headers["Content-Type"] = "application/json"
    req = urllib.request.Request(url, data=body, method=method, headers=headers)  # noqa: S310
    with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310
        raw = resp.read()
    return json.loads(raw) if raw else None


@dataclass
class Session:
    """An authenticated client of one HA instance."""

    base: str
    access_token: str
    refresh_token: str

    def get(self, path: str) -> Any:
        """GET an API path."""
        return request("GET", self.base + path, token=self.access_token)

    def post(self, path: str, data: Mapping[str, Any] | None = None) -> Any:
        """POST JSON to an API path."""
        return request("POST", self.base + path, data or {}, self.access_token)

    def delete(self, path: str) -> Any:
        """DELETE an API path."""
        return request("DELETE", self.base + path, token=self.access_token)

    def ws(self, *commands: Mapping[str, Any]) -> list[Any]:
        """Run websocket commands in order; return their results (an error raises).

        Works from a thread that already runs an event loop too (Playwright's sync API does):
        then in a worker thread, which inherits this thread's network namespace.
        """
        coro = _ws(self.base, self.access_token, commands)
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(coro)
        with ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, coro).result()

    def entries(self, domain: str | None = None) -> list[dict[str, Any]]:
        """Return the config entries (of one domain)."""
        found: list[dict[str, Any]] = self.get("/api/config/config_entries/entry")
        return [e for e in found if domain is None or e["domain"] == domain]


async def _ws(base: str, token: str, commands: tuple[Mapping[str, Any], ...]) -> list[Any]:
    out: list[Any] = []
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(base.replace("http", "ws", 1) + "/api/websocket") as ws,
    ):
        await ws.receive_json()
        await ws.send_json({"type": "auth", "access_token": token})
        if (msg := await ws.receive_json())["type"] != "auth_ok":
            raise RuntimeError(f"websocket auth failed: {msg}")
        for i, cmd in enumerate(commands, 1):
            await ws.send_json({"id": i, **cmd})
            while (msg := await ws.receive_json()).get("id") != i or msg["type"] != "result":
                pass
            if not msg["success"]:
                raise RuntimeError(f"{cmd['type']} failed: {msg['error']}")
            out.append(msg["result"])
    return out


def onboarding_status(base: str) -> dict[str, bool]:
    """Return {step: done}; {} once onboarded (HA then no longer serves /api/onboarding)."""
    try:
        return {s["step"]: s["done"] for s in request("GET", base + "/api/onboarding")}
    except urllib.error.HTTPError as err:
        if err.code == 404:
            return {}
        raise


def _login_flow(base: str, client_id: str, user: str, password: str) -> str:
    flow = request(
        "POST",
        base + "/auth/login_flow",
        {"client_id": client_id, "handler": ["homeassistant", None], "redirect_uri": base + "/"},
    )
    res = request(
        "POST",
        f"{base}/auth/login_flow/{flow['flow_id']}",
        {"client_id": client_id, "username": user, "password": password},
    )
    if res.get("type") != "create_entry":
        raise RuntimeError(f"login as {user!r} failed: {res.get('errors') or res}")
    return str(res["result"])


def _session(base: str, client_id: str, code: str) -> Session:
    tok = request(
        "POST",
        base + "/auth/token",
        {"grant_type": "authorization_code", "code": code, "client_id": client_id},
        form=True,
    )
    return Session(base, tok["access_token"], tok["refresh_token"])


def login(base: str, user: str = DEV_USER, password: str = DEV_PASSWORD) -> Session:
    """Log in to an onboarded instance and return a Session; change nothing (unlike onboard)."""
    client_id = base + "/"
    return _session(base, client_id, _login_flow(base, client_id, user, password))


def onboard(base: str, user: str = DEV_USER, password: str = DEV_PASSWORD) -> Session:
    """Onboard a fresh instance (owner `user`), or log in to an onboarded one; return a Session.

    Also deletes the entries onboarding's core_config step creates by itself (met,
    google_translate, radio_browser, shopping_list: they need the internet), and promotes the
    "pending" HTTP config HA migrates from YAML (otherwise HA reverts it and restarts after 5 min).
    """
    client_id = base + "/"
    steps = onboarding_status(base)
    if not steps.get("user", True):
        code = request(
            "POST",
            base + "/api/onboarding/users",
            {
                "client_id": client_id,
                "name": "Developer",
                "username": user,
                "password": password,
                "language": "en",
            },
        )["auth_code"]
    else:
        code = _login_flow(base, client_id, user, password)
    s = _session(base, client_id, code)
    fresh = not steps.get("core_config", True)
    if fresh:
        s.post("/api/onboarding/core_config")
    if not steps.get("analytics", True):
        s.post("/api/onboarding/analytics")
    if not steps.get("integration", True):
        s.post("/api/onboarding/integration", {"client_id": client_id, "redirect_uri": base + "/"})
    if fresh:
        drop_onboarding_entries(s)
    promote_http_config(s)
    return s


def drop_onboarding_entries(s: Session, quiet_for: float = 3.0, limit: float = 30.0) -> None:
    """Delete entries with source "onboarding" until none appeared for `quiet_for` seconds."""
    quiet_since = time.monotonic()
    deadline = quiet_since + limit
    while time.monotonic() - quiet_since < quiet_for and time.monotonic() < deadline:
        for e in s.entries():
            if e["source"] == "onboarding":
                s.delete(f"/api/config/config_entries/entry/{e['entry_id']}")
                quiet_since = time.monotonic()
        time.sleep(0.5)


def promote_http_config(s: Session) -> None:
    """Promote HA's pending HTTP config (YAML `http:` migrated to storage) if there is one."""
    (cfg,) = s.ws({"type": "http/config"})
    if (cfg or {}).get("active_config_type") == "pending":
        s.ws({"type": "http/config/promote"})


def flow_progress(s: Session, handler: str) -> list[dict[str, Any]]:
    """Return the config flows in progress for `handler` (discovered devices, for example)."""
    (flows,) = s.ws({"type": "config_entries/flow/progress"})
    return [f for f in flows if f["handler"] == handler]


def repair_issues(s: Session, domain: str | None = None) -> list[dict[str, Any]]:
    """Return the active repair issues (of one integration), as Settings -> Repairs lists them."""
    (result,) = s.ws({"type": "repairs/list_issues"})
    return [i for i in result["issues"] if domain is None or i["domain"] == domain]


def devices(s: Session, entry_id: str | None = None) -> list[dict[str, Any]]:
    """Return the device registry's devices (of one config entry), as the device pages see them."""
    (found,) = s.ws({"type": "config/device_registry/list"})
    return [d for d in found if entry_id is None or entry_id in d["config_entries"]]


def entities(s: Session, device_id: str | None = None) -> list[dict[str, Any]]:
    """Return the entity registry's entities (of one device): entity_id, translation_key, ..."""
    (found,) = s.ws({"type": "config/entity_registry/list"})
    return [e for e in found if device_id is None or e["device_id"] == device_id]


def run_config_flow(
    s: Session,
    handler: str,
    values: Mapping[str, Any],
    *,
    flow_id: str | None = None,
    reconfigure: str | None = None,
) -> dict[str, Any]:
    """Drive a config flow to its end, answering each form with the `values` its schema names.

    New flow (user), an existing one (`flow_id`, e.g. a discovery), or the reconfigure flow of
    the entry `reconfigure`.  Returns the final answer (create_entry or abort); raises when a
    form shows errors.
    """
    if flow_id is not None:
        res = s.get(f"/api/config/config_entries/flow/{flow_id}")
    elif reconfigure is not None:
        res = s.post(
            "/api/config/config_entries/flow", {"handler": handler, "entry_id": reconfigure}
        )
    else:
        res = s.post("/api/config/config_entries/flow", {"handler": handler})
    for _ in range(6):
        if res["type"] != "form":
            return dict(res)
        if res.get("errors"):
            raise RuntimeError(f"step {res['step_id']} of {handler}: {res['errors']}")
        answer = {f["name"]: values[f["name"]] for f in res["data_schema"] if f["name"] in values}
        res = s.post(f"/api/config/config_entries/flow/{res['flow_id']}", answer)
    raise RuntimeError(f"config flow of {handler} did not end: {res}")
