"""The committed escrow artifacts are what the Solidity sources compile to (run ``manage.py compile_contracts``
after changing a source), and the contract ``manage.py escrow_deploy`` puts on chain runs exactly that code."""

from __future__ import annotations

import json
from typing import Any

import pytest
from web3 import Web3

from apps.chains.solidity import compile_sources
from apps.escrow.chain import ESCROW_CONTRACTS, escrow_artifact

SOURCES = {"src": ESCROW_CONTRACTS / "src", "testing": ESCROW_CONTRACTS / "testing"}
ARTIFACTS = {"src": ESCROW_CONTRACTS / "artifacts", "testing": ESCROW_CONTRACTS / "artifacts" / "testing"}


@pytest.fixture(scope="module")
def compiled() -> dict[str, dict[str, dict[str, Any]]]:
    """A fresh compile of each source folder (once for the module: solc-js takes a few seconds)."""
    return {folder: compile_sources(path) for folder, path in SOURCES.items()}


def committed(folder: str) -> dict[str, dict[str, Any]]:
    """The artifacts on disk, read afresh (not through the cached loader)."""
    return {path.stem: json.loads(path.read_text()) for path in sorted(ARTIFACTS[folder].glob("*.json"))}


@pytest.mark.parametrize("folder", ["src", "testing"])
def test_the_committed_artifacts_are_what_the_sources_compile_to(compiled, folder):
    fresh, stored = compiled[folder], committed(folder)
    assert sorted(stored) == sorted(fresh), "stale or missing artifacts: run `manage.py compile_contracts`"
    for name, artifact in fresh.items():
        assert stored[name] == artifact, f"{name}: run `manage.py compile_contracts`"


def test_the_escrow_artifact_holds_the_abi_and_both_bytecodes(compiled):
    stored = escrow_artifact()
    assert set(stored) == {"abi", "bytecode", "deployedBytecode"}
    fresh = compiled["src"]["EngiPayEscrow"]
    for key in ("abi", "bytecode", "deployedBytecode"):
        assert stored[key] == fresh[key], key
    assert stored["bytecode"].startswith("0x60")
    assert len(stored["bytecode"]) > len(stored["deployedBytecode"]) > 2
    functions = {e["name"] for e in stored["abi"] if e["type"] == "function"}
    assert {"createEth", "createToken", "accept", "reject", "cancel", "dispute", "resolve", "expire"} <= functions
    assert {"escrowId", "getEscrow", "DISPUTE_TIMEOUT", "MAX_DURATION"} <= functions


def test_the_deployed_runtime_code_is_the_artifact_deployed_bytecode(escrow_chain, anvil_w3):
    code = anvil_w3.eth.get_code(Web3.to_checksum_address(escrow_chain.address))
    assert "0x" + bytes(code).hex() == escrow_artifact()["deployedBytecode"]


def test_every_contract_source_is_mit_licensed_and_pinned_to_solidity_0_8_28():
    for path in [*sorted(SOURCES["src"].glob("*.sol")), *sorted(SOURCES["testing"].glob("*.sol"))]:
        head = path.read_text().splitlines()[:2]
        assert head == ["// SPDX-License-Identifier: MIT", "pragma solidity 0.8.28;"], path.name
