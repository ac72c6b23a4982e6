"""The library's own exception."""


class SessionStoreError(RuntimeError):
    """Redis could not be reached or refused an operation; the cause is chained."""
