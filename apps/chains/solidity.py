"""Compile the project's Solidity sources with the pinned solc-js, offline, and load the stored artifacts.

Artifacts (ABI + creation bytecode) are committed under ``<app>/contracts/artifacts/``; ``manage.py
compile_contracts`` rebuilds them and a test checks that they still match the sources.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

COMPILER_SCRIPT = Path(__file__).parent / "contracts" / "compile.js"
SOLC_SETTINGS = {
    "optimizer": {"enabled": True, "runs": 200},
    "evmVersion": "cancun",
    "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"]}},
}


def compile_sources(source_dir: Path) -> dict[str, dict[str, Any]]:
    """Compile every ``*.sol`` in ``source_dir``; returns {contract name: {"abi", "bytecode"}}."""
    sources = {p.name: {"content": p.read_text()} for p in sorted(source_dir.glob("*.sol"))}
    standard_input = json.dumps({"language": "Solidity", "sources": sources, "settings": SOLC_SETTINGS})
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("node is required to compile Solidity (solc-js from npm)")
    result = subprocess.run(  # noqa: S603 - fixed script, input on stdin
        [node, str(COMPILER_SCRIPT)], input=standard_input, capture_output=True, text=True, check=True
    )
    output = json.loads(result.stdout)
    errors = [e for e in output.get("errors", []) if e["severity"] == "error"]
    if errors:
        raise RuntimeError("\n".join(e["formattedMessage"] for e in errors))
    artifacts = {}
    for file_name in sources:
        for name, contract in output["contracts"][file_name].items():
            artifacts[name] = {
                "abi": contract["abi"],
                "bytecode": "0x" + contract["evm"]["bytecode"]["object"],
                "deployedBytecode": "0x" + contract["evm"]["deployedBytecode"]["object"],
            }
    return artifacts


def write_artifacts(source_dir: Path, artifact_dir: Path) -> list[str]:
    artifact_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, artifact in compile_sources(source_dir).items():
        (artifact_dir / f"{name}.json").write_text(json.dumps(artifact, indent=1, sort_keys=True) + "\n")
        written.append(name)
    return written


CHAINS_CONTRACTS = Path(__file__).parent / "contracts"


@cache
def artifact(name: str, directory: Path = CHAINS_CONTRACTS / "artifacts") -> dict[str, Any]:
    return json.loads((directory / f"{name}.json").read_text())
