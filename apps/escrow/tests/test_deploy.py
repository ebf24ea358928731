"""``manage.py escrow_deploy``: the operator key from the environment, one recorded deployment per chain,
idempotent, never silently replacing a contract that holds escrows."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command
from eth_account import Account

from apps.escrow.models import EscrowDeployment
from apps.escrow.services.deploy import escrow_code_matches

pytestmark = pytest.mark.django_db


def deploy(*args: str) -> str:
    out = io.StringIO()
    call_command("escrow_deploy", "--network", "local", *args, stdout=out)
    return out.getvalue()


def test_deploying_again_changes_nothing(escrow_chain, anvil_w3):
    assert escrow_code_matches(anvil_w3, escrow_chain.address)
    assert "already deployed" in deploy()
    assert list(EscrowDeployment.objects.values_list("address", flat=True)) == [escrow_chain.address]


def test_a_recorded_address_without_code_is_deployed_again_and_indexed_from_there(escrow_chain, anvil_w3):
    EscrowDeployment.objects.update(address=Account.create().address, indexed_block=10**6)
    assert "recorded" in deploy()
    row = EscrowDeployment.objects.get()
    assert escrow_code_matches(anvil_w3, row.address)
    assert row.indexed_block == row.deployed_block - 1


def test_a_recorded_contract_running_other_code_is_kept_unless_forced(escrow_chain, deploy_token, anvil_w3):
    other = deploy_token("OTH", 18, register=False)
    EscrowDeployment.objects.update(address=other)
    with pytest.raises(CommandError, match="--force"):
        deploy()
    assert EscrowDeployment.objects.get().address == other
    deploy("--force")
    assert escrow_code_matches(anvil_w3, EscrowDeployment.objects.get().address)


def test_without_the_operator_key_nothing_is_deployed(settings, db, local_chain):
    settings.ESCROW_OPERATOR_PRIVATE_KEY = None
    with pytest.raises(CommandError, match="ESCROW_OPERATOR_PRIVATE_KEY"):
        deploy()
    assert not EscrowDeployment.objects.exists()


def test_registering_an_address_checks_its_code(settings, db, local_chain, deploy_token):
    other = deploy_token("OTH", 18, register=False)
    with pytest.raises(CommandError, match="does not hold"):
        deploy("--address", other, "--block", "1")
    assert not EscrowDeployment.objects.exists()


def test_registering_the_recorded_address_again_changes_nothing_and_another_needs_force(escrow_chain, anvil_w3):
    from apps.escrow.services.deploy import escrow_deploy

    EscrowDeployment.objects.filter(pk=escrow_chain.pk).update(indexed_block=escrow_chain.deployed_block + 5)
    deploy("--address", escrow_chain.address, "--block", "1")
    assert EscrowDeployment.objects.get().indexed_block == escrow_chain.deployed_block + 5  # no rewind
    EscrowDeployment.objects.all().delete()
    other, _ = escrow_deploy(network="local")  # a second copy of the contract
    EscrowDeployment.objects.filter(pk=other.pk).update(address=escrow_chain.address)
    fresh = anvil_w3.eth.get_transaction_receipt(other.deploy_tx_hash)["contractAddress"]
    with pytest.raises(CommandError, match="--force"):
        deploy("--address", fresh, "--block", "1")
    deploy("--address", fresh, "--block", "1", "--force")
    assert EscrowDeployment.objects.get().address == fresh


def test_outside_the_development_chain_a_recorded_address_without_code_is_not_replaced(escrow_chain, settings):
    settings.CHAINS = {"local": {**settings.CHAINS["local"], "chain_id": 11155111}}
    EscrowDeployment.objects.update(address=Account.create().address)
    with pytest.raises(CommandError, match="synced"):
        deploy()
