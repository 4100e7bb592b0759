"""What the service layer raises; each transport maps these to its own status codes."""

from __future__ import annotations


class ServiceError(Exception):
    """Base class: the message is one line meant for the API user."""


class UnauthenticatedError(ServiceError):
    """No credentials, malformed ones, or a key that is unknown, expired or revoked (401)."""


class PermissionDeniedError(ServiceError):
    """A valid key whose role may not do this (403)."""


class NotFoundError(ServiceError):
    """An unknown sensor, target, command or key (404)."""


class ConflictError(ServiceError):
    """The thing to create exists already (409)."""


class InvalidArgumentError(ServiceError):
    """Input the schema admits but the service refuses, such as a frequency too high (422)."""


class UnavailableError(ServiceError):
    """The broker or the database cannot be reached, or a query ran out of time (503)."""
