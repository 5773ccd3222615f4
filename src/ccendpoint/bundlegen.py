"""Build a catalog bundle (provider files + manifest.json) that ``ccendpoint catalog update`` installs.

Run ``python -m ccendpoint.bundlegen OUT`` to bundle the catalog this release ships, or pass
``--from FOLDER`` to bundle edited provider files. The files are checked as a whole catalog
first, so a bundle that would be refused is never written. Publish OUT over https.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ccendpoint.catalog.bundle import check_catalog
from ccendpoint.catalog.installed import MANIFEST, bundled_info, manifest_for, parse_manifest
from ccendpoint.catalog.loader import bundled_sources
from ccendpoint.errors import CcendpointError


def collect(folder: Path | None) -> dict[str, bytes]:
    """File name → bytes of the provider files to bundle."""
    if folder is None:
        return {source.label: source.data for source in bundled_sources()}
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.suffix in (".yaml", ".yml") and p.is_file()}


def main(argv: list[str] | None = None) -> int:
    version, date = bundled_info()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path, help="Folder to write the bundle into (created if needed).")
    parser.add_argument("--from", dest="source", type=Path, help="Folder of provider YAML files (default: bundled).")
    parser.add_argument("--version", default=version, help=f"Bundle version (default {version}).")
    parser.add_argument("--date", default=date, help=f"Date the facts were checked, YYYY-MM-DD (default {date}).")
    args = parser.parse_args(argv)
    files = collect(args.source)
    try:
        if not files:
            raise CcendpointError(f"No .yaml files in {args.source}.")
        providers = check_catalog(files)
        manifest = manifest_for(args.version, args.date, files)
        parse_manifest(manifest.to_bytes(), "the new manifest")  # the version and date are well formed
    except CcendpointError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (args.out / name).write_bytes(data)
    (args.out / MANIFEST).write_bytes(manifest.to_bytes())
    sys.stdout.write(f"wrote {len(files)} files ({providers} providers) and {MANIFEST} to {args.out}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
