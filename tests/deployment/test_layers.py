"""The built layers (infra/layer/build_layer.py through `sam build`, and the same for this machine): within
the size limits, every module compiled, shared objects stripped, no file or distribution in two layers,
nothing Lambda's runtime provides, the route handlers without AG2, and this machine's layers holding the same
versions as the deployed ones (so the deployed-shape tests run what is deployed). Each check is also shown
failing on a broken copy."""

from __future__ import annotations

import json
import py_compile
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.deployment import layer_check
from tests.deployment.lambda_runtime import REPO, Artifacts

VENV_SITE = next((REPO / ".venv" / "lib").glob("python3.*/site-packages"), None)


def resources(artifacts: Artifacts) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(artifacts.transformed.read_text())["Resources"]
    return loaded


def logical_id(ref: str) -> str:
    """A layer version's logical id in the transformed template is the template's + a 10-character hash."""
    return re.sub(r"[0-9a-f]{10}$", "", ref)


def layers_of(artifacts: Artifacts) -> dict[str, list[str]]:
    return {
        name: [logical_id(layer["Ref"]) for layer in r["Properties"].get("Layers", [])]
        for name, r in resources(artifacts).items()
        if r["Type"] == "AWS::Lambda::Function"
    }


def deployed_layers(artifacts: Artifacts) -> dict[str, Path]:
    ids = sorted(
        logical_id(k) for k, r in resources(artifacts).items() if r["Type"] == "AWS::Lambda::LayerVersion"
    )
    return {layer: artifacts.build / layer for layer in ids}


def host_layers(artifacts: Artifacts) -> dict[str, Path]:
    return {layer: artifacts.host_layers / layer for layer in deployed_layers(artifacts)}


def test_the_stack_has_a_base_and_an_engine_layer(artifacts: Artifacts) -> None:
    layers = layers_of(artifacts)
    assert layers.pop("WorkerFunction") == ["BaseLayer", "EngineLayer"]
    # The route handlers, the HTTP API and the sweeper never import AG2.
    assert set(map(tuple, layers.values())) == {("BaseLayer",)}, layers


def test_every_layer_and_every_function_within_its_size_limit(artifacts: Artifacts) -> None:
    layers = deployed_layers(artifacts)
    problems = [p for name, root in layers.items() for p in layer_check.size_problems(name, root)]
    for function, own in layers_of(artifacts).items():
        total = layer_check.tree_bytes(artifacts.task_root(function)) + sum(
            layer_check.tree_bytes(layers[layer]) for layer in own
        )
        if total > layer_check.FUNCTION_LIMIT_BYTES:
            problems.append(f"{function} with its layers: {total / 1e6:.1f} MB unzipped")
    assert problems == []


@pytest.mark.parametrize("where", ["deployed", "host"])
def test_every_module_is_compiled(artifacts: Artifacts, where: str) -> None:
    layers = deployed_layers(artifacts) if where == "deployed" else host_layers(artifacts)
    problems = []
    for name, root in layers.items():
        problems += layer_check.bytecode_problems(name, root / "python")
        found = layer_check.manifest(root)
        problems += layer_check.bytecode_only_problems(name, root / "python", found["bytecode_only"])
        # The biggest distributions ship bytecode only: that is most of the size saved.
        assert found["bytecode_only"], name
    assert problems == []


@pytest.mark.parametrize("where", ["deployed", "host"])
def test_shared_objects_are_stripped(artifacts: Artifacts, where: str) -> None:
    layers = deployed_layers(artifacts) if where == "deployed" else host_layers(artifacts)
    problems = [layer_check.stripped_problems(name, root / "python") for name, root in layers.items()]
    assert problems == [[] for _ in layers]


@pytest.mark.parametrize("where", ["deployed", "host"])
def test_the_layers_hold_different_files_and_distributions(artifacts: Artifacts, where: str) -> None:
    layers = deployed_layers(artifacts) if where == "deployed" else host_layers(artifacts)
    assert layer_check.overlap_problems({name: root / "python" for name, root in layers.items()}) == []
    manifests = {name: layer_check.manifest(root) for name, root in layers.items()}
    assert layer_check.distribution_problems(manifests) == []
    # The route handlers' layer holds none of the worker's engine.
    assert not layer_check.ENGINE_ONLY & set(manifests["BaseLayer"]["distributions"])
    assert set(manifests["EngineLayer"]["distributions"]) >= layer_check.ENGINE_ONLY


def test_this_machines_layers_hold_the_deployed_versions(artifacts: Artifacts) -> None:
    for name, root in deployed_layers(artifacts).items():
        deployed, host = layer_check.manifest(root), layer_check.manifest(host_layers(artifacts)[name])
        assert host["distributions"] == deployed["distributions"], name
        assert "aarch64" in deployed["platform"] and "aarch64" not in host["platform"]


# ---- each check fails on a broken layer ----------------------------------------------------------------


def compiled(python: Path, relative: str, source: str = "VALUE = 1\n") -> Path:
    path = python / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(source)
    py_compile.compile(str(path), invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
    return path


def test_a_module_without_bytecode_or_with_timestamped_bytecode_is_reported(tmp_path: Path) -> None:
    python = tmp_path / "python"
    compiled(python, "good/__init__.py")
    (python / "good" / "raw.py").write_text("X = 1\n")
    stamped = python / "good" / "stamped.py"
    stamped.write_text("X = 2\n")
    py_compile.compile(str(stamped), invalidation_mode=py_compile.PycInvalidationMode.TIMESTAMP)
    compiled(python, "only/__init__.py")
    tag = sys.implementation.cache_tag
    shutil.copy(python / "only" / "__pycache__" / f"__init__.{tag}.pyc", python / "only" / "__init__.pyc")
    assert sorted(layer_check.bytecode_problems("L", python)) == [
        f"L: good/raw.py has no {tag} bytecode (recompiled on every cold start)",
        "L: good/stamped.py: bytecode checked against the source (not unchecked-hash)",
        "L: only/__init__.pyc is shadowed by its source beside it",
    ]


def test_a_distribution_meant_to_ship_bytecode_only_with_sources_left(tmp_path: Path) -> None:
    python = tmp_path / "python"
    compiled(python, "pkg/__init__.py")
    info = python / "some_pkg-1.0.dist-info"
    info.mkdir()
    (info / "RECORD").write_text("pkg/__init__.py,sha256=x,9\nsome_pkg-1.0.dist-info/RECORD,,\n")
    assert layer_check.bytecode_only_problems("L", python, ["some-pkg"]) == [
        "L: some-pkg should ship bytecode only, 1 sources left: ['pkg/__init__.py']"
    ]


@pytest.mark.skipif(VENV_SITE is None, reason="no .venv to take an unstripped shared object from")
def test_an_unstripped_shared_object_is_reported(tmp_path: Path) -> None:
    # PyYAML's wheel ships its extension with debug information (so did the layer before stripping).
    assert VENV_SITE is not None
    (unstripped,) = VENV_SITE.glob("yaml/_yaml.cpython-*.so")
    python = tmp_path / "python"
    (python / "yaml").mkdir(parents=True)
    shutil.copy(unstripped, python / "yaml" / unstripped.name)
    (problem,) = layer_check.stripped_problems("L", python)
    assert problem.startswith(f"L: yaml/{unstripped.name} is not stripped: ")


def test_a_file_in_two_layers_and_a_runtime_package_are_reported(tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    compiled(one, "shared/__init__.py")
    compiled(two, "shared/__init__.py")
    problems = layer_check.overlap_problems({"One": one, "Two": two})
    assert "shared/__init__.py is in both One and Two" in problems
    manifests = {
        "One": {"distributions": {"boto3": "1.40.0", "pydantic": "2.1"}, "base": {"pydantic": "2.1"}},
        "Two": {"distributions": {"pydantic": "2.1"}, "base": {"pydantic": "2.2"}},
    }
    assert layer_check.distribution_problems(manifests) == [
        "One holds boto3, which Lambda's Python runtime provides",
        "pydantic is in both One and Two",
        "the layers were resolved with different versions of the base layer's distributions",
    ]


def test_a_layer_over_its_limit_is_reported(tmp_path: Path) -> None:
    (tmp_path / "python").mkdir()
    (tmp_path / "python" / "blob.bin").write_bytes(b"\0" * 2_000)
    assert layer_check.size_problems("L", tmp_path, limit=1_000) == [
        "L: 0.0 MB unzipped, over the 0 MB limit"
    ]
    assert layer_check.size_problems("L", tmp_path, limit=3_000) == []
