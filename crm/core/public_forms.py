"""The guard in front of every public form's operation: a honeypot, then a cap per network address.

A public form (an event registration, a pledge, a consultation answer) is open to anyone. After
its CSRF token and fields are valid, a filled honeypot (`HoneypotField`) marks a bot, answered
as if all went well with nothing stored; otherwise the submission is counted against the hourly
cap (`crm/core/flood.py`) and the operation runs, both in one savepoint, so that a refusal (the
cap's own included) keeps nothing, not even the count. The request commits the rest at its end
(`crm/core/unit_of_work.py`); the operation queues any email with it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import current_app
from flask_wtf import FlaskForm

from crm.core.flood import check_and_record
from crm.core.forms import HoneypotField
from crm.core.http import client_address
from crm.core.unit_of_work import Attempt, attempt

T = TypeVar("T")


def filled_honeypot(form: FlaskForm) -> bool:
    """Whether a bot gave itself away by filling a field people never see."""
    return any(isinstance(field, HoneypotField) and field.data for field in form)


def submit_public_form(
    form: FlaskForm, cap_name: str, operation: Callable[[], T], *, show: bool = True
) -> Attempt[T] | None:
    """Run a valid public form's `operation` behind the honeypot and the hourly cap named
    `cap_name`. None: a bot, to be answered like a success. Otherwise what became of it: a
    refusal is shown on the form (or left to the caller with `show=False`)."""
    if filled_honeypot(form):
        return None

    def counted() -> T:
        check_and_record(cap_name, client_address(), current_app.config["PUBLIC_FORM_HOURLY_LIMIT"])
        return operation()

    return attempt(counted, form, show=show)
