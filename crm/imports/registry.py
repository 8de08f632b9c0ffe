"""Which importer reads which record type."""

from __future__ import annotations

from crm.imports.contacts import ContactImporter
from crm.imports.organizations import OrganizationImporter
from crm.imports.records import EndorsementImporter, ParticipantImporter, PledgeImporter

IMPORTERS = {
    "organizations": OrganizationImporter,
    "contacts": ContactImporter,
    "participants": ParticipantImporter,
    "endorsements": EndorsementImporter,
    "pledges": PledgeImporter,
}
