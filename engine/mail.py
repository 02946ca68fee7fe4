"""Outgoing mail behind one small adapter protocol; the default writes each mail to the log."""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass
from typing import Protocol

log = logging.getLogger("engine.mail")


@dataclass(frozen=True, slots=True)
class Mail:
    to: str
    subject: str
    text: str
    link: str = ""


class MailAdapter(Protocol):
    async def send(self, mail: Mail) -> None: ...


class LogMailAdapter:
    """Keeps sent mails in memory (for tests and the README walk-through) and writes them to the log."""

    def __init__(self) -> None:
        self.sent: list[Mail] = []

    async def send(self, mail: Mail) -> None:
        self.sent.append(mail)
        log.info("mail to %s: %s\n%s", mail.to, mail.subject, mail.text)


def load_mail_adapter(spec: str) -> MailAdapter:
    """``module:Class`` (constructed without arguments), or the log adapter when empty."""
    if not spec:
        return LogMailAdapter()
    module, _, name = spec.partition(":")
    adapter: MailAdapter = getattr(importlib.import_module(module), name)()
    return adapter
