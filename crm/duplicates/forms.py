"""The merge form: which record survives, the versions both were loaded at.

The field-by-field choices are radio groups named `choice-<field>` (values "first", "second",
and for notes "both"), read by the view against the fields the operation knows.
"""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, RadioField
from wtforms.validators import DataRequired

CHOICE_VALUES = ("first", "second", "both")


class MergeForm(FlaskForm):
    survivor = RadioField(
        "Record to keep",
        choices=[("first", "Keep the first"), ("second", "Keep the second")],
        default="first",
        validators=[DataRequired()],
    )
    first_version = HiddenField()
    second_version = HiddenField()

    def versions(self) -> tuple[int | None, int | None]:
        def number(value: str | None) -> int | None:
            try:
                return int(value) if value else None
            except ValueError:
                return None

        return number(self.first_version.data), number(self.second_version.data)
