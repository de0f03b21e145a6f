"""The pages' scripts are the npm packages' files, byte for byte, as the manifest says (the
same check as `node web/vendor.mjs --check` in CI); no browser needed."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from tests.chain import require_node_modules

ROOT = Path(__file__).resolve().parents[2]
VENDOR = ROOT / "web" / "static" / "vendor"
MANIFEST = json.loads((VENDOR / "manifest.json").read_text())


def test_each_vendored_file_matches_its_manifest_entry():
    assert sorted(MANIFEST) == sorted(p.name for p in VENDOR.glob("*.js"))
    for name, entry in MANIFEST.items():
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == entry["sha256"], name


def test_each_vendored_file_is_its_npm_packages_and_the_lock_files_version():
    lock = json.loads((ROOT / "package-lock.json").read_text())["packages"]
    for name, entry in MANIFEST.items():
        assert lock[f"node_modules/{entry['package']}"]["version"] == entry["version"], name
        published = ROOT / "node_modules" / entry["package"] / entry["from"]
        if not published.exists():
            require_node_modules(f"checking {name} against {entry['package']}")
        assert published.read_bytes() == (VENDOR / name).read_bytes(), name


def test_htmx_is_a_2_x_release():
    # 2.x: the ws extension (htmx-ext-ws 2) is written for it; 4.x changed its extension API.
    assert re.fullmatch(r"2\.\d+\.\d+", MANIFEST["htmx.min.js"]["version"])
