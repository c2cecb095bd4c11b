"""sfn_boto_client_cache: service integrations reuse one client per (region, service)."""

from __future__ import annotations

import importlib

from perflab.local.compat import sfn_boto_client_cache as patch


def test_integrations_share_one_client_per_region_and_service() -> None:
    module = importlib.import_module("moto.stepfunctions.parser.asl.utils.boto_client")
    before = module.boto_client_for
    try:
        if patch.PATCH.needed():
            patch.PATCH.apply()
        fn = module.boto_client_for
        assert fn("us-east-1", "ecs") is fn("us-east-1", "ecs")
        assert fn("us-east-1", "ecs") is not fn("us-east-1", "lambda")
        assert fn("us-east-1", "ecs") is not fn("eu-west-1", "ecs")
        for name in patch._IMPORTERS:
            assert importlib.import_module(name).boto_client_for is fn, name
    finally:
        module.boto_client_for = before
        for name in patch._IMPORTERS:
            importer = importlib.import_module(name)
            if getattr(importer, "boto_client_for", None) is not None:
                importer.boto_client_for = before


def test_without_the_patch_every_call_builds_a_new_client() -> None:
    module = importlib.import_module("moto.stepfunctions.parser.asl.utils.boto_client")
    if not patch.PATCH.needed():  # already applied in this process: look at the original
        return
    assert module.boto_client_for("us-east-1", "ecs") is not module.boto_client_for("us-east-1", "ecs")
