"""Authentication like ``curl --anyauth``: none until challenged, then what the device asks for.

Firmware 1.10 and later challenge with Digest (MD5-sess, qop auth, stale nonces), older
firmware with Basic; both use an empty user name.  Digest itself is aiohttp's
``DigestAuthMiddleware`` (nonce count, cnonce, ``stale=true`` retry, preemptive reuse of the
last challenge).  This middleware only picks the scheme from the challenge and remembers it,
so that after the first challenge every request carries credentials up front: one round trip
per call.
"""

from __future__ import annotations

from contextlib import suppress
from typing import Literal

import aiohttp
from aiohttp import ClientHandlerType, ClientRequest, ClientResponse, DigestAuthMiddleware, hdrs

type AuthScheme = Literal["digest", "basic"]


def offered_schemes(response: ClientResponse) -> set[str]:
    """Return the auth schemes (lower case) a 401 response challenges with."""
    return {
        value.strip().partition(" ")[0].lower()
        for value in response.headers.getall(hdrs.WWW_AUTHENTICATE, ())
    }


async def _discard(response: ClientResponse) -> None:
    """Drain and release an answer that is replaced by a retry (keeps the connection usable)."""
    with suppress(aiohttp.ClientError):
        await response.read()
    response.release()


def _releasing(handler: ClientHandlerType) -> ClientHandlerType:
    """Wrap a handler so a retry first releases the answer it replaces."""
    previous: list[ClientResponse] = []

    async def send(request: ClientRequest) -> ClientResponse:
        if previous:
            await _discard(previous.pop())
        response = await handler(request)
        previous.append(response)
        return response

    return send


class AnyAuth:
    """aiohttp client middleware: authenticate with the scheme the device challenges with.

    Without a password requests go out as they are (a 401 then reaches the caller).  One
    instance serves one device; requests through it must not overlap (the Digest nonce count
    is shared), which the client guarantees with a lock.
    """

    def __init__(self, password: str | None) -> None:
        """Remember the Web UI password (``None`` or empty: the device has none)."""
        self._digest = DigestAuthMiddleware("", password) if password else None
        self._basic = aiohttp.encode_basic_auth("", password) if password else ""
        self._scheme: AuthScheme | None = None

    @property
    def scheme(self) -> AuthScheme | None:
        """The scheme the device asked for, once it has challenged."""
        return self._scheme

    def __repr__(self) -> str:
        """Never show the credentials."""
        return f"AnyAuth(scheme={self._scheme!r})"

    async def __call__(self, request: ClientRequest, handler: ClientHandlerType) -> ClientResponse:
        """Send the request with the credentials the device wants."""
        if self._digest is None:
            return await handler(request)
        if self._scheme == "basic":
            request.headers[hdrs.AUTHORIZATION] = self._basic
            response = await handler(request)
            if response.status != 401 or "digest" not in offered_schemes(response):
                return response
            # The firmware was upgraded to Digest (1.10+): start over with its challenge.
            await _discard(response)
            del request.headers[hdrs.AUTHORIZATION]
            self._scheme = None
        response = await self._digest(request, _releasing(handler))
        if response.status == 401:
            offered = offered_schemes(response)
            if "digest" not in offered and "basic" in offered:
                await _discard(response)
                self._scheme = "basic"
                request.headers[hdrs.AUTHORIZATION] = self._basic
                return await handler(request)
        elif request.headers.get(hdrs.AUTHORIZATION, "").startswith("Digest "):
            self._scheme = "digest"
        return response
