"""World regions for countries, as the World Bank groups them; the values match the
champion regions (`crm.champions.models.Region`), so one list serves segments and reports.

Every country ISO 3166-1 (pycountry) knows has a region, or its contacts would drop out of
region segments and reports. Territories the World Bank does not classify go where the UN's M49
geographic regions put them: Réunion, Mayotte, Saint Helena and the British and French Indian
Ocean territories with Africa; Western Sahara with its North African neighbours; Åland, the
Channel Islands, Svalbard and the Holy See with Europe; Saint Pierre and Miquelon with North
America; the Caribbean and South Atlantic ones with Latin America; the Pacific ones with Asia
and the Pacific, and Antarctica too (M49 gives it no region; Unicode's CLDR counts it in
Outlying Oceania)."""

from __future__ import annotations

_REGIONS = {
    "asia_pacific": "AS AU BN KH CN FJ PF GU HK ID JP KI KP KR LA MO MY MH FM MN MM NR NC NZ MP "
    "PW PG PH WS SG SB TW TH TL TO TV VU VN "
    "AQ CC CK CX HM NF NU PN TK UM WF",
    "europe": "AL AD AM AT AZ BY BE BA BG HR CY CZ DK EE FO FI FR GE DE GI GR GL HU IS IE IM IT "
    "KZ XK KG LV LI LT LU MD MC ME NL MK NO PL PT RO RU SM RS SK SI ES SE CH TJ TR TM UA GB UZ "
    "AX GG JE SJ VA",
    "latin_america": "AG AR AW BS BB BZ BO BR VG KY CL CO CR CU CW DM DO EC SV GD GT GY HT HN JM "
    "MX NI PA PY PE PR SX KN LC MF VC SR TT TC UY VE VI "
    "AI BL BQ BV FK GF GP GS MQ MS",
    "middle_east": "DZ BH DJ EG IR IQ IL JO KW LB LY MT MA OM PS QA SA SY TN AE YE EH",
    "north_america": "BM CA US PM",
    "south_asia": "AF BD BT IN MV NP PK LK",
    "africa": "AO BJ BW BF BI CV CM CF TD KM CD CG CI GQ ER SZ ET GA GM GH GN GW KE LS LR MG MW "
    "ML MR MU MZ NA NE NG RW ST SN SC SL SO ZA SS SD TZ TG UG ZM ZW "
    "IO RE SH TF YT",
}

COUNTRIES_BY_REGION: dict[str, list[str]] = {r: codes.split() for r, codes in _REGIONS.items()}
REGION_OF_COUNTRY: dict[str, str] = {
    code: region for region, codes in COUNTRIES_BY_REGION.items() for code in codes
}


def region_of(country: str | None) -> str | None:
    return REGION_OF_COUNTRY.get((country or "").upper())


def countries_in(regions: list[str]) -> list[str]:
    return sorted({code for region in regions for code in COUNTRIES_BY_REGION.get(region, [])})
