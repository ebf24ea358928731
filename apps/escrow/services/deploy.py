"""Deploy the escrow contract with the operator key, or register one deployed elsewhere; one per chain."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction
from eth_account import Account
from web3 import Web3

from apps.chains.clients import client_for
from apps.chains.devchain import LOCAL_CHAIN_ID
from apps.chains.registry import chain
from apps.escrow.chain import escrow_artifact
from apps.escrow.models import EscrowDeployment
from engipay.api.errors import InvalidInput, StateConflict

from . import indexer

logger = logging.getLogger(__name__)


def _runtime_code(w3: Web3, address: str) -> str:
    return "0x" + bytes(w3.eth.get_code(Web3.to_checksum_address(address))).hex()


def escrow_code_matches(w3: Web3, address: str) -> bool:
    """The code at ``address`` is this project's compiled EngiPayEscrow (no immutables: an exact match)."""
    return _runtime_code(w3, address) == escrow_artifact()["deployedBytecode"]


def escrow_deploy(
    *, network: str, private_key: str | None = None, timeout: float = 120, force: bool = False
) -> tuple[EscrowDeployment, bool]:
    """Deploy EngiPayEscrow on ``network`` unless its recorded deployment is there. Returns (deployment, deployed
    now). A recorded address without any code (a development chain that restarted empty) is deployed again and
    indexed from scratch. A recorded contract running other code (an older build holding escrows) is kept:
    replacing it takes ``force``, and its escrows are then no longer followed."""
    config = chain(network)
    if config.kind != "evm":
        raise InvalidInput("unsupported_network", f"The escrow contract runs on EVM chains; {network} is not one.")
    w3 = client_for(config).w3()
    current = EscrowDeployment.objects.filter(network=config.key).first()
    if current is not None and escrow_code_matches(w3, current.address):
        return current, False
    if current is not None and not force:
        if _runtime_code(w3, current.address) != "0x":
            raise StateConflict(
                "other_escrow_code",
                f"The recorded escrow contract at {current.address} runs other code than this build (an older "
                "version?). It is kept, with the escrows it holds; deploy with --force to replace it.",
            )
        if int(config.chain_id) != LOCAL_CHAIN_ID:
            # Only a development chain restarts empty; elsewhere a node that is not synced shows no code either.
            raise StateConflict(
                "escrow_code_missing",
                f"No code at the recorded escrow contract {current.address}: is the node synced? Deploy with "
                "--force to replace it (its escrows are then no longer followed).",
            )
    key = private_key or settings.ESCROW_OPERATOR_PRIVATE_KEY
    if not key:
        raise InvalidInput("operator_key_missing", "Set ESCROW_OPERATOR_PRIVATE_KEY to deploy the escrow contract.")
    operator = Account.from_key(key)
    compiled = escrow_artifact()
    tx = {
        "from": operator.address,
        "data": compiled["bytecode"],
        "nonce": w3.eth.get_transaction_count(operator.address, "pending"),
        "chainId": int(config.chain_id),
    }
    tx["gas"] = w3.eth.estimate_gas(tx) * 12 // 10
    priority = w3.eth.max_priority_fee
    tx["maxPriorityFeePerGas"] = priority
    tx["maxFeePerGas"] = w3.eth.get_block("latest")["baseFeePerGas"] * 2 + priority
    signed = operator.sign_transaction(tx)
    receipt = w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(signed.raw_transaction), timeout=timeout)
    if receipt["status"] != 1:
        raise InvalidInput("deployment_failed", f"The deployment reverted: {receipt['transactionHash'].to_0x_hex()}")
    deployment = _record(
        network=config.key,
        address=receipt["contractAddress"],
        block=receipt["blockNumber"],
        tx_hash=receipt["transactionHash"].to_0x_hex(),
        deployer=operator.address,
    )
    logger.info(
        "EngiPayEscrow deployed on %s at %s (block %s)", config.key, deployment.address, deployment.deployed_block
    )
    return deployment, True


def escrow_register(*, network: str, address: str, block: int, force: bool = False) -> EscrowDeployment:
    """Record a deployment made elsewhere (say, from a multisig), after checking its code is ours. The recorded
    one again changes nothing; replacing another recorded contract takes ``force``."""
    config = chain(network)
    w3 = client_for(config).w3()
    if not Web3.is_address(address) or not escrow_code_matches(w3, address):
        raise InvalidInput("not_escrow_contract", f"{address} does not hold this project's EngiPayEscrow code.")
    current = EscrowDeployment.objects.filter(network=config.key).first()
    if current is not None and current.address.lower() == address.lower():
        return current
    if current is not None and not force:
        raise StateConflict(
            "escrow_already_recorded",
            f"{config.name} already has an escrow contract ({current.address}); register with --force to replace "
            "it (its escrows are then no longer followed).",
        )
    return _record(network=config.key, address=Web3.to_checksum_address(address), block=block, tx_hash="", deployer="")


@transaction.atomic
def _record(*, network: str, address: str, block: int, tx_hash: str, deployer: str) -> EscrowDeployment:
    deployment, created = EscrowDeployment.objects.select_for_update().get_or_create(
        network=network,
        defaults={
            "address": address,
            "deployed_block": block,
            "indexed_block": max(block - 1, 0),
            "deploy_tx_hash": tx_hash,
            "deployer": deployer,
        },
    )
    if not created:
        deployment.address, deployment.deployed_block = address, block
        deployment.deploy_tx_hash, deployment.deployer = tx_hash, deployer
        deployment.save()
        # A new contract: nothing indexed from the old one holds.
        indexer.escrow_index_rewind(deployment=deployment, block=max(block - 1, 0))
    return deployment
