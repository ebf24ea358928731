"""The escrow back office: read-only escrows with a "Disputed" shortcut, the Escrow resolvers' group and its
resolution page (statements, evidence, the contract's state, decision, the resolver's signed transaction sent and
settled on chain), and what other staff cannot do."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.contrib.messages import get_messages
from eth_abi import decode
from eth_utils import function_signature_to_4byte_selector

from apps.escrow import chain as contract
from apps.escrow.models import DisputeDecision, EscrowAction
from apps.escrow.services import disputes
from engipay.api.errors import ApplicationError
from tests.helpers import logged_in_client, staff_user

from .conftest import RESOLVER
from .test_disputes import b64, indexed, make_dispute, pdf, png

ETH = 10**18
GROUP = "Escrow resolvers"


@pytest.fixture
def dispute(escrow_chain, anvil_w3, party, evidence_root):
    """A disputed 1 ETH escrow on chain (resolver: the platform's) with a statement and evidence from each side."""
    found = make_dispute(anvil_w3, escrow_chain, party)
    sent = found.sender.client.post(
        found.url, {"text": "The goods never came.", "files": [b64(png(), "image/png")]}, format="json"
    )
    assert sent.status_code == 201, sent.content
    sent = found.recipient.client.post(
        found.url, {"text": "Delivered on Monday.", "files": [b64(pdf(), "application/pdf")]}, format="json"
    )
    assert sent.status_code == 201, sent.content
    return found


@pytest.fixture
def resolver(db):
    return staff_user("resolver@engipay.test", GROUP)


def urls(escrow) -> dict[str, str]:
    base = f"/admin/escrow/escrow/{escrow.pk}"
    return {
        "change": f"{base}/change/",
        "resolution": f"{base}/resolution/",
        "decide": f"{base}/resolution/decide/",
        "submit": f"{base}/resolution/submit/",
    }


def flashed(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def sign_as_resolver(transaction: dict) -> str:
    return "0x" + RESOLVER.sign_transaction(transaction).raw_transaction.hex().removeprefix("0x")


def get_escrow(w3, deployment, onchain_id: str) -> contract.OnchainEscrow:
    from apps.chains.clients import client_for
    from apps.chains.registry import chain

    return contract.escrow_read(client_for(chain("local")), contract=deployment.address, onchain_id=onchain_id)


# --- the group ---------------------------------------------------------------------------------------------------


def test_the_resolvers_group_has_least_privilege(db):
    codenames = set(Group.objects.get(name=GROUP).permissions.values_list("content_type__app_label", "codename"))
    assert codenames == {
        ("escrow", "view_escrow"),
        ("escrow", "view_escrowevent"),
        ("escrow", "view_escrowaction"),
        ("escrow", "view_disputestatement"),
        ("escrow", "view_disputeevidence"),
        ("escrow", "view_disputedecision"),
        ("escrow", "add_disputedecision"),
        ("escrow", "resolve_dispute"),
    }


# --- lists and pages -----------------------------------------------------------------------------------------------


def test_resolvers_find_disputed_escrows_read_only(dispute, resolver):
    client = logged_in_client(resolver)
    listed = client.get("/admin/escrow/escrow/")
    assert listed.status_code == 200
    html = listed.content.decode()
    assert 'id="disputed-shortcut"' in html
    assert "Disputed (1)" in html
    assert "1 ETH" in html
    disputed = client.get("/admin/escrow/escrow/?status__exact=disputed")
    assert str(dispute.escrow.pk) in disputed.content.decode()
    assert str(dispute.escrow.pk) not in client.get("/admin/escrow/escrow/?status__exact=accepted").content.decode()
    found = client.get("/admin/escrow/escrow/", {"q": dispute.escrow.onchain_id})
    assert str(dispute.escrow.pk) in found.content.decode()
    by_address = client.get("/admin/escrow/escrow/", {"q": dispute.sender.address.lower()})
    assert str(dispute.escrow.pk) in by_address.content.decode()
    tx_hash = dispute.escrow.events.get(name="disputed").tx_hash
    assert str(dispute.escrow.pk) in client.get("/admin/escrow/escrow/", {"q": tx_hash}).content.decode()

    page = client.get(urls(dispute.escrow)["change"])
    assert page.status_code == 200
    content = page.content.decode()
    assert 'id="resolution-link"' in content
    assert "The goods never came." in content  # the statements inline
    assert 'class="evidence-link"' in content
    assert 'name="_save"' not in content  # nothing is edited here: the chain drives the rows
    assert client.post(urls(dispute.escrow)["change"], {"status": "accepted"}).status_code == 403
    assert client.get("/admin/escrow/disputedecision/add/").status_code == 403
    assert client.get("/admin/escrow/disputedecision/").status_code == 200


def test_the_resolution_page_shows_both_sides_and_the_chain(dispute, resolver):
    client = logged_in_client(resolver)
    page = client.get(urls(dispute.escrow)["resolution"])
    assert page.status_code == 200
    html = page.content.decode()
    assert "The goods never came." in html
    assert "Delivered on Monday." in html
    assert '<td id="onchain-state-value">disputed</td>' in html
    assert RESOLVER.address in html
    assert 'id="decision-form"' in html
    evidence = {e.content_type: e for e in dispute.escrow.statements.get(role="sender").evidence.all()}
    link = f"/admin/escrow/escrow/evidence/{evidence['image/png'].pk}/"
    assert link in html
    download = client.get(link)
    assert download.status_code == 200
    assert download["Content-Disposition"].startswith("attachment;")
    assert download["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in download["Cache-Control"]
    assert b"".join(download.streaming_content).startswith(b"\x89PNG")


def test_other_staff_cannot_resolve_or_see_evidence(dispute):
    agent = staff_user("agent@engipay.test", "Support agents")
    client = logged_in_client(agent)
    evidence = dispute.escrow.statements.first().evidence.first()
    assert client.get(urls(dispute.escrow)["resolution"]).status_code == 403
    response = client.post(urls(dispute.escrow)["decide"], {"to_recipient": "1", "reason": "mine"})
    assert response.status_code == 403
    assert client.get(f"/admin/escrow/escrow/evidence/{evidence.pk}/").status_code == 403
    assert client.get("/admin/escrow/escrow/").status_code == 403
    assert not DisputeDecision.objects.exists()
    with pytest.raises(ApplicationError) as refused:
        disputes.dispute_decision_prepare(
            escrow=dispute.escrow, staff_user=agent, to_recipient=Decimal("1"), reason="x"
        )
    assert (refused.value.status_code, refused.value.code) == (403, "not_resolver")


def test_a_viewer_without_the_resolve_permission_gets_403_on_the_resolution_page(dispute):
    viewer = staff_user("viewer@engipay.test")
    viewer.user_permissions.add(*Group.objects.get(name=GROUP).permissions.exclude(codename="resolve_dispute"))
    client = logged_in_client(viewer)
    assert client.get(urls(dispute.escrow)["change"]).status_code == 200
    assert 'id="resolution-link"' not in client.get(urls(dispute.escrow)["change"]).content.decode()
    assert client.get(urls(dispute.escrow)["resolution"]).status_code == 403
    evidence = dispute.escrow.statements.first().evidence.first()
    assert client.get(f"/admin/escrow/escrow/evidence/{evidence.pk}/").status_code == 403


# --- deciding -----------------------------------------------------------------------------------------------------


def test_a_resolver_decides_signs_and_the_split_lands_on_chain(dispute, resolver, anvil_w3, escrow_chain):
    client = logged_in_client(resolver)
    escrow = dispute.escrow
    response = client.post(urls(escrow)["decide"], {"to_recipient": "0.25", "reason": "Half the goods arrived."})
    assert response.status_code == 302
    assert response["Location"] == urls(escrow)["resolution"]
    assert any(m.startswith("Decision logged: 0.25 ETH to the recipient, 0.75 ETH") for m in flashed(response))

    decision = DisputeDecision.objects.get()
    assert (decision.escrow_id, decision.decided_by, decision.resolver_address) == (
        escrow.pk,
        resolver,
        RESOLVER.address,
    )
    assert (int(decision.to_recipient_base), int(decision.to_sender_base)) == (ETH // 4, 3 * ETH // 4)
    assert decision.reason == "Half the goods arrived."
    assert decision.tx_hash == ""
    tx = decision.transaction
    assert (tx["from"], tx["to"], int(tx["value"], 16), int(tx["chainId"], 16)) == (
        RESOLVER.address,
        escrow_chain.address,
        0,
        31337,
    )
    data = bytes.fromhex(tx["data"][2:])
    assert data[:4] == function_signature_to_4byte_selector("resolve(bytes32,uint256)")
    assert decode(["bytes32", "uint256"], data[4:]) == (contract.id_bytes(escrow.onchain_id), ETH // 4)
    action = EscrowAction.objects.get(escrow=escrow, kind="resolve")
    assert (action.status, action.user, action.signer_address) == ("prepared", resolver, RESOLVER.address)
    assert action.transactions[0]["transaction"] == tx

    page = client.get(urls(escrow)["resolution"]).content.decode()
    assert 'id="unsigned-transaction"' in page
    assert tx["data"] in page
    assert 'id="submit-form"' in page
    assert 'id="decision-form"' not in page  # one decision at a time

    before = {who.address: anvil_w3.eth.get_balance(who.address) for who in (dispute.sender, dispute.recipient)}
    response = client.post(
        urls(escrow)["submit"], {"decision": decision.pk, "signed_transaction": sign_as_resolver(tx)}
    )
    assert response.status_code == 302
    assert any(m.startswith("Resolution sent") for m in flashed(response)), flashed(response)
    action.refresh_from_db()
    assert action.status == "submitted"
    [tx_hash] = action.tx_hashes
    assert anvil_w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30)["status"] == 1

    onchain = get_escrow(anvil_w3, escrow_chain, escrow.onchain_id)
    assert onchain.state == "resolved"
    assert anvil_w3.eth.get_balance(dispute.recipient.address) - before[dispute.recipient.address] == ETH // 4
    assert anvil_w3.eth.get_balance(dispute.sender.address) - before[dispute.sender.address] == 3 * ETH // 4
    assert indexed(escrow.onchain_id).status == "resolved"
    decision.refresh_from_db()
    action.refresh_from_db()
    assert (decision.tx_hash.lower(), action.status) == (tx_hash.lower(), "done")
    assert (decision.reason, int(decision.to_recipient_base)) == ("Half the goods arrived.", ETH // 4)  # unchanged


def test_everything_to_one_side_is_a_valid_decision(dispute, resolver):
    client = logged_in_client(resolver)
    client.post(urls(dispute.escrow)["decide"], {"to_recipient": "1", "reason": "Delivered as agreed."})
    decision = DisputeDecision.objects.get()
    assert (int(decision.to_recipient_base), int(decision.to_sender_base)) == (ETH, 0)


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"to_recipient": "1.000000000000000001", "reason": "Too much"}, "at most the escrowed amount, 1"),
        ({"to_recipient": "2", "reason": "Too much"}, "at most the escrowed amount"),
        ({"to_recipient": "0.0000000000000000001", "reason": "Too precise"}, "At most 18 decimals"),
        ({"to_recipient": "-1", "reason": "Negative"}, "Amount to the recipient"),
        ({"to_recipient": "abc", "reason": "Words"}, "Amount to the recipient"),
        ({"to_recipient": "0.5", "reason": "   "}, "Reason"),
    ],
)
def test_a_bad_decision_is_refused_with_a_message(dispute, resolver, form, message):
    response = logged_in_client(resolver).post(urls(dispute.escrow)["decide"], form)
    assert response.status_code == 302
    assert any(message in m for m in flashed(response)), flashed(response)
    assert not DisputeDecision.objects.exists()
    assert not EscrowAction.objects.filter(kind="resolve").exists()


def test_an_escrow_that_is_not_disputed_cannot_be_decided(escrow_chain, anvil_w3, party, resolver, evidence_root):
    pending = make_dispute(anvil_w3, escrow_chain, party, disputed=False)
    client = logged_in_client(resolver)
    page = client.get(urls(pending.escrow)["resolution"]).content.decode()
    assert '<td id="onchain-state-value">pending</td>' in page
    assert 'id="decision-form"' not in page
    response = client.post(urls(pending.escrow)["decide"], {"to_recipient": "0.5", "reason": "No dispute"})
    assert any("not disputed" in m for m in flashed(response)), flashed(response)
    with pytest.raises(ApplicationError) as refused:
        disputes.dispute_decision_prepare(
            escrow=pending.escrow, staff_user=resolver, to_recipient=Decimal("0.5"), reason="x"
        )
    assert (refused.value.status_code, refused.value.code) == (409, "invalid_state")
    assert not DisputeDecision.objects.exists()


def test_a_row_that_lags_behind_the_chain_is_refused(dispute, resolver, anvil_w3, escrow_chain):
    """The row still says disputed, but the contract has moved on (not indexed yet): the chain decides."""
    decision = disputes.dispute_decision_prepare(
        escrow=dispute.escrow, staff_user=resolver, to_recipient=Decimal("0"), reason="Refund"
    )
    anvil_w3.eth.wait_for_transaction_receipt(
        anvil_w3.eth.send_raw_transaction(sign_as_resolver(decision.transaction)), timeout=30
    )
    EscrowAction.objects.filter(kind="resolve").update(status="lapsed")  # as if it had never been submitted here
    response = logged_in_client(resolver).post(urls(dispute.escrow)["decide"], {"to_recipient": "1", "reason": "x"})
    assert any("resolved on chain, not disputed" in m for m in flashed(response)), flashed(response)
    assert DisputeDecision.objects.count() == 1


def test_an_escrow_with_another_resolver_is_not_ours_to_decide(escrow_chain, anvil_w3, party, resolver, settings):
    settings.ESCROW_RESOLVER_ADDRESS = party().address  # the platform's key changed since the escrow was made
    found = make_dispute(anvil_w3, escrow_chain, party)
    response = logged_in_client(resolver).post(urls(found.escrow)["decide"], {"to_recipient": "0.5", "reason": "x"})
    assert any("another resolver" in m for m in flashed(response)), flashed(response)
    assert not DisputeDecision.objects.exists()


def test_one_open_decision_at_a_time(dispute, resolver):
    client = logged_in_client(resolver)
    client.post(urls(dispute.escrow)["decide"], {"to_recipient": "0.5", "reason": "First"})
    response = client.post(urls(dispute.escrow)["decide"], {"to_recipient": "0.6", "reason": "Second"})
    assert any("already prepared" in m for m in flashed(response)), flashed(response)
    assert list(DisputeDecision.objects.values_list("reason", flat=True)) == ["First"]


def test_a_transaction_that_is_not_the_prepared_one_is_refused(dispute, resolver, anvil_w3, escrow_chain):
    client = logged_in_client(resolver)
    client.post(urls(dispute.escrow)["decide"], {"to_recipient": "0.5", "reason": "Split"})
    decision = DisputeDecision.objects.get()
    other_split = dict(decision.transaction)
    other_split["data"] = contract.hex_data(
        contract.calldata("resolve", contract.id_bytes(dispute.escrow.onchain_id), ETH)
    )
    for signed in (sign_as_resolver(other_split), "0xdeadbeef"):
        response = client.post(urls(dispute.escrow)["submit"], {"decision": decision.pk, "signed_transaction": signed})
        assert response.status_code == 302
        assert flashed(response)
        assert not any(m.startswith("Resolution sent") for m in flashed(response))
    assert get_escrow(anvil_w3, escrow_chain, dispute.escrow.onchain_id).state == "disputed"
    assert EscrowAction.objects.get(kind="resolve").status == "prepared"


def test_only_the_resolver_who_decided_submits(dispute, resolver):
    logged_in_client(resolver).post(urls(dispute.escrow)["decide"], {"to_recipient": "0.5", "reason": "Split"})
    decision = DisputeDecision.objects.get()
    colleague = staff_user("colleague@engipay.test", GROUP)
    client = logged_in_client(colleague)
    assert 'id="submit-form"' not in client.get(urls(dispute.escrow)["resolution"]).content.decode()
    signed = sign_as_resolver(decision.transaction)
    response = client.post(urls(dispute.escrow)["submit"], {"decision": decision.pk, "signed_transaction": signed})
    assert any("Only the resolver who prepared" in m for m in flashed(response)), flashed(response)
    assert EscrowAction.objects.get(kind="resolve").status == "prepared"


def test_the_decision_log_and_deployments_are_read_only(dispute, resolver):
    logged_in_client(resolver).post(urls(dispute.escrow)["decide"], {"to_recipient": "0.5", "reason": "Split"})
    decision = DisputeDecision.objects.get()
    client = logged_in_client(resolver)
    page = client.get(f"/admin/escrow/disputedecision/{decision.pk}/change/")
    assert page.status_code == 200
    assert "Split" in page.content.decode()
    assert 'name="_save"' not in page.content.decode()
    assert client.post(f"/admin/escrow/disputedecision/{decision.pk}/change/", {"reason": "edited"}).status_code == 403
    assert client.post(f"/admin/escrow/disputedecision/{decision.pk}/delete/", {"post": "yes"}).status_code == 403
    assert DisputeDecision.objects.get().reason == "Split"
    assert client.get("/admin/escrow/escrowdeployment/").status_code == 403  # not the resolvers' business
    admin = staff_user("root@engipay.test", is_superuser=True)
    listed = logged_in_client(admin).get("/admin/escrow/escrowdeployment/")
    assert listed.status_code == 200
    assert dispute.deployment.address in listed.content.decode()
    assert logged_in_client(admin).get("/admin/escrow/escrowdeployment/add/").status_code == 403


def test_a_lapsed_decision_can_be_replaced_and_stays_in_the_log(dispute, resolver):
    client = logged_in_client(resolver)
    client.post(urls(dispute.escrow)["decide"], {"to_recipient": "0.5", "reason": "First"})
    EscrowAction.objects.filter(kind="resolve").update(prepared_until="2000-01-01T00:00:00Z")
    response = client.post(urls(dispute.escrow)["decide"], {"to_recipient": "0.4", "reason": "Second"})
    assert any(m.startswith("Decision logged") for m in flashed(response)), flashed(response)
    assert list(DisputeDecision.objects.order_by("id").values_list("reason", flat=True)) == ["First", "Second"]
    first = DisputeDecision.objects.get(reason="First")
    signed = sign_as_resolver(first.transaction)
    response = client.post(urls(dispute.escrow)["submit"], {"decision": first.pk, "signed_transaction": signed})
    assert any("replaced this one" in m for m in flashed(response)), flashed(response)
