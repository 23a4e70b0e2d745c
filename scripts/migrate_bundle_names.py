"""One-off: re-stamp the committed baseline bundles for the move to the ``ceaseless`` import name.

    python scripts/migrate_bundle_names.py OLD_CHECKOUT

The move changed no baseline's behaviour, only the names it is imported by (``baselines.x`` became
``ceaseless.baselines.x``) and so the agent digests. Rather than re-running two hours of
evaluations to produce the same numbers, this script proves that and re-stamps the bundles:

1. every bundle's recorded agent digest equals the digest the old layout (``OLD_CHECKOUT``, the
   commit before the move) computes for the old code: the bundle was produced by that code;
2. every file of the new digest, with its import names rewritten back to the old ones, is byte for
   byte the old file: the code differs in its import names alone;
3. then it rewrites the module name and digest in the manifest and in every run, recomputes the
   run files' sha256 in the manifest and packs the archive again.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from ceaseless.leaderboard.harness.protocol import AgentSpec

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "leaderboard" / "results" / "baselines"


def old_digest(old: Path, module: str, options: dict) -> str:
    code = ("import json, sys; from leaderboard.protocol import AgentSpec; "
            f"print(AgentSpec(module={module!r}, options=tuple(sorted(json.loads(sys.argv[1]).items()))).digest())")
    return subprocess.run([sys.executable, "-c", code, json.dumps(options)], cwd=old, check=True,
                          capture_output=True, text=True, env={"PYTHONPATH": str(old)}).stdout.strip()


def check_only_names_changed(spec: AgentSpec, old: Path) -> None:
    for file in spec.source_files():
        relative = file.relative_to(ROOT)
        back = re.sub(r"\bceaseless\.(baselines|worlds|leaderboard)\b", r"\1", file.read_text())
        back = back.replace("leaderboard/harness/protocol.py", "leaderboard/protocol.py")
        if back != (old / relative).read_text():
            raise SystemExit(f"{relative} differs from the old code in more than its import names")


def write_like(path: Path, data: dict) -> None:
    compact = "\n" not in path.read_text()[:200]
    options = {"separators": (",", ":")} if compact else {"indent": 1}
    path.write_text(json.dumps(data, sort_keys=True, **options))


def main() -> None:
    old = Path(sys.argv[1]).resolve()
    for archive in sorted(RESULTS.glob("*/*.tar.gz")):
        with tempfile.TemporaryDirectory() as temporary:
            bundle = Path(temporary)
            with tarfile.open(archive) as tar:
                names = tar.getnames()
                tar.extractall(bundle, filter="data")
            manifest_path = bundle / "manifest.json"
            manifest = json.loads(manifest_path.read_text())
            agent = manifest["agent"]
            module, options = agent["spec"]["module"], agent["spec"]["options"]
            if module.startswith("ceaseless."):
                print(f"{archive.relative_to(ROOT)}: already migrated")
                continue
            if old_digest(old, module, options) != agent["digest"]:
                raise SystemExit(f"{archive}: its digest is not the old code's; re-run it instead")
            spec = AgentSpec(module=f"ceaseless.{module}", options=tuple(sorted(options.items())))
            check_only_names_changed(spec, old)
            digest = spec.digest()
            agent["spec"]["module"], agent["digest"] = spec.module, digest
            for item in manifest["runs"]:
                path = bundle / item["file"]
                result = json.loads(path.read_text())
                assert result["agent"]["digest"] != digest and result["spec"]["agent"]["module"] == module
                result["agent"]["digest"] = digest
                result["spec"]["agent"]["module"] = spec.module
                write_like(path, result)
                item["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
            write_like(manifest_path, manifest)
            with tarfile.open(archive, "w:gz") as tar:
                for name in names:
                    if (bundle / name).is_file():
                        tar.add(bundle / name, arcname=name)
            print(f"{archive.relative_to(ROOT)}: {module} -> {spec.module}, {len(manifest['runs'])} runs re-stamped")


if __name__ == "__main__":
    main()
