"""HTTP authentication as the device does it: Digest MD5-sess (FW >= 1.10) or Basic (older)."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
import hashlib
import hmac
import re
import secrets
import time
from typing import Final

_PARAM_RE: Final = re.compile(r'(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')
_NC_RE: Final = re.compile(r"[0-9a-fA-F]{8}")
_MAX_SEEN: Final = 4096


def _md5(*parts: bytes) -> str:
    return hashlib.md5(b":".join(parts), usedforsecurity=False).hexdigest()


def parse_params(text: str) -> dict[str, str]:
    """Parse ``key="value", key=token`` pairs of an Authorization header."""
    return {
        m.group(1).lower(): m.group(2).replace('\\"', '"') if m.group(2) is not None else m.group(3)
        for m in _PARAM_RE.finditer(text)
    }


@dataclass
class _Nonce:
    created: float
    expired: bool = False
    seen: set[tuple[str, str]] = field(default_factory=set)


@dataclass(frozen=True)
class AuthResult:
    """How a request authenticated: ``scheme`` is what it carried; ``ok`` whether it passed."""

    scheme: str  # "none" | "digest" | "basic"
    ok: bool
    stale: bool = False


class Authenticator:
    """Checks requests against the device password and makes challenges.

    ``password`` None (or empty) means no authentication at all.
    """

    def __init__(self, *, digest: bool, nonce_lifetime: float, qop: str) -> None:
        """Start without nonces; ``digest`` False means Basic (old firmware)."""
        self.digest = digest
        self.nonce_lifetime = nonce_lifetime
        self.qop = qop
        self.opaque = secrets.token_hex(16)
        self._nonces: dict[str, _Nonce] = {}

    def reset(self) -> None:
        """Forget all nonces (a reboot) and choose a new opaque."""
        self._nonces.clear()
        self.opaque = secrets.token_hex(16)

    def expire_nonces(self) -> None:
        """Make every nonce issued so far stale."""
        for nonce in self._nonces.values():
            nonce.expired = True

    def challenge(self, realm: str, *, stale: bool = False) -> str:
        """Return the WWW-Authenticate header value."""
        if not self.digest:
            return f'Basic realm="{realm}"'
        now = time.monotonic()
        self._drop_old(now)
        nonce = secrets.token_hex(16)
        self._nonces[nonce] = _Nonce(created=now)
        header = (
            f'Digest realm="{realm}", qop="{self.qop}", algorithm=MD5-sess, '
            f'nonce="{nonce}", opaque="{self.opaque}"'
        )
        return header + (", stale=true" if stale else "")

    def _drop_old(self, now: float) -> None:
        limit = now - 4 * self.nonce_lifetime
        if len(self._nonces) > 64:
            for key in [k for k, n in self._nonces.items() if n.created < limit or n.expired]:
                del self._nonces[key]

    def check(
        self,
        header: str | None,
        *,
        password: str,
        realm: str,
        method: str,
        uri: str,
        body: bytes,
    ) -> AuthResult:
        """Check an Authorization header for a protected device."""
        if not header:
            return AuthResult("none", ok=False)
        scheme, _, rest = header.partition(" ")
        scheme = scheme.lower()
        if scheme == "basic":
            return AuthResult("basic", ok=not self.digest and _basic_ok(rest, password))
        if scheme != "digest":
            return AuthResult("none", ok=False)  # the log knows none/digest/basic only
        if not self.digest:
            return AuthResult("digest", ok=False)
        return self._check_digest(
            parse_params(rest), password=password, realm=realm, method=method, uri=uri, body=body
        )

    def _check_digest(
        self,
        params: dict[str, str],
        *,
        password: str,
        realm: str,
        method: str,
        uri: str,
        body: bytes,
    ) -> AuthResult:
        fail = AuthResult("digest", ok=False)
        nonce = params.get("nonce", "")
        cnonce = params.get("cnonce", "")
        nc = params.get("nc", "")
        qop = params.get("qop", "")
        if (
            params.get("username") != ""
            or params.get("realm") != realm
            or params.get("uri") != uri
            or params.get("opaque") != self.opaque
            or params.get("algorithm", "MD5").upper() != "MD5-SESS"
            or qop not in {q.strip() for q in self.qop.split(",")}
            or not cnonce
            or not _NC_RE.fullmatch(nc)
            or not nonce
        ):
            return fail
        ha1 = _md5(
            _md5(b"", realm.encode(), password.encode()).encode(), nonce.encode(), cnonce.encode()
        )
        if qop == "auth-int":
            ha2 = _md5(method.encode(), uri.encode(), _md5(body).encode())
        else:
            ha2 = _md5(method.encode(), uri.encode())
        expected = _md5(
            ha1.encode(), nonce.encode(), nc.encode(), cnonce.encode(), qop.encode(), ha2.encode()
        )
        if not hmac.compare_digest(expected, params.get("response", "").lower()):
            return fail
        state = self._nonces.get(nonce)
        if state is None or state.expired or time.monotonic() - state.created > self.nonce_lifetime:
            # Right password, but a nonce this device no longer honours.
            return AuthResult("digest", ok=False, stale=True)
        use = (cnonce, nc.lower())
        if use in state.seen:
            return fail  # a replay
        if len(state.seen) >= _MAX_SEEN:
            return AuthResult("digest", ok=False, stale=True)  # nonce used up: get a new one
        state.seen.add(use)
        return AuthResult("digest", ok=True)


def _basic_ok(token: str, password: str) -> bool:
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode()
    except binascii.Error, UnicodeDecodeError:
        return False
    user, sep, given = decoded.partition(":")
    return bool(sep) and user == "" and hmac.compare_digest(given.encode(), password.encode())
