"""Demo data for the support back office (``make run``, after ``demo_data``): the demo agent's profile and team
memberships, and a handful of macros. Idempotent: a macro an agent has since edited keeps its text."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction

from apps.accounts.models import User
from apps.support.models import AgentProfile, Macro, Team

AGENT_EMAIL = "agent@engipay.local"
AGENT_NAME = "Sam from EngiPay"
AGENT_TEAMS = ["general", "technical", "payments"]

MACROS = [
    # name, team slug (None: every team), status it sets ("" keeps the reply's default), body
    ("Greeting: looking into it", None, "",
     "Hi {name},\n\nThanks for reaching out. I'm looking into this now and will get back to you shortly."),
    ("Ask for the transaction hash", "payments", "pending",
     "Hi {name},\n\nCould you send us the transaction hash (it starts with 0x) and the network you used? "
     "You'll find it under Activity → the transaction → Details."),
    ("Wallet reconnect steps", "technical", "pending",
     "Hi {name},\n\nPlease try this: 1) disconnect the wallet in Settings → Wallets, 2) refresh the page, "
     "3) connect again and approve the signature request. Let us know if it still fails."),
    ("Pending transaction explained", "payments", "pending",
     "Hi {name},\n\nYour transaction is waiting to be confirmed by the network. This usually takes a few minutes "
     "when fees are high; no funds are lost while it is pending. We'll keep an eye on it."),
    ("Resolved: closing note", None, "resolved",
     "Hi {name},\n\nGlad this is sorted! I'm marking the ticket as resolved; reply here any time if you need "
     "more help."),
]  # fmt: skip


class Command(BaseCommand):
    help = "Give the demo support agent a profile and teams, and load demo macros (safe to run again)."

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        agent = User.objects.filter(email=AGENT_EMAIL).first()
        if agent is None:
            self.stdout.write(f"No {AGENT_EMAIL} (run demo_data first): no demo agent profile.")
        else:
            profile, created = AgentProfile.objects.get_or_create(user=agent, defaults={"display_name": AGENT_NAME})
            if not profile.display_name:
                profile.display_name = AGENT_NAME
                profile.save(update_fields=["display_name"])
            profile.teams.add(*Team.objects.filter(slug__in=AGENT_TEAMS))
            self.stdout.write(f"Demo support agent: {AGENT_EMAIL} as “{profile}” ({'created' if created else 'kept'})")
        teams = {team.slug: team for team in Team.objects.all()}
        added = 0
        for name, team, status, body in MACROS:
            _, made = Macro.objects.get_or_create(
                name=name, defaults={"team": teams.get(team) if team else None, "set_status": status, "body": body}
            )
            added += made
        self.stdout.write(f"Demo macros: {added} added, {len(MACROS) - added} already there.")
