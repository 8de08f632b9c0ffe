"""Every dedupe rule, its score and its reason; what is not a duplicate stays out."""

from __future__ import annotations

import numpy as np
import pytest
import sqlalchemy as sa

from crm.duplicates import queries, scan
from crm.duplicates.models import DuplicateKind
from crm.duplicates.operations import scans


def pairs_by_ids(result):
    return {(p.low_id, p.high_id): p for p in result.pairs}


def rules(pair):
    return [r.rule for r in pair.reasons]


def test_same_email_ignoring_case(db, make_contact):
    a = make_contact("Amara", "Mensah", email="amara@example.org")
    b = make_contact("A.", "Osei", email="placeholder@example.org")
    # Rows that slipped in before emails were normalized (imports, old data).
    db.session.execute(
        sa.text("UPDATE contact SET email = 'Amara@Example.org' WHERE id = :i"), {"i": b.id}
    )
    make_contact("Someone", "Else", email="someone@example.org")
    found = pairs_by_ids(scan.scan_contacts())
    assert list(found) == [(a.id, b.id)]
    assert found[(a.id, b.id)].score == 100
    assert rules(found[(a.id, b.id)]) == ["email"]


def test_same_phone_digits_but_not_a_switchboard(db, make_contact):
    a = make_contact("Kofi", "Boateng", phone="+233 20 555 0101")
    b = make_contact("K", "Boateng Jr", phone="(233) 205-550101")
    make_contact("Short", "Number", phone="12-34")
    make_contact("Other", "Short", phone="1234")
    switchboard = [make_contact(f"Staff{i}", "Desk", phone="+44 20 7946 0000") for i in range(6)]
    # Two colleagues at one small office: the same number, plainly different people.
    make_contact("Kwame", "Mensah", phone="+233 30 222 0000")
    make_contact("Zainab", "Bello", phone="+233 30 222 0000")
    found = pairs_by_ids(scan.scan_contacts())
    assert list(found) == [(a.id, b.id)]
    assert found[(a.id, b.id)].score == 80
    assert len(switchboard) > scan.MAX_GROUP


def test_similar_name_in_the_same_organization(db, make_org, make_contact):
    acme, other_org = make_org("Acme Ltd"), make_org("Other Co")
    a = make_contact("Farhana", "Rahman", organization_id=acme.id)
    b = make_contact("Farhana", "Rahmen", organization_id=acme.id)  # a typo
    c = make_contact("Rahman", "Farhana", organization_id=acme.id)  # swapped
    d = make_contact("Fárhana", "Ráhman", organization_id=acme.id)  # accents
    make_contact("Farhana", "Rahman", organization_id=other_org.id)  # another organization
    make_contact("Farhana", "Rahman")  # no organization
    make_contact("Nusrat", "Jahan", organization_id=acme.id)
    result = scan.scan_contacts()
    found = pairs_by_ids(result)
    assert set(found) == {
        (a.id, b.id),
        (a.id, c.id),
        (a.id, d.id),
        (b.id, c.id),
        (b.id, d.id),
        (c.id, d.id),
    }
    exact = found[(a.id, d.id)]
    assert exact.reasons[0].similarity == 100 and exact.score == 95
    typo = found[(a.id, b.id)]
    assert 90 <= typo.reasons[0].similarity < 100
    assert typo.reasons[0].organization_id == acme.id
    assert queries.describe(DuplicateKind.CONTACT, typo.reasons[0], {acme.id: "Acme Ltd"}) == (
        f"names {typo.reasons[0].similarity}% alike in Acme Ltd"
    )


def test_the_threshold_is_configurable(app, db, make_org, make_contact, monkeypatch, run_jobs):
    acme = make_org()
    make_contact("Farhana", "Rahman", organization_id=acme.id)
    make_contact("Farida", "Rahman", organization_id=acme.id)
    assert scan.scan_contacts(threshold=90).pairs == []
    assert len(scan.scan_contacts(threshold=75).pairs) == 1
    monkeypatch.setitem(app.config, "DUPLICATE_THRESHOLD", 75)  # CRM_DUPLICATE_THRESHOLD
    scans.request_scan(None, DuplicateKind.CONTACT)  # the scan job reads the setting
    db.session.commit()
    run_jobs()
    with app.test_request_context():
        assert len(queries.page_of_pairs(DuplicateKind.CONTACT).rows) == 1


def test_rules_that_agree_add_up(db, make_org, make_contact):
    acme = make_org()
    a = make_contact("Ana", "Lima", phone="+55 11 5555 0101", organization_id=acme.id)
    b = make_contact("Ana", "Lima", phone="55 11 5555-0101", organization_id=acme.id)
    (pair,) = scan.scan_contacts().pairs
    assert (pair.low_id, pair.high_id) == (a.id, b.id)
    assert rules(pair) == ["phone", "name"]
    assert pair.score == 100  # 95 for the name, 5 for the phone agreeing


def test_erased_contacts_are_left_out(db, make_contact):
    from datetime import UTC, datetime

    make_contact("Ana", "Lima", phone="+55 11 5555 0101")
    make_contact("Ana", "Lima", phone="+55 11 5555 0101", erased_at=datetime.now(UTC))
    assert scan.scan_contacts().pairs == []


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("Acme Garments Ltd", "ACME Garments"),
        ("The Acme Company", "Acme"),
        ("Acme S.A. de C.V.", "Acme"),
        ("Acme GmbH", "Acme Inc."),
    ],
)
def test_organizations_same_name_without_legal_form(db, make_org, first, second):
    a, b = make_org(first), make_org(second)
    make_org("Acme Textiles")
    (pair,) = scan.scan_organizations().pairs
    assert (pair.low_id, pair.high_id) == (a.id, b.id)
    assert rules(pair) == ["same_name"] and pair.score == 95


def test_organizations_same_website_domain(db, make_org):
    a = make_org("Golden Thread", website="https://www.goldenthread.example/about")
    b = make_org("GT Apparel Group", website="http://goldenthread.example")
    make_org("Other", website="https://other.example")
    make_org("On Facebook", website="https://facebook.com/a")
    make_org("Also on Facebook", website="https://facebook.com/b")
    (pair,) = scan.scan_organizations().pairs
    assert (pair.low_id, pair.high_id) == (a.id, b.id)
    assert rules(pair) == ["domain"] and pair.score == 85


def test_organizations_similar_names(db, make_org):
    a = make_org("Sharma Textiles Mills")
    b = make_org("Sharma Textile Mills")
    c = make_org("Sharma Textiles Mils")
    make_org("Sharma Textiles 2")  # numbered: a different place
    make_org("Sharma Textiles 3")
    make_org("Mehta Textiles Mills")
    found = pairs_by_ids(scan.scan_organizations())
    assert set(found) == {(a.id, b.id), (a.id, c.id), (b.id, c.id)}
    assert all(rules(p) == ["name"] for p in found.values())
    assert all(81 <= p.score < 90 for p in found.values())


def test_pairs_within_groups_and_windows():
    keys = np.array([3, 1, 3, -1, 1, 1, 7])
    a, b = scan.pairs_within(keys)
    assert sorted(zip(a.tolist(), b.tolist(), strict=True)) == [(0, 2), (1, 4), (1, 5), (4, 5)]
    a, b = scan.pairs_within(keys, max_group=2)
    assert list(zip(a.tolist(), b.tolist(), strict=True)) == [(0, 2)]
    ranks = np.array([1, 0, 2, 3, 4, 5, 6])  # "b", "a", "c", ...
    windows = scan.windowed_keys(np.array([0, 0, 0, 0, 1, 1, -1]), ranks, window=2)
    assert windows.tolist() == [0, 0, 1, 1, 2, 2, -1]


def test_a_large_organization_is_compared_in_name_order_windows(db, make_org, make_contact):
    big = make_org("Big Co")
    for i in range(scan.WINDOW + 10):
        make_contact(f"Person{i:03d}", "Zed", organization_id=big.id)
    a = make_contact("Aaron", "Abbot", organization_id=big.id)
    b = make_contact("Aaron", "Abbott", organization_id=big.id)
    found = pairs_by_ids(scan.scan_contacts())
    assert (a.id, b.id) in found


def test_organizations_in_different_countries_score_lower(db, make_org):
    a = make_org("Garment Workers Union (Nepal)", country="NP", website="https://gwu.example")
    b = make_org("Garment Workers Union (Japan)", country="JP", website="https://gwu.example")
    (pair,) = scan.scan_organizations().pairs
    assert (pair.low_id, pair.high_id) == (a.id, b.id)
    assert rules(pair)[-1] == "other_country"
    assert pair.score == 85 - scan.OTHER_COUNTRY_PENALTY  # same domain, other country
    assert queries.describe(DuplicateKind.ORGANIZATION, pair.reasons[-1], {}) == (
        "but in different countries"
    )


def test_organizations_with_a_typo_in_the_first_word_and_a_plural_last_word(db, make_org):
    """No shared first word and, as typed, no shared last word: the last word's singular
    brings them into one block (the pair the importer flags as a similar name)."""
    a = make_org("Golden Thread Garments", country="BD")
    b = make_org("Goldn Thread Garment", country="BD")
    make_org("Goldn Needle Works", country="BD")
    found = pairs_by_ids(scan.scan_organizations())
    assert set(found) == {(a.id, b.id)}
    assert rules(found[(a.id, b.id)]) == ["name"]


def test_singular_stems_plain_plurals_only():
    import pandas as pd

    words = pd.Series(["garments", "industries", "glass", "bus", "mills"])
    assert scan.singular(words).tolist() == ["garment", "industry", "glass", "bus", "mill"]
