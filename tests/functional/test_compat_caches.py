"""The caching compat patches answer exactly what moto would, from a cache."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from typing import Any

import pytest

from perflab.local.compat import server_module_list_cache, sfn_jsonpath_cache


@pytest.fixture
def restore_jsonpath() -> Iterator[None]:
    modules: list[Any] = [importlib.import_module(m) for m in sfn_jsonpath_cache._MODULES]
    saved = [m.parse for m in modules]
    yield
    for module, parse in zip(modules, saved, strict=True):
        module.parse = parse


def test_jsonpath_is_compiled_once_and_finds_the_same(restore_jsonpath: None) -> None:
    json_path: Any = importlib.import_module(sfn_jsonpath_cache._MODULES[0])
    assert json_path.parse("$.a.b") is not json_path.parse("$.a.b")  # the gap: a new parser each time
    expected = json_path.extract_json("$.a.b", {"a": {"b": [1, 2]}})
    assert sfn_jsonpath_cache.PATCH.needed()
    sfn_jsonpath_cache.PATCH.apply()
    assert json_path.parse("$.a.b") is json_path.parse("$.a.b")
    assert json_path.extract_json("$.a.b", {"a": {"b": [1, 2]}}) == expected == [1, 2]
    assert json_path.extract_json("$.a.b", {"a": {"b": 7}}) == 7
    assert not sfn_jsonpath_cache.PATCH.needed()


def test_module_list_is_computed_once() -> None:
    from moto import backends

    original: Any = backends.list_of_moto_modules
    assert server_module_list_cache.PATCH.needed()
    expected = list(original())
    try:
        server_module_list_cache.PATCH.apply()
        assert list(backends.list_of_moto_modules()) == expected
        assert "stepfunctions" in backends.list_of_moto_modules()
        assert backends.list_of_moto_modules() is backends.list_of_moto_modules()
    finally:
        backends.list_of_moto_modules = original
