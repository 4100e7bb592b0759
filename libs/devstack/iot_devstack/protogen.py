"""Generate (or check) the Python code for proto/ with grpcio-tools: the one way it is made."""

from __future__ import annotations

import argparse
import filecmp
import shutil
import sys
import tempfile
from importlib import resources
from pathlib import Path

from grpc_tools import protoc

REPO = Path(__file__).resolve().parents[3]
PROTO_ROOT = REPO / "proto"
PACKAGE_DIR = Path("iot") / "v1"
GENERATED_SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py")


def generate(out_dir: Path) -> None:
    """Run protoc for every .proto file under proto/ into out_dir."""
    protos = sorted(str(p.relative_to(PROTO_ROOT)) for p in PROTO_ROOT.rglob("*.proto"))
    well_known = str(resources.files("grpc_tools") / "_proto")
    args = [
        "protoc",
        f"-I{PROTO_ROOT}",
        f"-I{well_known}",
        f"--python_out={out_dir}",
        f"--pyi_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        *protos,
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    # grpc stubs are only kept for files that declare services, to avoid empty modules.
    for stub in (out_dir / PACKAGE_DIR).glob("*_pb2_grpc.py"):
        if "Stub" not in stub.read_text():
            stub.unlink()
    for package in (out_dir / "iot", out_dir / PACKAGE_DIR):
        init = package / "__init__.py"
        if not init.exists():
            init.write_text('"""Generated protobuf code; edit proto/ and run `make proto`."""\n')


def _generated_files(root: Path) -> set[str]:
    return {p.name for p in (root / PACKAGE_DIR).glob("*") if p.name.endswith(GENERATED_SUFFIXES)}


def stale_files(target: Path) -> list[str]:
    """Return the generated files that differ between target and a fresh generation."""
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp)
        generate(fresh)
        names = _generated_files(fresh) | _generated_files(target)
        return sorted(
            name
            for name in names
            if not (target / PACKAGE_DIR / name).exists()
            or not (fresh / PACKAGE_DIR / name).exists()
            or not filecmp.cmp(target / PACKAGE_DIR / name, fresh / PACKAGE_DIR / name, False)
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", type=Path, help="folder that holds the iot/v1 package")
    parser.add_argument("--check", action="store_true", help="only report stale files")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_files(args.out)
        if stale:
            print(f"generated code is stale, run `make proto`: {', '.join(stale)}")
            return 1
        print("generated protobuf code is up to date")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        generate(Path(tmp))
        for name in _generated_files(args.out):
            (args.out / PACKAGE_DIR / name).unlink()
        for path in (Path(tmp) / PACKAGE_DIR).iterdir():
            if path.name.endswith(GENERATED_SUFFIXES):
                shutil.copy2(path, args.out / PACKAGE_DIR / path.name)
    print(f"generated {len(_generated_files(args.out))} files in {args.out / PACKAGE_DIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
