"""Every country has a world region, so no contact drops out of region segments and reports."""

from __future__ import annotations

import pycountry
import pytest

from crm.champions.models import Region
from crm.core.regions import COUNTRIES_BY_REGION, REGION_OF_COUNTRY, countries_in, region_of

pytestmark = pytest.mark.no_db


def test_every_country_pycountry_knows_has_a_region():
    missing = [c.alpha_2 for c in pycountry.countries if c.alpha_2 not in REGION_OF_COUNTRY]
    assert missing == []


def test_each_country_is_in_one_region_and_each_region_is_a_champion_region():
    codes = [code for region in COUNTRIES_BY_REGION.values() for code in region]
    assert len(codes) == len(set(codes))
    assert set(COUNTRIES_BY_REGION) <= {region.value for region in Region}
    known = {c.alpha_2 for c in pycountry.countries} | {"XK"}  # Kosovo: a user-assigned code
    assert set(codes) <= known


def test_territories_the_world_bank_leaves_out():
    assert region_of("re") == region_of("YT") == "africa"
    assert region_of("EH") == "middle_east"
    assert region_of("JE") == region_of("AX") == "europe"
    assert "GP" in countries_in(["latin_america"])
    assert region_of(None) is None and region_of("ZZ") is None
