"""The committed contract artifacts are what the sources compile to (contracts/compile.mjs)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.chain import NODE_MODULES, ROOT, artifact, require_node_modules


@pytest.fixture(autouse=True)
def _compiler_installed() -> None:
    if not (NODE_MODULES / "solc").exists() or shutil.which("node") is None:
        require_node_modules("compiling the contracts (node and solc)")


def check(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["node", str(root / "contracts" / "compile.mjs"), "--check"],
                          capture_output=True, text=True, timeout=120)


def test_the_committed_artifacts_match_a_fresh_compile():
    result = check(ROOT)
    assert result.returncode == 0, result.stderr


def test_the_check_fails_in_one_line_when_sources_and_artifacts_disagree(tmp_path: Path):
    shutil.copytree(ROOT / "contracts", tmp_path / "contracts")
    (tmp_path / "node_modules").symlink_to(NODE_MODULES)
    source = tmp_path / "contracts" / "Escrow.sol"
    # A comment changes the metadata hash in the bytecode, as any edit to a source does.
    source.write_text(source.read_text() + "\n// changed\n")

    result = check(tmp_path)

    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "contract artifacts differ from a fresh compile (run `make contracts`): "
        "contracts/artifacts/Escrow.json"]


def test_the_artifacts_name_the_compiler_and_the_evm_version_the_chain_runs():
    for name in ("Escrow", "TestStablecoin", "test/HostileToken"):
        compiled = artifact(name)
        assert compiled["compiler"]["version"].startswith("0.8.37+")
        assert compiled["compiler"]["evmVersion"] == "cancun"
        assert compiled["bytecode"].startswith("0x60")
