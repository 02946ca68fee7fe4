"""Signed, expiring file URLs: HMAC-SHA256 over the file name and the expiry, with key rotation.

A URL is handed out only inside a response for a caller who could read the object holding the file, so the
signature is the proof of that read. Expiries are rounded up to a minute so the same reader gets the same URL
for a while (browser caches and ETags keep working)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

ROUND_SECONDS = 60
_SIG_LENGTH = 43  # base64url of 32 bytes, unpadded


def derive_key(master_key: str) -> bytes:
    """The default signing key: bound to the master key, but never the master key itself."""
    return hmac.new(master_key.encode(), b"sleeplab file urls v1", hashlib.sha256).digest()


def _sign(key: bytes, name: str, expires: int) -> str:
    mac = hmac.new(key, f"{name}\n{expires}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode("ascii").rstrip("=")


@dataclass(frozen=True, slots=True)
class FileSigner:
    key: bytes
    old_keys: Sequence[bytes] = ()
    ttl: int = 3600
    clock: Callable[[], float] = field(default=time.time)

    def sign(self, name: str) -> tuple[int, str]:
        expires = -(-int(self.clock() + self.ttl) // ROUND_SECONDS) * ROUND_SECONDS
        return expires, _sign(self.key, name, expires)

    def verify(self, name: str, expires: str | None, signature: str | None) -> bool:
        if not expires or not signature or len(expires) > 12 or not expires.isdigit():
            return False
        if len(signature) != _SIG_LENGTH:
            return False
        at = int(expires)
        now = self.clock()
        if at < now or at > now + self.ttl + ROUND_SECONDS:  # a lowered TTL also shortens URLs already issued
            return False
        # Every key is tried, always, so the time taken does not say which key (if any) matched.
        matched = False
        for key in (self.key, *self.old_keys):
            matched |= hmac.compare_digest(_sign(key, name, at), signature)
        return matched
