"""`SecurityHeadersMiddleware`: the browser-side defences every response carries.

    Content-Security-Policy      scripts only from this site or with this response's nonce, no
                                 inline style, no framing, no foreign form targets
                                 (answers XSS injection and clickjacking)
    X-Content-Type-Options       nosniff: a JSON or text body is never run as script
    Referrer-Policy              same-origin: URLs (and tokens in them) stay on this site
    Permissions-Policy           no camera, microphone or geolocation for any page
    X-Frame-Options              DENY, for browsers that ignore frame-ancestors
    Cross-Origin-Opener-Policy   same-origin: other windows cannot script ours
    Strict-Transport-Security    only over https (on plain http a browser ignores it anyway)

Each request gets a `CspNonce` in `scope["state"]["csp_nonce"]` before the app runs, for
templates to put on their `<script>` tags: a fresh value, made when first turned into text. A
response that never used it (a program's JSON, a redirect) gets the policy without a nonce,
which allows no inline script at all; making 128 random bits for each of those was a system
call and a GIL hand-off per API call (bench/rpc.py). A header the endpoint set itself is left
alone, so a route may tighten its own policy.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bastion.crypto.random import token_urlsafe

#: `{nonce}` is replaced by the request's nonce.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self' 'nonce-{nonce}'; style-src 'self'; "
    "img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'"
)
HSTS_TWO_YEARS = 63_072_000
NONCE_BYTES = 16  # 128 bits: a nonce an injected script cannot guess


class CspNonce:
    """The nonce of one response, made on first use (`str`); `used` tells whether it was."""

    __slots__ = ("_value",)

    def __init__(self) -> None:
        self._value: str | None = None

    def __str__(self) -> str:
        if self._value is None:
            self._value = token_urlsafe(NONCE_BYTES)
        return self._value

    def __repr__(self) -> str:
        return "CspNonce(used)" if self.used else "CspNonce(unused)"

    @property
    def used(self) -> bool:
        return self._value is not None


def _without_nonce(policy: str) -> str:
    """`policy` with its nonce source taken out (a directive left empty gets 'none')."""
    directives = []
    for directive in policy.split(";"):
        words = [w for w in directive.split() if "{nonce}" not in w]
        if len(words) == 1 and len(directive.split()) > 1:
            words.append("'none'")
        if words:
            directives.append(" ".join(words))
    return "; ".join(directives)


class SecurityHeadersMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        content_security_policy: str = CONTENT_SECURITY_POLICY,
        hsts_max_age: int = HSTS_TWO_YEARS,
    ) -> None:
        if not content_security_policy.strip():
            raise ValueError("A Content-Security-Policy is required.")
        if hsts_max_age < 0:
            raise ValueError("hsts_max_age must be zero or more seconds.")
        self.app = app
        self.csp = content_security_policy
        self.csp_without_nonce = _without_nonce(content_security_policy)
        self.headers: tuple[tuple[str, str], ...] = (
            ("x-content-type-options", "nosniff"),
            ("referrer-policy", "same-origin"),
            ("permissions-policy", "camera=(), microphone=(), geolocation=()"),
            ("x-frame-options", "DENY"),
            ("cross-origin-opener-policy", "same-origin"),
        )
        self.hsts = f"max-age={hsts_max_age}; includeSubDomains"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        nonce = CspNonce()
        scope.setdefault("state", {})["csp_nonce"] = nonce

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                csp = (
                    self.csp.replace("{nonce}", str(nonce))
                    if nonce.used
                    else self.csp_without_nonce
                )
                headers.setdefault("content-security-policy", csp)
                for name, value in self.headers:
                    headers.setdefault(name, value)
                # Read at response time: ProxyHeaders (inside us) may have set it from the proxy.
                if scope.get("scheme") == "https":
                    headers.setdefault("strict-transport-security", self.hsts)
            await send(message)

        await self.app(scope, receive, send_with_headers)
