"""Are the built layers what Lambda should get? Checks of layer directories as ``infra/layer/build_layer.py``
leaves them (``python/`` plus ``mozaiks-layer-<name>.json``), each problem a sentence naming the layer and
the file. ``test_layers.py`` runs them on the build (arm64 and this machine's) and on broken copies.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

# What we hold ourselves to (the layers are unzipped into /opt, and their size is part of every cold start),
# and Lambda's hard limit for a function with all its layers, unzipped.
LAYER_LIMIT_BYTES = 60_000_000
FUNCTION_LIMIT_BYTES = 250_000_000
# Lambda's Python runtime provides these: a layer copy would only add megabytes and shadow the runtime's.
RUNTIME_PROVIDED = frozenset({"boto3", "botocore", "s3transfer"})
# The step worker's own dependencies: the route handlers' layer must not carry them.
ENGINE_ONLY = frozenset({"ag2", "openai", "tiktoken"})
UNCHECKED_HASH = 0b01  # PEP 552 flags: hash-based, source not checked


def tree_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file() and not p.is_symlink())


def manifest(layer_root: Path) -> dict[str, Any]:
    (path,) = layer_root.glob("mozaiks-layer-*.json")
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


def size_problems(name: str, layer_root: Path, limit: int = LAYER_LIMIT_BYTES) -> list[str]:
    size = tree_bytes(layer_root)
    if size > limit:
        return [f"{name}: {size / 1e6:.1f} MB unzipped, over the {limit / 1e6:.0f} MB limit"]
    return []


def bytecode_problems(name: str, python: Path) -> list[str]:
    """Every module compiled for this interpreter (Lambda's code directory is read-only): sources with an
    unchecked-hash ``.pyc`` (valid whatever timestamps the zip gives), bytecode-only modules without a source
    beside them (the source would win, and the ``.pyc`` would be dead weight)."""
    problems = []
    tag, magic = sys.implementation.cache_tag, importlib.util.MAGIC_NUMBER
    for source in python.rglob("*.py"):
        compiled = source.parent / "__pycache__" / f"{source.stem}.{tag}.pyc"
        relative = source.relative_to(python)
        if not compiled.is_file():
            problems.append(f"{name}: {relative} has no {tag} bytecode (recompiled on every cold start)")
            continue
        header = compiled.read_bytes()[:8]
        if header[:4] != magic:
            problems.append(f"{name}: {relative}: bytecode for another Python version")
        elif int.from_bytes(header[4:8], "little") != UNCHECKED_HASH:
            problems.append(f"{name}: {relative}: bytecode checked against the source (not unchecked-hash)")
    for legacy in python.rglob("*.pyc"):
        if legacy.parent.name == "__pycache__":
            continue
        relative = legacy.relative_to(python)
        if legacy.with_suffix(".py").exists():
            problems.append(f"{name}: {relative} is shadowed by its source beside it")
        elif legacy.read_bytes()[:4] != magic:
            problems.append(f"{name}: {relative}: bytecode for another Python version")
    return problems


def bytecode_only_problems(name: str, python: Path, distributions: list[str]) -> list[str]:
    """The distributions the manifest says ship bytecode only ship no source."""
    problems = []
    for dist in distributions:
        infos = [p for p in python.glob("*.dist-info") if _dist_name(p) == _normalize(dist)]
        if len(infos) != 1:
            problems.append(f"{name}: no dist-info for {dist}")
            continue
        record = (infos[0] / "RECORD").read_text().splitlines()
        sources = [r.split(",")[0] for r in record if r.split(",")[0].endswith(".py")]
        left = [s for s in sources if (python / s).exists()]
        if left:
            problems.append(f"{name}: {dist} should ship bytecode only, {len(left)} sources left: {left[:3]}")
    return problems


def elf_sections(path: Path) -> list[str] | None:
    """Section names of a 64-bit little-endian ELF file; None when the file is not one."""
    data = path.read_bytes()
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        return None
    shoff = int.from_bytes(data[0x28:0x30], "little")
    shentsize, shnum, shstrndx = (int.from_bytes(data[o : o + 2], "little") for o in (0x3A, 0x3C, 0x3E))
    if shoff == 0:
        return []
    header = shoff + shstrndx * shentsize
    names_offset = int.from_bytes(data[header + 0x18 : header + 0x20], "little")
    names = []
    for index in range(shnum):
        entry = shoff + index * shentsize
        start = names_offset + int.from_bytes(data[entry : entry + 4], "little")
        names.append(data[start : data.index(b"\0", start)].decode("ascii", "replace"))
    return names


def stripped_problems(name: str, python: Path) -> list[str]:
    """Shared objects without symbol tables or debug information (the loader needs only .dynsym)."""
    problems = []
    for path in python.rglob("*.so*"):
        sections = elf_sections(path) if path.is_file() else None
        if sections is None:
            continue
        extra = [s for s in sections if s == ".symtab" or s.startswith(".debug")]
        if extra:
            problems.append(f"{name}: {path.relative_to(python)} is not stripped: {', '.join(extra[:3])}")
    return problems


def overlap_problems(layers: Mapping[str, Path]) -> list[str]:
    """Files two layers both hold: Lambda unzips the layers into one /opt, the later one silently winning."""
    owner: dict[str, str] = {}
    problems = []
    for name, python in layers.items():
        for path in python.rglob("*"):
            if path.is_file():
                relative = str(path.relative_to(python))
                if relative in owner:
                    problems.append(f"{relative} is in both {owner[relative]} and {name}")
                owner[relative] = name
    return problems


def distribution_problems(manifests: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """What the layers hold, by their manifests: nothing the runtime provides, nothing held twice, and every
    layer resolved with the same versions of the base layer's distributions."""
    problems = []
    held: dict[str, str] = {}
    for name, found in manifests.items():
        for dist in found["distributions"]:
            if dist in RUNTIME_PROVIDED:
                problems.append(f"{name} holds {dist}, which Lambda's Python runtime provides")
            if dist in held:
                problems.append(f"{dist} is in both {held[dist]} and {name}")
            held[dist] = name
    bases = {json.dumps(m["base"], sort_keys=True) for m in manifests.values()}
    if len(bases) > 1:
        problems.append("the layers were resolved with different versions of the base layer's distributions")
    return problems


def _dist_name(info: Path) -> str:
    """``pydantic_core-2.50.5.dist-info`` -> ``pydantic-core``."""
    return _normalize(info.name.removesuffix(".dist-info").rsplit("-", 1)[0])


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()
