from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from crm.core.forms import VersionedForm, enum_choices
from crm.standards.models import StandardStatus
from crm.standards.operations import CODE_MAX, TEXT_MAX, TITLE_MAX

# The version field of these forms holds a checksum of what the form showed (see
# `crm.standards.operations.fingerprint`): standards carry no version column.


class StandardForm(VersionedForm):
    title = StringField("Title", validators=[DataRequired(), Length(max=TITLE_MAX)])


class SupersedeForm(FlaskForm):
    # The version number's format, its uniqueness and its order are the operation's checks.
    version = StringField(
        "New version",
        validators=[DataRequired(), Length(max=20)],
        description="Numbers separated by dots, higher than the version it supersedes: 2.0, 1.1.",
    )
    title = StringField("Title", validators=[DataRequired(), Length(max=TITLE_MAX)])


class PrincipleForm(VersionedForm):
    code = StringField(
        "Code",
        validators=[DataRequired(), Length(max=CODE_MAX)],
        description="Unique within the version, e.g. P1.",
    )
    title = StringField("Title", validators=[DataRequired(), Length(max=TITLE_MAX)])
    text = TextAreaField(
        "Text",
        validators=[Optional(), Length(max=TEXT_MAX)],
        description="What the principle asks of an organization. Blank lines separate paragraphs.",
    )


class StatusForm(FlaskForm):
    status = SelectField("Status", choices=enum_choices(StandardStatus), validate_choice=False)
