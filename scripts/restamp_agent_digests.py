"""One-off migration: re-stamp the committed baseline bundles with the per-module agent digest.

    python scripts/restamp_agent_digests.py

An agent's digest used to be the sha256 over every file of the ``baselines`` package; it is now
over the agent's module and the package files it imports (``AgentSpec.source_files``). The
committed bundles were produced by exactly the code now in ``baselines/`` -- this script proves
that for each bundle (its recorded digest must equal the old-scheme digest of the current files)
and only then replaces the digest in its manifest and run files and the run files' sha256 in the
manifest. Results are untouched. Run once, in the commit that changed the scheme.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

from baselines import BOARD
from leaderboard.protocol import AgentSpec

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "leaderboard" / "results" / "baselines"


def old_digest(spec: AgentSpec) -> str:
    hasher = hashlib.sha256()
    for file in sorted((ROOT / "baselines").glob("*.py")):
        hasher.update(file.name.encode())
        hasher.update(file.read_bytes())
    hasher.update(json.dumps(dict(spec.options), sort_keys=True, default=str).encode())
    return hasher.hexdigest()


def restamp(archive: Path, spec: AgentSpec) -> None:
    with tarfile.open(archive) as tar:
        members = [(m.name, tar.extractfile(m).read()) for m in tar.getmembers() if m.isfile()]
    files = dict(members)
    old, new = old_digest(spec), spec.digest()
    recorded = json.loads(files["manifest.json"])["agent"]["digest"]
    if recorded != old:
        raise SystemExit(f"{archive}: produced by other code (digest {recorded[:12]}, current {old[:12]}): re-run it")
    rewritten = {}
    for name, data in members:
        if name != "manifest.json":
            rewritten[name] = data.replace(old.encode(), new.encode())
    manifest = files["manifest.json"].replace(old.encode(), new.encode())
    for name in rewritten:
        before, after = hashlib.sha256(files[name]).hexdigest(), hashlib.sha256(rewritten[name]).hexdigest()
        manifest = manifest.replace(before.encode(), after.encode())
    rewritten["manifest.json"] = manifest
    with tarfile.open(archive, "w:gz") as tar:
        for name, _ in members:
            info = tarfile.TarInfo(name)
            info.size = len(rewritten[name])
            tar.addfile(info, io.BytesIO(rewritten[name]))
    print(f"{archive.relative_to(ROOT)}: {old[:12]} -> {new[:12]}")


def main() -> None:
    for suite in sorted(p for p in RESULTS.iterdir() if p.is_dir()):
        for name, module, options in BOARD:
            archive = suite / f"{name}.tar.gz"
            if archive.exists():
                restamp(archive, AgentSpec.parse(module, **options))


if __name__ == "__main__":
    main()
