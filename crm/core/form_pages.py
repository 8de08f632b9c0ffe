"""A page with a form, submitted: validate it, run the operation as one attempt, answer.

Every new/edit page does the same after loading its record and checking access: when the form is
posted and valid, the operation runs in `attempt` (a refusal shown on the form); when someone
else saved first, the form takes the record's current version, so that a deliberate second save
wins; and the page answers 409 for that conflict, 422 when the form or the operation refused
the values, 200 otherwise. What it flashes and where it goes next stays in the view.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from flask_wtf import FlaskForm

from crm.core.errors import OperationError
from crm.core.unit_of_work import Attempt, attempt

T = TypeVar("T")


class Versioned(Protocol):
    """A record with optimistic locking (a `version` column)."""

    version: Any


@dataclass
class Submission(Generic[T]):
    """What became of a form page's request."""

    form: FlaskForm
    done: Attempt[T] | None = None  # None: not posted, or the form refused its values

    @property
    def ok(self) -> bool:
        return self.done is not None and self.done.ok

    @property
    def value(self) -> T | None:
        """What the operation returned, once `ok`."""
        return self.done.value if self.done is not None else None

    @property
    def error(self) -> OperationError | None:
        return self.done.error if self.done is not None else None

    @property
    def conflict(self) -> bool:
        return self.done is not None and self.done.conflict

    @property
    def invalid(self) -> bool:
        """Posted, but the form itself refused the values (the operation did not run)."""
        return self.done is None and self.form.is_submitted()

    @property
    def status(self) -> int:
        """The status to draw the form again with."""
        if self.conflict:
            return 409
        return 422 if self.form.errors else 200


def submit_form(
    form: FlaskForm, operation: Callable[[], T], *, record: Versioned | None = None
) -> Submission[T]:
    """Run `operation` when `form` is posted and valid. With `record`, a conflict puts the
    record's current version on the form (`VersionedForm`), for the person to save again."""
    if not form.validate_on_submit():
        return Submission(form)
    done = attempt(operation, form)
    if done.conflict and record is not None:
        form.version.data = str(record.version)
    return Submission(form, done)
