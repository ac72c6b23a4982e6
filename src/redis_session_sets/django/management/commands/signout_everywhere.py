"""``manage.py signout_everywhere <user_pk> [--keep SESSION]``: end a user's sessions."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ..._users import sign_out_everywhere, user_index_value


class Command(BaseCommand):  # type: ignore[misc]
    help = "Deletes every session of a user (e.g. after a password reset or a stolen device)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("user_pk", help="the user's primary key")
        parser.add_argument(
            "--keep", metavar="SESSION", help="a session key or session id to spare"
        )

    def handle(self, *args: Any, user_pk: str, keep: str | None = None, **options: Any) -> None:
        # The user need not exist any more: the sessions of a deleted user can be revoked.
        try:
            value = user_index_value(user_pk)
        except ValueError as error:
            raise CommandError(str(error)) from error
        deleted = sign_out_everywhere(value, keep=keep)
        self.stdout.write(f"Deleted {deleted} session(s) of user {value}.")
