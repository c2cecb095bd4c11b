"""moto server: look the list of moto service modules up once, not on every request.

moto's ``DomainDispatcherApplication.get_backend_for_host`` calls ``backends.list_of_moto_modules()``
for every request, and that lists moto's package directory and stats ~200 entries (about 1 ms) while
holding the dispatcher's global lock: at a 100-way fan-out every request to the endpoint queues behind
it. The package directory does not change while the server runs, so the answer is computed once.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Iterable
from typing import Any

from perflab.local.compat import CompatPatch
from perflab.local.compat.sfn_support import is_marked, mark

NAME = "server_module_list_cache"
_TARGET = "moto.backends.list_of_moto_modules"


def _needed() -> bool:
    from moto import backends

    fn = getattr(backends, "list_of_moto_modules", None)
    return fn is not None and not is_marked(fn) and inspect.isgeneratorfunction(fn)


def _apply() -> None:
    from moto import backends

    original: Any = backends.list_of_moto_modules
    if is_marked(original):
        return
    modules = tuple(original())

    @functools.wraps(original)
    def list_of_moto_modules() -> Iterable[str]:
        return modules

    backends.list_of_moto_modules = mark(list_of_moto_modules, NAME)


PATCH = CompatPatch(
    name=NAME,
    gap="the server listed moto's package directory (~1 ms) on every request, under the dispatcher's "
    "global lock",
    touches=(_TARGET, "moto.moto_server.werkzeug_app.DomainDispatcherApplication.get_backend_for_host"),
    needed=_needed,
    apply=_apply,
)
