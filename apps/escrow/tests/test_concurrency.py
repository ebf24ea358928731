"""Twenty concurrent accept / cancel requests on one escrow: exactly one transition is prepared, and the chain
agrees once it is signed. PostgreSQL: concurrent transactions with row locks."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections
from rest_framework.test import APIClient

from apps.chains.clients import client_for
from apps.chains.registry import chain
from apps.escrow import chain as contract
from apps.escrow.models import Escrow, EscrowAction

postgres_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent transactions need PostgreSQL")
pytestmark = [pytest.mark.django_db(transaction=True), postgres_only]


def test_twenty_concurrent_accepts_and_cancels_prepare_one_winner(flow, party):
    sender, recipient = party(), party()
    escrow_id = flow.created(sender, recipient)
    start = threading.Barrier(20)
    results: list[tuple[str, int, dict]] = []
    lock = threading.Lock()

    def ask(who, action: str) -> None:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {who.token}")
        start.wait()
        try:
            response = client.post(f"/api/payments/escrow/{escrow_id}/{action}", format="json")
            with lock:
                results.append((action, response.status_code, response.json()))
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=ask, args=(recipient, "accept") if i % 2 else (sender, "cancel")) for i in range(20)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(results) == 20
    transitions = EscrowAction.objects.filter(escrow_id=escrow_id).exclude(kind=EscrowAction.Kind.CREATE)
    assert transitions.count() == 1  # one prepared winner, nothing else written
    winner = transitions.get()
    granted = [body for action, status, body in results if status == 200]
    refused = [(action, body) for action, status, body in results if status != 200]
    assert {body["action"] for body in granted} == {winner.kind}
    assert len({body["transaction"]["data"] for body in granted}) == 1  # repeats got the same call
    assert all(status in (200, 409) for _, status, _ in results)
    assert all(action != winner.kind for action, _ in refused)
    assert {body["error"]["code"] for _, body in refused} == {"transition_in_progress"}
    # The winner signs and submits; the chain ends in the winner's state, and so does the row.
    signer = recipient if winner.kind == "accept" else sender
    submitted = flow.submit(signer, escrow_id, granted[0])
    assert submitted.status_code == 202
    flow.mined(submitted.json()["transaction_hashes"])
    flow.index()
    escrow = Escrow.objects.get(pk=escrow_id)
    expected = {"accept": "accepted", "cancel": "cancelled"}[winner.kind]
    client = client_for(chain(escrow.deployment.network))
    assert (
        contract.escrow_read(client, contract=escrow.deployment.address, onchain_id=escrow.onchain_id).state == expected
    )
    assert escrow.status == expected
