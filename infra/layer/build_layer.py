"""Build one Lambda layer of the runtime's third-party packages.

Two layers: ``base`` (every function: FastAPI, pymongo, pydantic, PyJWT, Powertools ...) and ``engine`` (the
step worker only: AG2, the OpenAI SDK, tiktoken). The route handlers never import AG2, so they do not carry
it; the worker gets both layers.

``sam build`` runs this through infra/layer/Makefile (BuildMethod: makefile) for arm64, and .ci/sam-check runs
the same Makefile targets again for the host's architecture (the deployed-shape tests run that copy), so both
get exactly the same treatment:

1. Install the wheels for the target platform (``pip install --target``). The engine layer is resolved
   against the base layer's exact versions (a constraints file) and keeps only the distributions the base
   layer lacks: the worker never holds two copies of a package, nor two versions.
2. Slim: drop test suites, type stubs and C/Cython sources; strip the shared objects' symbol tables and
   debug information (several wheels ship them unstripped).
3. Compile every module: the Lambda code directory is read-only, so a module without bytecode is compiled
   again on every cold start. The largest distributions (``SOURCELESS``) ship bytecode only (a legacy
   ``module.pyc`` where ``module.py`` was); the others keep their source beside an unchecked-hash ``.pyc``
   (valid whatever timestamps the zip gives the sources). Hash-based bytecode also keeps the layer's bytes
   the same from one build to the next.
4. Write ``mozaiks-layer-<name>.json`` at the layer's root (``/opt`` on Lambda): the distributions the layer
   holds and the base versions it was resolved with, which .ci/sam-check compares between the two layers.

Run: ``python3.13 build_layer.py base|engine --platform manylinux2014_aarch64 --artifacts DIR``; with
``--constraints FILE`` (pip's format), every distribution resolves to the version the file pins: .ci/sam-check
builds the host's layers with the arm64 layers' exact versions, so the tests run what is deployed.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import platform
import py_compile
import re
import shutil
import struct
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
PYTHON_VERSION = "3.13"
REQUIREMENTS = {"base": HERE / "requirements-base.txt", "engine": HERE / "requirements-engine.txt"}
# Where a layer's python/ directory is mounted on Lambda: tracebacks through bytecode-only modules name it.
LAMBDA_LAYER_PATH = "/opt/python"

# Distributions shipped as bytecode only: the biggest ones, whose sources would double their size. Each was
# checked for reading its own source at run time (see REVIEWED_SOURCE_READS). anyio is the counter-example
# that stays out: it parses its own __init__ with inspect.getsource to build its lazy imports.
SOURCELESS = {
    "ag2": "5.3 MB of sources",
    "openai": "6.2 MB of sources",
    "pymongo": "2.6 MB of sources (pymongo, bson, gridfs)",
    "pydantic": "1.8 MB of sources",
    "aws-lambda-powertools": "1.8 MB of sources",
    "dnspython": "1.2 MB of sources",
    "fastapi": "0.9 MB of sources",
}
# Source reads found in SOURCELESS distributions, each checked: none reads the library's own modules.
REVIEWED_SOURCE_READS = {
    "fastapi/routing.py": "the file and line of the application's endpoint functions, in a try block",
    "pydantic/_internal/_docs_extraction.py": "the application's models, only with use_attribute_docstrings",
    "autogen/logger/logger_utils.py": "the source of the application's functions for AG2's logging",
    "autogen/coding/func_with_reqs.py": "the source of the application's functions for code execution",
}
_SOURCE_READ = re.compile(r"\binspect\.getsource|\bgetsource(?:lines|file)?\(|\blinecache\.|open\(__file__")
# Never needed at run time. "tests"/"_tests" directories are the libraries' own test suites (regex ships
# 0.6 MB of them); "testing" is kept: autogen.testing is an importable module.
DROPPED_DIRS = frozenset({"tests", "_tests", "__pycache__"})
DROPPED_SUFFIXES = (".pyi", ".pyx", ".pxd", ".c")

# Strip programs per target architecture, in order of preference. The GNU one comes from Debian's
# binutils-aarch64-linux-gnu (.ci/sam-check installs it); llvm-strip reads every architecture.
STRIP_PROGRAMS = {
    "aarch64": ["aarch64-linux-gnu-strip", "llvm-strip"],
    "x86_64": ["x86_64-linux-gnu-strip", "llvm-strip"],
}
_ELF_MACHINES = {183: "aarch64", 62: "x86_64"}


def normalize(name: str) -> str:
    """A distribution name as PEP 503 compares them."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass
class Distribution:
    name: str
    version: str
    files: list[str] = field(default_factory=list)  # paths relative to the install directory


def distributions(site: Path) -> dict[str, Distribution]:
    """The distributions pip installed under ``site``, with the files their RECORD lists."""
    found: dict[str, Distribution] = {}
    for info in sorted(site.glob("*.dist-info")):
        metadata = (info / "METADATA").read_text(encoding="utf-8", errors="replace")
        name = re.search(r"^Name: *(.+)$", metadata, re.M)
        version = re.search(r"^Version: *(.+)$", metadata, re.M)
        if name is None or version is None:
            raise SystemExit(f"{info}: METADATA without Name or Version")
        dist = Distribution(normalize(name[1].strip()), version[1].strip())
        for line in (info / "RECORD").read_text(encoding="utf-8").splitlines():
            path = line.rsplit(",", 2)[0].strip('"')
            # Console scripts land outside the package directory (../bin): a layer has no use for them.
            if path and not path.startswith(("..", "bin/")) and "__pycache__" not in path:
                dist.files.append(path)
        found[dist.name] = dist
    return found


def pip_install(requirements: Path, target: Path, platform_tag: str, constraints: Path | None = None) -> None:
    command = [
        sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile",
        "--platform", platform_tag, "--implementation", "cp", "--python-version", PYTHON_VERSION,
        "--only-binary=:all:", "--root-user-action=ignore", "--target", str(target), "-r", str(requirements),
    ]  # fmt: skip
    if constraints is not None:
        command += ["-c", str(constraints)]
    subprocess.run(command, check=True)


def tree_size(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file() and not p.is_symlink())


def copy_distributions(site: Path, chosen: Iterable[Distribution], out: Path) -> None:
    owned = {f for dist in distributions(site).values() for f in dist.files}
    unowned = [
        str(p.relative_to(site))
        for p in site.rglob("*")
        if p.is_file() and p.relative_to(site).parts[0] != "bin" and str(p.relative_to(site)) not in owned
    ]
    if unowned:
        # A file no RECORD lists would be dropped silently from the engine layer: refuse instead.
        raise SystemExit(f"files in {site} that no distribution's RECORD lists: {unowned[:10]}")
    for dist in chosen:
        for relative in dist.files:
            source = site / relative
            if source.is_file():
                destination = out / relative
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, destination)


# ---- slimming --------------------------------------------------------------------------------------------


def drop_unneeded(root: Path) -> None:
    for path in sorted(root.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if path.is_dir() and path.name in DROPPED_DIRS:
            shutil.rmtree(path)
        elif path.is_file() and path.name.endswith(DROPPED_SUFFIXES):
            path.unlink()


def elf_machine(path: Path) -> str | None:
    """The architecture of an ELF file (``aarch64``, ``x86_64``), None when the file is not ELF."""
    with path.open("rb") as handle:
        header = handle.read(20)
    if len(header) < 20 or header[:4] != b"\x7fELF":
        return None
    (machine,) = struct.unpack_from("<H", header, 18)
    return _ELF_MACHINES.get(machine, f"machine {machine}")


def elf_sections(path: Path) -> list[str]:
    """Section names of a 64-bit little-endian ELF file (the tests check that none is debug information)."""
    data = path.read_bytes()
    shoff = struct.unpack_from("<Q", data, 0x28)[0]
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    if shoff == 0 or shnum == 0:
        return []
    names_offset = struct.unpack_from("<Q", data, shoff + shstrndx * shentsize + 0x18)[0]
    names = []
    for index in range(shnum):
        (name,) = struct.unpack_from("<I", data, shoff + index * shentsize)
        end = data.index(b"\0", names_offset + name)
        names.append(data[names_offset + name : end].decode("ascii", "replace"))
    return names


def shared_objects(root: Path) -> Iterator[Path]:
    for path in root.rglob("*"):
        if path.is_file() and (path.suffix == ".so" or ".so." in path.name) and elf_machine(path):
            yield path


def strip_program(arch: str) -> str:
    override = os.environ.get("STRIP")
    candidates = [override] if override else list(STRIP_PROGRAMS.get(arch, []))
    if not override and platform.machine() == arch and sys.platform == "linux":
        candidates.insert(1, "strip")  # the host's own binutils read its own architecture
    for program in candidates:
        if program and shutil.which(program):
            return program
    raise SystemExit(
        f"no strip program for {arch} shared objects (tried {candidates}): install binutils-{arch}-linux-gnu "
        "(Debian/Ubuntu) or LLVM, or set STRIP"
    )


def strip_shared_objects(root: Path, arch: str) -> int:
    objects = list(shared_objects(root))
    wrong = [f"{p.relative_to(root)}: {elf_machine(p)}" for p in objects if elf_machine(p) != arch]
    if wrong:
        raise SystemExit(f"shared objects not built for {arch}: {wrong}")
    if objects:
        # --strip-unneeded keeps every symbol the dynamic loader and Python's import need (.dynsym).
        subprocess.run([strip_program(arch), "--strip-unneeded", *map(str, objects)], check=True)
    return len(objects)


# ---- bytecode --------------------------------------------------------------------------------------------


def check_source_reads(root: Path, files: Iterable[str]) -> None:
    unreviewed = []
    for relative in files:
        if relative.endswith(".py") and relative not in REVIEWED_SOURCE_READS:
            text = (root / relative).read_text(encoding="utf-8", errors="replace")
            if _SOURCE_READ.search(text):
                unreviewed.append(relative)
    if unreviewed:
        raise SystemExit(
            "these modules of bytecode-only distributions read Python source at run time; check whether they "
            "read their own (then take the distribution out of SOURCELESS) and list them in "
            f"REVIEWED_SOURCE_READS: {unreviewed}"
        )


def _compile_sourceless(job: tuple[str, str]) -> str | None:
    source, recorded = job
    try:
        py_compile.compile(
            source,
            cfile=source + "c",
            dfile=recorded,
            doraise=True,
            invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
        )
    except py_compile.PyCompileError:
        return None  # kept as source (compiled with the others below)
    os.unlink(source)
    return source


def compile_layer(root: Path, sourceless_files: list[str]) -> tuple[int, int]:
    """Bytecode-only for ``sourceless_files``, source plus ``__pycache__`` for every other module."""
    jobs = [(str(root / f), f"{LAMBDA_LAYER_PATH}/{f}") for f in sourceless_files if (root / f).is_file()]
    with ProcessPoolExecutor() as pool:
        done = [s for s in pool.map(_compile_sourceless, jobs, chunksize=32) if s]
    ok = compileall.compile_dir(
        str(root),
        quiet=1,
        workers=0,
        invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
    )
    if not ok:
        raise SystemExit("compileall failed on the layer")
    return len(done), sum(1 for _ in root.rglob("*.py"))


# ---- the layer -------------------------------------------------------------------------------------------


def build(layer: str, platform_tag: str, artifacts: Path, pins: Path | None = None) -> dict[str, object]:
    if sys.version_info[:2] != (3, 13):
        # Bytecode is specific to the interpreter's minor version: it must be Lambda's (python3.13).
        raise SystemExit(f"build the layer with Python {PYTHON_VERSION}, not {sys.version.split()[0]}")
    arch = next((a for a in STRIP_PROGRAMS if platform_tag.endswith(a)), None)
    if arch is None:
        raise SystemExit(f"unknown platform {platform_tag!r}: expected one ending in {list(STRIP_PROGRAMS)}")
    out = artifacts / "python"
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    sizes: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix=f"layer-{layer}-") as scratch:
        base_site = Path(scratch) / "base"
        pip_install(REQUIREMENTS["base"], base_site, platform_tag, pins)
        base = distributions(base_site)
        if layer == "base":
            site, chosen = base_site, list(base.values())
        else:
            constraints = Path(scratch) / "constraints.txt"
            pinned = pins.read_text() if pins is not None else ""
            constraints.write_text(pinned + "".join(f"\n{d.name}=={d.version}" for d in base.values()) + "\n")
            site = Path(scratch) / "engine"
            pip_install(REQUIREMENTS["engine"], site, platform_tag, constraints)
            installed = distributions(site)
            chosen = [d for name, d in installed.items() if name not in base]
            mismatched = [
                f"{name} {d.version} (base has {base[name].version})"
                for name, d in installed.items()
                if name in base and base[name].version != d.version
            ]
            if mismatched:
                raise SystemExit(f"the engine resolved other versions than the base layer: {mismatched}")
        copy_distributions(site, chosen, out)
        sizes["installed"] = tree_size(out)
    drop_unneeded(out)
    sizes["without tests, stubs and C sources"] = tree_size(out)
    stripped = strip_shared_objects(out, arch)
    sizes[f"shared objects stripped ({stripped})"] = tree_size(out)
    sourceless = [f for d in chosen if d.name in SOURCELESS for f in d.files if f.endswith(".py")]
    check_source_reads(out, sourceless)
    bytecode_only, with_source = compile_layer(out, sourceless)
    sizes[f"compiled ({bytecode_only} bytecode-only, {with_source} with source)"] = tree_size(out)
    manifest = {
        "layer": layer,
        "platform": platform_tag,
        "python": PYTHON_VERSION,
        "distributions": {d.name: d.version for d in sorted(chosen, key=lambda d: d.name)},
        "base": {d.name: d.version for d in sorted(base.values(), key=lambda d: d.name)},
        "bytecode_only": sorted(d.name for d in chosen if d.name in SOURCELESS),
        "sizes": sizes,
    }
    (artifacts / f"mozaiks-layer-{layer}.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("layer", choices=sorted(REQUIREMENTS))
    parser.add_argument("--platform", required=True, help="wheel platform tag, e.g. manylinux2014_aarch64")
    parser.add_argument("--artifacts", required=True, type=Path, help="the layer's root (/opt on Lambda)")
    parser.add_argument("--constraints", type=Path, help="pip constraints: exact versions to resolve to")
    args = parser.parse_args()
    pins = args.constraints.resolve() if args.constraints else None
    manifest = build(args.layer, args.platform, args.artifacts.resolve(), pins)
    for step, size in manifest["sizes"].items():  # type: ignore[attr-defined]
        print(f"  {args.layer} layer, {step}: {size / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
