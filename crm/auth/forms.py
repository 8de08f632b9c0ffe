from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, Optional

from crm.core.access import Role
from crm.core.forms import enum_choices
from crm.organizations.forms import OrganizationNameField


class LoginForm(FlaskForm):
    email = StringField("Email", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=500)])
    remember = BooleanField("Keep me signed in on this computer")


class ForgotPasswordForm(FlaskForm):
    email = StringField("Your email address", validators=[DataRequired(), Length(max=254)])


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField("Current password", validators=[DataRequired()])
    password = PasswordField("New password", validators=[DataRequired(), Length(max=500)])
    confirm = PasswordField(
        "Repeat the new password",
        validators=[DataRequired(), EqualTo("password", message="The two passwords differ.")],
    )


class AcceptInvitationForm(FlaskForm):
    password = PasswordField("Choose a password", validators=[DataRequired(), Length(max=500)])
    confirm = PasswordField(
        "Repeat the password",
        validators=[DataRequired(), EqualTo("password", message="The two passwords differ.")],
    )


class UserForm(FlaskForm):
    email = StringField("Email", validators=[DataRequired(), Length(max=254)])
    name = StringField("Name", validators=[DataRequired(), Length(max=200)])
    role = SelectField("Role", choices=enum_choices(Role))
    contact_email = StringField(
        "Linked contact",
        validators=[Optional(), Length(max=254)],
        description="For a champion: the email of the contact record that is this person.",
    )
    organization = OrganizationNameField(
        "Linked organization",
        description="For an organization representative: the organization they speak for.",
    )
    active = BooleanField("Active", default=True)
