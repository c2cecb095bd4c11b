"""Secrets never reach a log: a logging filter that masks them in every record a handler emits.

:func:`install` puts a :class:`RedactingFilter` on the root logger's handlers (the CLI does it right
after configuring logging), so records propagated from any library are covered too, e.g. botocore's
debug lines, which print whole request bodies (a Lambda function's environment with
``PERFLAB_DATABASE_URL`` and ``PERFLAB_API_TOKEN`` in it). It masks:

- every value :func:`register`-ed (the API token, the database password, AWS secret keys), and those
  found in the environment at install time (:data:`SECRET_ENV`, the password in
  ``PERFLAB_DATABASE_URL``);
- passwords in URLs (``scheme://user:***@host``), bearer tokens, and the values of variables whose
  name says what they are (``…TOKEN``, ``…PASSWORD``, ``…SECRET…``, ``DATABASE_URL``).

Output meant for a shell (``perflab local up`` printing ``export PERFLAB_API_TOKEN=…``) is not
logging and is left alone: a user asked for it.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Iterable
from urllib.parse import unquote, urlsplit

MASK = "***"
#: Environment variables whose values are secrets.
SECRET_ENV = ("PERFLAB_API_TOKEN", "PERFLAB_DB_PASSWORD", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
#: Shorter values are not masked (they would mask ordinary words).
MIN_SECRET_LENGTH = 6

_URL_PASSWORD = re.compile(r"(://[^/\s:@'\"]+:)[^@\s/'\"]+@")
_BEARER = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+")
_NAMED = re.compile(
    r"(?i)((?:[A-Z0-9_]*(?:TOKEN|PASSWORD|PASSWD|SECRET[A-Z0-9_]*|DATABASE_URL))['\"]?\s*[:=]\s*['\"]?)"
    r"([^'\"\s,}]+)"
)

_lock = threading.Lock()
_secrets: set[str] = set()


def register(*values: str | None) -> None:
    """Mask these values (and their URL-quoted forms) in every log record from now on."""
    with _lock:
        for value in values:
            if value and len(value) >= MIN_SECRET_LENGTH:
                _secrets.add(value)
                _secrets.add(unquote(value))


def register_url(url: str | None) -> None:
    """Mask the password in ``url`` wherever it appears (the URL itself is masked by pattern)."""
    if url:
        register(urlsplit(url).password)


def redact(text: str) -> str:
    """``text`` with every known secret and every recognisable one masked."""
    with _lock:
        known = sorted(_secrets, key=len, reverse=True)
    for secret in known:
        if secret in text:
            text = text.replace(secret, MASK)
    text = _URL_PASSWORD.sub(rf"\g<1>{MASK}@", text)
    text = _BEARER.sub(rf"\g<1>{MASK}", text)
    return _NAMED.sub(lambda m: m.group(1) + (m.group(2) if m.group(2) == MASK else MASK), text)


class RedactingFilter(logging.Filter):
    """Rewrites a record's message (and exception text) with :func:`redact`; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


_FILTER = RedactingFilter()


def install(extra: Iterable[str | None] = ()) -> RedactingFilter:
    """Register the environment's secrets and ``extra``; filter every root handler (idempotent)."""
    register(*(os.environ.get(name) for name in SECRET_ENV), *extra)
    register_url(os.environ.get("PERFLAB_DATABASE_URL"))
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(_FILTER)
    return _FILTER
