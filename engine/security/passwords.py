"""Password hashing in Parse Server's bcrypt format, with constant work whether or not a user exists."""

from __future__ import annotations

import asyncio

import bcrypt

ROUNDS = 10  # Parse Server's cost; its `$2a$`/`$2b$` hashes verify here unchanged
# Compared against when the user does not exist, so a miss costs the same as a wrong password.
_DUMMY_HASH = bcrypt.hashpw(b"not-a-real-password", bcrypt.gensalt(ROUNDS))
MAX_PASSWORD_BYTES = 1024


def _encode(password: str) -> bytes:
    # bcrypt reads at most 72 bytes; longer inputs are still accepted (as Parse does) but bounded for DoS.
    return password.encode("utf-8")[:MAX_PASSWORD_BYTES]


def _hash(password: str) -> str:
    return bcrypt.hashpw(_encode(password)[:72], bcrypt.gensalt(ROUNDS)).decode("ascii")


def _verify(password: str, hashed: str | None) -> bool:
    target = hashed.encode("ascii", "replace") if hashed else _DUMMY_HASH
    if target.startswith(b"$2y$"):
        target = b"$2b$" + target[4:]
    try:
        ok = bcrypt.checkpw(_encode(password)[:72], target)
    except ValueError:
        bcrypt.checkpw(b"x", _DUMMY_HASH)
        return False
    return ok and hashed is not None


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hash, password)


async def verify_password(password: str, hashed: str | None) -> bool:
    """True when ``password`` matches; with ``hashed`` None it burns the same time and answers False."""
    return await asyncio.to_thread(_verify, password, hashed)
