"""``manage.py signout_everywhere <user_pk> [--keep SESSION] [--reason TEXT]``: end a
user's sessions, leaving a reason each ended device's ``end_reason()`` tells."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ..._users import sign_out_everywhere, user_index_value

# As the command line's revoke: a device signed out from here can tell why.
DEFAULT_REASON = "revoked"
MAX_REASON = 64


class Command(BaseCommand):  # type: ignore[misc]
    help = "Deletes every session of a user (e.g. after a password reset or a stolen device)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("user_pk", help="the user's primary key")
        parser.add_argument(
            "--keep", metavar="SESSION", help="a session key or session id to spare"
        )
        parser.add_argument(
            "--reason",
            default=DEFAULT_REASON,
            metavar="TEXT",
            help=f"why, as the ended devices will tell it (1-{MAX_REASON} characters; "
            f"default: {DEFAULT_REASON})",
        )

    def handle(
        self,
        *args: Any,
        user_pk: str,
        keep: str | None = None,
        reason: str = DEFAULT_REASON,
        **options: Any,
    ) -> None:
        if not 1 <= len(reason) <= MAX_REASON:
            raise CommandError(f"--reason must be 1-{MAX_REASON} characters, not {len(reason)}")
        # The user need not exist any more: the sessions of a deleted user can be revoked.
        try:
            value = user_index_value(user_pk)
        except ValueError as error:
            raise CommandError(str(error)) from error
        deleted = sign_out_everywhere(value, keep=keep, reason=reason)
        self.stdout.write(f"Deleted {deleted} session(s) of user {value} (reason: {reason}).")
