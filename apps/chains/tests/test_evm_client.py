from __future__ import annotations

import pytest
from eth_account import Account

from apps.chains.clients import BalanceQuery, client_for
from apps.chains.models import NATIVE_ADDRESS
from engipay.api.errors import ChainUnavailable

pytestmark = pytest.mark.django_db


def test_balances_of_many_tokens_and_owners_take_one_eth_call(rpc_recorder, deploy_token, anvil_w3):
    owners = [Account.create().address, Account.create().address]
    tokens = [deploy_token(f"T{i}", 6 + i, {owners[0]: 10**6 * (i + 1), owners[1]: 7 * (i + 1)}) for i in range(5)]
    anvil_w3.provider.make_request("anvil_setBalance", [owners[0], hex(123 * 10**18)])
    queries = [BalanceQuery(o, t) for o in owners for t in [NATIVE_ADDRESS, *tokens]]
    rpc_recorder.reset()
    snapshot = client_for("local").balances(queries)
    assert rpc_recorder.methods == {"eth_call": 1}
    for query in queries:
        if query.asset_address == NATIVE_ADDRESS:
            expected = anvil_w3.eth.get_balance(query.owner)
        else:
            expected = (
                anvil_w3.eth.contract(
                    address=query.asset_address,
                    abi=[
                        {
                            "name": "balanceOf",
                            "type": "function",
                            "stateMutability": "view",
                            "inputs": [{"name": "a", "type": "address"}],
                            "outputs": [{"name": "", "type": "uint256"}],
                        }
                    ],
                )
                .functions.balanceOf(query.owner)
                .call()
            )
        assert snapshot.balances[query] == expected
    assert snapshot.block.number == anvil_w3.eth.block_number


def test_a_contract_that_is_not_a_token_gives_no_balance_not_a_failure(rpc_recorder):
    owner = Account.create().address
    query = BalanceQuery(owner, Account.create().address)  # no code there
    snapshot = client_for("local").balances([query, BalanceQuery(owner, NATIVE_ADDRESS)])
    assert snapshot.balances[query] is None
    assert snapshot.balances[BalanceQuery(owner, NATIVE_ADDRESS)] == 0


def test_a_dead_node_is_chain_unavailable_quickly(settings):
    from conftest import free_port

    settings.CHAINS = {"local": {"kind": "evm", "chain_id": 31337, "rpc_urls": [f"http://127.0.0.1:{free_port()}"]}}
    with pytest.raises(ChainUnavailable) as caught:
        client_for("local").head()
    assert caught.value.status_code == 503
    assert caught.value.code == "chain_unavailable"


def test_failover_to_the_next_rpc_url(settings, anvil, anvil_w3):
    from conftest import free_port

    settings.CHAINS = {
        "local": {"kind": "evm", "chain_id": 31337, "rpc_urls": [f"http://127.0.0.1:{free_port()}", anvil]}
    }
    assert client_for("local").head().number == anvil_w3.eth.block_number


def test_the_stored_artifacts_are_what_the_sources_compile_to():
    from apps.chains.solidity import CHAINS_CONTRACTS, artifact, compile_sources

    for name, compiled in compile_sources(CHAINS_CONTRACTS / "src").items():
        assert compiled == artifact(name), f"{name}: run `manage.py compile_contracts`"


def _serve(status: int, body: bytes, content_type: str):
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            return

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


@pytest.mark.parametrize(
    ("status", "body", "content_type"),
    [
        (403, b'{"error": "key expired"}', "application/json"),
        (401, b"Unauthorized", "text/plain"),
        (200, b"<html>maintenance</html>", "text/html"),
        (502, b"<html>bad gateway</html>", "text/html"),
    ],
)
def test_a_broken_endpoint_fails_over_and_alone_is_chain_unavailable(
    settings, anvil, anvil_w3, status, body, content_type
):
    server, url = _serve(status, body, content_type)
    try:
        settings.CHAINS = {"local": {"kind": "evm", "chain_id": 31337, "rpc_urls": [url, anvil]}}
        assert client_for("local").head().number == anvil_w3.eth.block_number
        settings.CHAINS = {"local": {"kind": "evm", "chain_id": 31337, "rpc_urls": [url]}}
        with pytest.raises(ChainUnavailable):
            client_for("local").head()
    finally:
        server.shutdown()
