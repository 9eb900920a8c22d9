"""grant_credits USER AMOUNT [--note TEXT]: give a user more credits (a new ledger row) and print the balance."""
from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from rich.console import Console

from tasks_app import audit, credits


class Command(BaseCommand):
    help = ("Grant credits to a user (by username or email). Their tasks paused at the credit limit "
            "continue when resumed.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("user", help="username, or the email of exactly one user")
        parser.add_argument("amount", help="whole credits to add, 1 or more")
        parser.add_argument("--note", default="", help="why (kept in the ledger)")

    def handle(self, *args: Any, **options: Any) -> None:
        console = Console()
        user = _user(options["user"])
        try:
            amount = int(options["amount"])
        except ValueError:
            raise CommandError(f"AMOUNT must be a whole number of credits, got {options['amount']!r}") from None
        try:
            with audit.acting(audit.command_actor()):  # the audit log says a command granted them
                entry = credits.credits_grant(user=user, amount=amount,
                                              note=options["note"] or "granted with manage.py grant_credits")
        except credits.InvalidGrant as exc:
            raise CommandError(str(exc)) from None
        balance = credits.credit_balance(user=user)
        console.print(f"granted [bold]{entry.amount}[/] credits to {user.get_username()}: "
                      f"balance [bold]{balance}[/]")


def _user(name: str) -> Any:
    users = get_user_model().objects
    user = users.filter(username=name).first()
    if user is None and "@" in name:
        matches = list(users.filter(email__iexact=name)[:2])
        if len(matches) > 1:
            raise CommandError(f"more than one user has the email {name}: give the username")
        user = matches[0] if matches else None
    if user is None:
        raise CommandError(f"no user {name!r}")
    return user
