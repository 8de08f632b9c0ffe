from __future__ import annotations

from wtforms import (
    DateField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    widgets,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from crm.champions.models import EndorsementKind, Region, Stage
from crm.core.forms import VersionedForm, enum_choices

REACH = [Optional(), NumberRange(min=0, max=2_000_000_000, message="Give a number of people.")]


class ProfileForm(VersionedForm):
    """What a champion keeps up to date themselves."""

    audience_reach = IntegerField(
        "Audience reach",
        validators=REACH,
        description="Roughly how many people you reach: followers, readers, members.",
    )
    channels = StringField(
        "Channels",
        validators=[Optional(), Length(max=300)],
        description="Comma separated, e.g. LinkedIn, newsletter, conference talks.",
    )
    bio = TextAreaField("About", validators=[Optional(), Length(max=5_000)])


class ChampionForm(ProfileForm):
    owner_id = SelectField("Owner", choices=[], validate_choice=False)
    # Checked by the operation, which names the bad value.
    region = SelectField("Region", choices=enum_choices(Region, blank="—"), validate_choice=False)
    next_step = StringField("Next step", validators=[Optional(), Length(max=300)])
    next_step_due = DateField("Due", validators=[Optional()])

    def __init__(self, *args, owner_choices: list[tuple[str, str]], **kwargs):
        super().__init__(*args, **kwargs)
        self.owner_id.choices = [("", "—"), *owner_choices]


class NewChampionForm(ChampionForm):
    contact_ids = SelectMultipleField("Contact", coerce=int, validate_choice=False)
    stage = SelectField(
        "Starting stage",
        choices=[(s.value, s.label) for s in Stage if s is not Stage.LAPSED],
        validate_choice=False,
    )
    note = StringField("Note", validators=[Optional(), Length(max=500)])


class MoveForm(VersionedForm):
    stage = SelectField("Move to", choices=enum_choices(Stage), validate_choice=False)
    note = StringField("Note", validators=[Optional(), Length(max=500)])


class MultiCheckboxField(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


class EndorsementForm(VersionedForm):
    kind = SelectField("Kind", choices=enum_choices(EndorsementKind), validate_choice=False)
    made_on = DateField("Date", validators=[InputRequired(message="Give the date.")])
    title = StringField(
        "What it was",
        validators=[DataRequired(message="Say what it was."), Length(max=300)],
        description="e.g. “Keynote at the Responsible Sourcing Forum”.",
    )
    link = StringField("Link", validators=[Optional(), Length(max=500)])
    audience_reach = IntegerField("Audience reach", validators=REACH)
    principle_ids = MultiCheckboxField(
        "Principles referenced", coerce=int, choices=[], validate_choice=False
    )
    referred_organization = StringField(
        "Organization referred",
        validators=[Optional(), Length(max=200)],
        description="For a referral: the organization you brought to the principles.",
    )
    notes = TextAreaField("Notes", validators=[Optional(), Length(max=5_000)])

    def __init__(self, *args, principle_choices: list[tuple[int, str]], **kwargs):
        super().__init__(*args, **kwargs)
        self.principle_ids.choices = principle_choices


class RejectForm(VersionedForm):
    reason = StringField(
        "Reason",
        validators=[DataRequired(message="Say why, so the champion knows."), Length(max=500)],
    )
