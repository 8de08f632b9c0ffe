"""The request is the unit of work: it commits once when it ends well, and rolls back otherwise.

`CRMFlask.dispatch_request` runs the view, then commits when the response is a success (below
400) and rolls back on an error status or any exception, before the error page is drawn. Views
never commit or roll back. Because the commit happens inside dispatch, what it raises (someone
else saved first, the database is busy) reaches the app's error pages like any other error.

`attempt` runs one operation inside a savepoint for the form-submit pattern: a refusal
(`OperationError`) undoes only that operation and is shown on the form, and the rest of the
request (a recorded login attempt, say) is still committed at its end.

CLI commands and worker jobs are their own units of work and commit themselves.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeAlias, TypeVar

from flask import Flask, flash, g
from flask.typing import ResponseReturnValue
from sqlalchemy.orm.exc import StaleDataError

from crm.core.errors import CONFLICT_MESSAGE, ConflictError, OperationError
from crm.core.forms import show_operation_error
from crm.extensions import db

T = TypeVar("T")


class CRMFlask(Flask):
    """Flask whose every view is one transaction."""

    def dispatch_request(self) -> ResponseReturnValue:
        try:
            response = self.make_response(super().dispatch_request())
            keep = response.status_code < 400 or g.get("keep_changes")
            if keep and not g.get("discard_changes"):
                db.session.commit()
            else:
                db.session.rollback()
            return response
        except BaseException:
            db.session.rollback()
            raise


def discard_changes() -> None:
    """Nothing this request wrote is kept, though it answers with a success (a preview, a dry
    run): rolled back now and again at the end."""
    db.session.rollback()
    g.discard_changes = True


def keep_changes() -> None:
    """What this request wrote is committed though it answers with an error status: a refusal
    that must be recorded (a sign-in refused for too many failures, say)."""
    g.keep_changes = True


@dataclass(frozen=True)
class Done(Generic[T]):
    """An operation run by `attempt` that went through, and what it returned."""

    value: T

    # Fixed, so that testing `ok` (or `conflict`) tells a type checker which of the two it is.
    @property
    def ok(self) -> Literal[True]:
        return True

    @property
    def error(self) -> None:
        return None

    @property
    def conflict(self) -> Literal[False]:
        return False


@dataclass(frozen=True)
class Refused:
    """An operation run by `attempt` that was refused (and rolled back), and why."""

    error: OperationError

    @property
    def ok(self) -> Literal[False]:
        return False

    @property
    def value(self) -> None:
        return None

    @property
    def conflict(self) -> bool:
        return isinstance(self.error, ConflictError)


# What became of an operation run by `attempt`: `if done.ok:` finds `done.value`, otherwise
# `done.error`.
Attempt: TypeAlias = Done[T] | Refused


def attempt(operation: Callable[[], T], form: Any = None, *, show: bool = True) -> Attempt[T]:
    """Run `operation()` in a savepoint. A refusal rolls the savepoint back and is shown: on the
    form's field it names (or as a message at the top), or flashed when there is no form. A
    conflict (someone saved first) is left for the caller, which answers 409 with the form."""
    savepoint = db.session.begin_nested()
    try:
        try:
            value = operation()
            savepoint.commit()
        except StaleDataError:
            savepoint.rollback()  # the failed flush left it to be rolled back
            # Another save landed between our version check and our write (PostgreSQL lets
            # both read, then the second's UPDATE finds the version moved): the same refusal
            # as a stale form, so the form comes back with what was typed.
            raise ConflictError(CONFLICT_MESSAGE) from None
    except OperationError as error:
        if savepoint.is_active:
            savepoint.rollback()
        if show and not isinstance(error, ConflictError):
            if form is not None:
                show_operation_error(form, error)
            else:
                flash(error.message, "danger")
        return Refused(error)
    return Done(value)


def attempt_flashed(
    operation: Callable[[], T], *, refused: str = "{}", category: str = "danger"
) -> Attempt[T]:
    """`attempt` for a button, with no form to show a refusal on: every refusal, a conflict
    included, is flashed, worded by `refused` ("Not moved: {}" puts the reason in)."""
    done = attempt(operation, show=False)
    if done.error is not None:
        flash(refused.format(done.error.message), category)
    return done
