"""``manage.py escrow_deploy``: deploy EngiPayEscrow with ESCROW_OPERATOR_PRIVATE_KEY (or register an existing
deployment with ``--address``) and record its address per chain. Idempotent."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.chains.registry import chains
from apps.escrow.services import deploy
from engipay.api.errors import ApplicationError


class Command(BaseCommand):
    help = "Deploy the escrow contract on a chain with the operator key from the environment, or register one."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--network", help="A key of CHAINS (default: the only EVM chain).")
        parser.add_argument("--address", help="Register this existing deployment instead of deploying.")
        parser.add_argument("--block", type=int, help="With --address: the block it was deployed in.")
        parser.add_argument(
            "--force",
            action="store_true",
            help="Replace a recorded contract (other code, no code, another address): its escrows are then "
            "no longer followed.",
        )

    def handle(
        self, *args, network: str | None, address: str | None, block: int | None, force: bool, **options
    ) -> None:
        if network is None:
            evm = [c.key for c in chains() if c.kind == "evm"]
            if len(evm) != 1:
                raise CommandError(f"Name the chain with --network (EVM chains: {', '.join(evm) or 'none'}).")
            network = evm[0]
        try:
            if address:
                if block is None:
                    raise CommandError("--address needs --block (where indexing starts).")
                deployment, now = (
                    deploy.escrow_register(network=network, address=address, block=block, force=force),
                    True,
                )
            else:
                deployment, now = deploy.escrow_deploy(network=network, force=force)
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        verb = "recorded" if now else "already deployed"
        self.stdout.write(
            f"EngiPayEscrow on {network} at {deployment.address} ({verb}, block {deployment.deployed_block})"
        )
