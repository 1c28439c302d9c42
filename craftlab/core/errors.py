"""Errors a user can fix: the message is the whole story, printed as one line
(``error: ...``) with exit status 2 and no traceback (see craftlab.commands.cli)."""


class UserError(Exception):
    """A problem with what the user asked for; the message names it and the fix."""
