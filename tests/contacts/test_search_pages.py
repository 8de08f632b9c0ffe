"""Search result pages: the same contacts, in the same order, however the search finds them.

A search with few matches knows them by id (and counts them); one with more than
SEARCH_COUNT_CAP walks the list's order instead. Both must page identically, forward and back,
in every sort.
"""

from __future__ import annotations

import re

import pytest


def _link(match):
    return match.group(1).replace("&amp;", "&") if match and match.group(1) != "#" else None


def _page(client, url):
    text = client.get(url).get_data(as_text=True)
    names = re.findall(r'fw-medium" href="/contacts/\d+">([^<]+)<', text)
    nxt = _link(re.search(r'rel="next" href="([^"]+)"', text))
    prev = _link(re.search(r'rel="prev" href="([^"]+)"', text))
    return names, nxt, prev, text


def _walk(client, url):
    """Every page forward from `url`, then back again from the last one."""
    forward, pages, seen = [], [], set()
    while url and url not in seen:
        seen.add(url)
        names, nxt, _prev, _text = _page(client, url)
        pages.append(names)
        forward += names
        last_url, url = url, nxt
    backward = []
    names, _nxt, prev, _text = _page(client, last_url)
    backward = names
    while prev:
        names, _nxt, prev, _text = _page(client, prev)
        backward = names + backward
    return forward, backward, pages


@pytest.fixture
def people(make_org, make_contact):
    """Nine who match "tembo" (six by name, two by organization, one by email) and others."""
    org = make_org("Tembo Cooperative")
    made = []
    for first in ("Zola", "Abena", "Musa", "Kofi", "Lindiwe", "Bongani"):
        made.append(make_contact(first, "Tembo"))
    made.append(make_contact("Ama", "Owusu", organization_id=org.id))
    made.append(make_contact("Yaw", "Boateng", organization_id=org.id))
    made.append(make_contact("Efua", "Mensah", email="efua.tembo@example.org"))
    make_contact("Kwesi", "Appiah")
    make_contact("Esi", "Ansah")
    return made


@pytest.mark.parametrize("sort", ["", "name", "name_desc", "newest", "recent"])
def test_known_and_walked_searches_page_alike(client, as_role, people, app, monkeypatch, sort):
    from crm.contacts import queries

    as_role("lead")
    app.config["PAGE_SIZE"] = 2
    try:
        url = "/contacts/?q=tembo" + (f"&sort={sort}" if sort else "")
        known, known_back, known_pages = _walk(client, url)
        assert sorted(known) == sorted(f"{c.first_name} {c.last_name}" for c in people)
        assert known_back == known
        assert all(len(p) == 2 for p in known_pages[:-1])
        assert "9 contacts" in _page(client, url)[3]

        # 4: more persons than that; 7: persons fit, with the staff they do not; 8: persons
        # and staff each fit, together they do not. 9: all known by id again.
        for cap in (4, 7, 8):
            monkeypatch.setattr(queries, "SEARCH_COUNT_CAP", cap)
            walked, walked_back, _pages = _walk(client, url)
            assert walked == known and walked_back == known, cap
            assert f"more than {cap} contacts" in _page(client, url)[3]
        monkeypatch.setattr(queries, "SEARCH_COUNT_CAP", 9)
        assert _walk(client, url)[0] == known
        assert "9 contacts" in _page(client, url)[3]
    finally:
        app.config["PAGE_SIZE"] = 50


def test_search_newest_first_by_default(client, as_role, people):
    as_role("lead")
    names, _nxt, _prev, _text = _page(client, "/contacts/?q=tembo")
    expected = [f"{c.first_name} {c.last_name}" for c in sorted(people, key=lambda c: -c.id)]
    assert names == expected


def test_mangled_cursor_on_a_search_shows_the_first_page(client, as_role, people, app):
    as_role("lead")
    first, _nxt, _prev, _text = _page(client, "/contacts/?q=tembo")
    # Garbage; a list of one string where the id should be; a list of two values.
    for cursor in ("not-a-cursor", "WyJ4Il0", "WzEsIDJd"):
        for sort in ("recent", "name"):
            url = f"/contacts/?q=tembo&sort={sort}&after={cursor}"
            assert client.get(url).status_code == 200
        names, _nxt, _prev, _text = _page(client, f"/contacts/?q=tembo&after={cursor}")
        assert names == first


def test_search_with_a_filter_pages_within_the_filter(client, as_role, people, app, db):
    as_role("lead")
    for contact in people[:3]:
        contact.country = "GH"
    db.session.commit()
    app.config["PAGE_SIZE"] = 2
    try:
        names, _back, _pages = _walk(client, "/contacts/?q=tembo&country=GH")
        assert sorted(names) == sorted(f"{c.first_name} {c.last_name}" for c in people[:3])
    finally:
        app.config["PAGE_SIZE"] = 50


def test_a_common_text_is_remembered_as_common_never_its_matches(
    app, client, as_role, people, make_contact, monkeypatch
):
    """PostgreSQL: a search past the cap is remembered as such (the shared store), so the
    next one skips finding its ids; its rows are still read live. SQLite: nothing kept."""
    from crm.contacts import queries
    from crm.core import shared_store
    from tests.dashboard.test_figures import statements

    as_role("lead")
    monkeypatch.setattr(queries, "SEARCH_COUNT_CAP", 4)
    postgres = app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgres")
    with statements(app) as first:
        assert "more than 4 contacts" in _page(client, "/contacts/?q=tembo")[3]
    with app.test_request_context():
        remembered = shared_store.get(queries._dense_key("tembo")) is not None
    assert remembered is postgres
    newcomer = make_contact("Thandi", "Tembo")
    with statements(app) as again:
        names, _nxt, _prev, text = _page(client, "/contacts/?q=tembo")
    assert "Thandi Tembo" in names and "more than 4 contacts" in text  # the rows: live
    finding_ids = [s for s in again if "array_agg" in s or "group_concat" in s]
    assert len(finding_ids) == (0 if postgres else 1)
    assert any("array_agg" in s or "group_concat" in s for s in first)
    # Another cap is another question.
    monkeypatch.setattr(queries, "SEARCH_COUNT_CAP", 20)
    assert f"{len(people) + 1} contacts" in _page(client, "/contacts/?q=tembo")[3]
    assert newcomer.id
