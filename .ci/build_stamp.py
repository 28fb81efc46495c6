"""Print a hash of everything `sam build` packages, so a build can tell whether it is current.

Used by .ci/sam-check (it writes the stamp next to the build) and by the deployed-shape tests (they rebuild
when the stamp differs from the sources).
"""

import hashlib
import sys
from pathlib import Path

INPUTS = ("template.yaml", "functions", "runtime_core", "workflows", "infra/layer")


def stamp(root: Path) -> str:
    digest = hashlib.sha256()
    for name in INPUTS:
        base = root / name
        files = [base] if base.is_file() else sorted(p for p in base.rglob("*") if p.is_file())
        for path in files:
            if "__pycache__" in path.parts or path.suffix == ".pyc":
                continue
            digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


if __name__ == "__main__":
    print(stamp(Path(sys.argv[1] if len(sys.argv) > 1 else ".").resolve()))
