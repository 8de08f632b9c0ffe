from __future__ import annotations

from wtforms import SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from crm.core.errors import OperationError
from crm.core.forms import CountryField, TagsField, VersionedForm, enum_choices
from crm.organizations.models import OrganizationKind
from crm.organizations.queries import by_name


class OrganizationForm(VersionedForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=200)])
    kind = SelectField(
        "Kind",
        choices=enum_choices(OrganizationKind, blank="— choose —"),
        validators=[DataRequired(message="Choose what kind of organization this is.")],
    )
    sector = StringField("Sector", validators=[Optional(), Length(max=100)])
    country = CountryField()
    website = StringField("Website", validators=[Optional(), Length(max=300)])
    tags = TagsField("Tags", description="Separate tags with commas.", validators=[Length(max=500)])
    notes = TextAreaField("Notes", validators=[Optional(), Length(max=10_000)])


def _no_such_organization(typed: str) -> str:
    return (
        f"There is no organization named “{typed.strip()}”. "
        "Pick one from the suggestions or create it first."
    )


def check_organization_name(form, field) -> None:
    """Inline validator for organization name fields: it must name an existing organization."""
    if field.data and field.data.strip() and by_name(field.data) is None:
        raise ValidationError(_no_such_organization(field.data))


def organization_id_named(field: StringField) -> int | None:
    """The id of the organization a name field names, None when it is left empty. A name that
    matches none (deleted since the field was checked) is refused, on that field."""
    if not (field.data and field.data.strip()):
        return None
    org = by_name(field.data)
    if org is None:
        raise OperationError(_no_such_organization(field.data), field=field.short_name)
    return org.id


class OrganizationNameField(StringField):
    """The name of an existing organization, typed with suggestions from the lookup (the page's
    `organization-options` list) and checked by `check_organization_name`."""

    def __init__(self, label: str = "Organization", *, required: bool = False, **kwargs):
        presence = DataRequired() if required else Optional()
        kwargs.setdefault("validators", [presence, Length(max=200), check_organization_name])
        kwargs.setdefault(
            "render_kw",
            {
                "list": "organization-options",
                "autocomplete": "off",
                "data-lookup": "/organizations/lookup",
            },
        )
        super().__init__(label, **kwargs)

    def process_data(self, value: object) -> None:
        # A form filled from a record (`obj=contact`) is given the Organization itself; keep its
        # name, so a post that leaves the field out (a forged or truncated one) still reads text.
        super().process_data(getattr(value, "name", value))
