"""Jobs committed by a transaction that must be sent to the broker once it commits.

A job row is always committed before its message is sent, so a worker never meets a job that
is not stored. Code deep inside a transaction (a finished job letting the job queued after it
go, a fan-out parent creating its next window of children) notes here what to send; whoever
owns the transaction takes the list before committing and sends it after. A note lost to a
crash between the commit and the send is harmless: the recovery scan sends again any job
queued for a while whose message the broker does not hold.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from services.core.jobs.queues import Queue

_KEY = "copiloto.outbox"


@dataclass(frozen=True)
class FollowUp:
    """A committed job to send: its id and the queue it goes to."""

    job_id: str
    queue: Queue


def note(session: Session, job_id: str, queue: Queue) -> None:
    pending: list[FollowUp] = session.info.setdefault(_KEY, [])
    if all(f.job_id != job_id for f in pending):
        pending.append(FollowUp(job_id, Queue(queue)))


def take(session: Session) -> list[FollowUp]:
    """What this transaction committed to send (call just before the commit)."""
    return list(session.info.pop(_KEY, []))
