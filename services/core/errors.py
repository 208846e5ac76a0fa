"""Typed domain errors; each carries the HTTP status the API answers with, so none becomes a 500."""

from __future__ import annotations


class DomainError(Exception):
    status_code = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(DomainError):
    status_code = 404


class Conflict(DomainError):
    status_code = 409


class InvalidInput(DomainError):
    status_code = 422


class PayloadTooLarge(DomainError):
    status_code = 413


class ServiceUnavailable(DomainError):
    status_code = 503
