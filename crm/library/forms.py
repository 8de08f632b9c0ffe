from __future__ import annotations

from wtforms import BooleanField, DateField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from crm.champions.forms import MultiCheckboxField
from crm.core.forms import VersionedForm, enum_choices
from crm.library.models import Outcome, Technology


class CaseStudyForm(VersionedForm):
    title = StringField("Title", validators=[DataRequired(), Length(max=200)])
    # No answer chosen for the contributor: a blank that must be replaced.
    technology = SelectField(
        "Technology",
        choices=[("", "— choose —"), *enum_choices(Technology)],
        validators=[DataRequired(message="Choose the kind of technology.")],
        validate_choice=False,
    )
    outcome = SelectField(
        "Outcome",
        choices=[("", "— choose —"), *enum_choices(Outcome)],
        validators=[DataRequired(message="Choose whether it worked.")],
        validate_choice=False,
    )
    organizations = TextAreaField(
        "Organizations",
        validators=[Optional(), Length(max=2_000)],
        description="One per line (optional).",
    )
    countries = StringField(
        "Countries",
        validators=[Optional(), Length(max=300)],
        description="Comma separated names or codes, e.g. Bangladesh, VN.",
    )
    sectors = StringField("Sectors", validators=[Optional(), Length(max=200)])
    workers_reached = IntegerField(
        "Workers reached",
        validators=[Optional(), NumberRange(min=0, message="Give a number of workers.")],
    )
    happened_on = DateField("When", validators=[Optional()])
    source_link = StringField("Source", validators=[Optional(), Length(max=500)])
    principle_ids = MultiCheckboxField(
        "Principles concerned", coerce=int, choices=[], validate_choice=False
    )
    what_happened = TextAreaField("What happened", validators=[DataRequired(), Length(max=20_000)])
    lessons = TextAreaField("Lessons", validators=[DataRequired(), Length(max=20_000)])
    shareable = BooleanField("May be shared publicly")

    def __init__(self, *args, principle_choices: list[tuple[int, str]], **kwargs):
        super().__init__(*args, **kwargs)
        self.principle_ids.choices = principle_choices


class NoteForm(VersionedForm):
    note = StringField("Note", validators=[Optional(), Length(max=500)])
