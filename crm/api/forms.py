from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import RadioField, SelectField, StringField
from wtforms.validators import DataRequired, Length

from crm.api.tokens import LIFETIMES_DAYS, NAME_LENGTH


class NewTokenForm(FlaskForm):
    name = StringField(
        "Name",
        validators=[DataRequired(), Length(max=NAME_LENGTH)],
        description="What uses it: “Website pledge form”, “Monthly warehouse sync”.",
    )
    access = RadioField(
        "Access",
        choices=[("read", "Read only"), ("write", "Read and write")],
        default="read",
        validators=[DataRequired()],
    )
    days = SelectField(
        "Expires after",
        choices=[(str(d), f"{d} days") for d in LIFETIMES_DAYS],
        default="90",
        validators=[DataRequired()],
    )
