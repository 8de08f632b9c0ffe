"""Finding likely duplicates across the whole database, fast enough for a million contacts.

Each rule turns records into candidate pairs without comparing everything with everything:

Contacts
  * same email ignoring case (addresses are stored lower-cased, but imports and old rows slip
    through);
  * same phone number, digits only (at least 7), unless the number is shared by more than
    `MAX_GROUP` people (a switchboard, not a person) or the names are plainly different
    (token_sort_ratio below 60: two colleagues at one small office);
  * similar name within the same organization: the better of rapidfuzz's ratio and
    token_sort_ratio of the folded names ("last first", see crm.core.text) at or above
    `CRM_DUPLICATE_THRESHOLD` (default 90), so swapped first and last names, accents and
    one-letter typos in all but the shortest names match.

Organizations
  * the same name once legal forms are stripped ("Acme Ltd", "ACME Inc." and "The Acme");
  * the same website domain (unless more than `MAX_GROUP` organizations share it);
  * similar names: the same similarity of the stripped names at or above the threshold, and
    the same numbers in both ("Unit 2" and "Unit 3" are different places).

Blocking keeps the number of comparisons near linear: names are compared only within a block
(contacts: one organization; organizations: a shared first word, and separately a shared last
word less any plural "s", so a typo in either, or a plural, still meets its twin), and a block
larger than `WINDOW` is cut into windows of `WINDOW` neighbours in name order (the
sorted-neighbourhood method; a pair this misses sits far apart alphabetically in a very large
organization). The columns are read with one plain SELECT each; grouping is numpy, the name
comparisons rapidfuzz's `cpdist` on all cores.

Each pair scores 0–100: its best rule (same email 100, same phone 80, similar name its
similarity × 0.95; organizations: same stripped name 95, same domain 85, similar name its
similarity × 0.9), plus 5 for each further rule that agrees; organizations in two different
countries lose 20 (branches often share a name pattern and a website).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd
from rapidfuzz import fuzz, process

from crm.core.db import utcnow
from crm.duplicates.models import DuplicateKind
from crm.extensions import db

DEFAULT_THRESHOLD = 90
MAX_GROUP = 5  # more records than this sharing a phone or a domain: shared, not a duplicate
WINDOW = 30  # a block of up to this many names is compared in full
NEIGHBOURS = 12  # in a larger block, names are compared with this many neighbours in each order
MIN_PHONE_DIGITS = 7
PHONE_NAME_FLOOR = 60  # a shared phone counts when the names are at least this alike

# Rule names, as stored in a Reason and described on the page.
SAME_EMAIL = "email"
SAME_PHONE = "phone"
SIMILAR_NAME = "name"
SAME_NAME = "same_name"
SAME_DOMAIN = "domain"
OTHER_COUNTRY = "other_country"  # organizations: both have a country, not the same one

RULE_SCORES = {SAME_EMAIL: 100, SAME_PHONE: 80, SAME_NAME: 95, SAME_DOMAIN: 85}
NAME_WEIGHT = {DuplicateKind.CONTACT: 0.95, DuplicateKind.ORGANIZATION: 0.9}
AGREEING_RULE_BONUS = 5
# Branches ("Union (Nepal)", "Union (Japan)") often share a name pattern and a website.
OTHER_COUNTRY_PENALTY = 20

# Legal forms and articles that do not tell organizations apart, as folded tokens. Dotted
# forms ("S.A.", "B.V.") reach here as their letters run together ("sa", "bv").
LEGAL_FORMS = frozenset((
    "ltd", "limited", "inc", "incorporated", "corp", "corporation", "co", "company", "llc",
    "llp", "lp", "plc", "gmbh", "mbh", "ag", "kg", "ohg", "ug", "ev", "sa", "sas", "sarl", "srl",
    "spa", "bv", "nv", "oy", "oyj", "ab", "as", "asa", "aps", "pty", "pvt", "private", "pte",
    "kk", "se", "lda", "ltda", "cv", "sacv", "sde", "de", "rl", "the", "group", "holding",
    "holdings",
))  # fmt: skip
# Hosts where many unrelated organizations have pages.
SHARED_HOSTS = frozenset((
    "facebook.com", "linkedin.com", "instagram.com", "twitter.com", "x.com", "youtube.com",
    "wixsite.com", "wordpress.com", "blogspot.com", "google.com", "sites.google.com",
    "github.io", "medium.com",
))  # fmt: skip


@dataclass(frozen=True)
class Reason:
    rule: str
    similarity: int | None = None  # similar names: the rapidfuzz score
    organization_id: int | None = None  # contacts' similar names: the organization they share


@dataclass(frozen=True)
class Pair:
    kind: DuplicateKind
    low_id: int
    high_id: int
    score: int
    reasons: tuple[Reason, ...]


@dataclass
class ScanResult:
    """The pairs found, best first: `frame` has one row per pair (low, high, score), `rules`
    one row per pair and agreeing rule (low, high, rule, similarity, organization_id). Kept as
    arrays; Pair objects are built only for the rows shown."""

    kind: DuplicateKind
    frame: pd.DataFrame
    rules: pd.DataFrame
    records: int  # how many records were scanned
    seconds: float
    at: datetime = field(default_factory=utcnow)
    timings: dict[str, float] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.frame)

    def pairs_of(self, frame: pd.DataFrame) -> list[Pair]:
        if frame.empty:
            return []
        keys = list(zip(frame["low"].tolist(), frame["high"].tolist(), strict=True))
        wanted = self.rules.set_index(["low", "high"]).loc[keys].reset_index()
        reasons: dict[tuple[int, int], list[Reason]] = {}
        for row in wanted.itertuples(index=False):
            reasons.setdefault((row.low, row.high), []).append(
                Reason(
                    row.rule,
                    None if pd.isna(row.similarity) else int(row.similarity),
                    None if pd.isna(row.organization_id) else int(row.organization_id),
                )
            )
        return [
            Pair(
                self.kind, low, high, score,
                tuple(sorted(reasons[(low, high)], key=lambda r: RULE_ORDER.index(r.rule))),
            )
            for low, high, score in zip(
                frame["low"].tolist(), frame["high"].tolist(), frame["score"].tolist(),
                strict=True,
            )
        ]  # fmt: skip

    @property
    def pairs(self) -> list[Pair]:
        """Every pair as objects (tests, small databases; the page takes a slice)."""
        return self.pairs_of(self.frame)


# --- grouping helpers ---------------------------------------------------------------------------


def pairs_within(keys: np.ndarray, max_group: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Positions (a, b), a listed before b, of every two rows with the same key.

    Keys are non-negative integers (-1: no key, never paired). Groups larger than `max_group`
    are left out. Vectorized per group size: the groups of each size form a matrix whose
    upper-triangle columns are the pairs.
    """
    valid = np.flatnonzero(keys >= 0)
    if len(valid) < 2:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    order = valid[np.argsort(keys[valid], kind="stable")]
    sorted_keys = keys[order]
    starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
    sizes = np.diff(np.r_[starts, len(order)])
    firsts, seconds = [], []
    for size in np.unique(sizes):
        if size < 2 or (max_group is not None and size > max_group):
            continue
        block = starts[sizes == size][:, None] + np.arange(size)
        upper_a, upper_b = np.triu_indices(size, 1)
        firsts.append(order[block[:, upper_a]].ravel())
        seconds.append(order[block[:, upper_b]].ravel())
    if not firsts:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    return np.concatenate(firsts), np.concatenate(seconds)


def windowed_keys(
    block: np.ndarray, ranks: np.ndarray, window: int = WINDOW, *, offset: int = 0
) -> np.ndarray:
    """Block keys with every block cut into windows of `window` rows in `ranks` order (integer
    sort positions); `offset` shifts the cuts, so a second pass catches the neighbours a cut
    separated."""
    valid = np.flatnonzero(block >= 0)
    keys = np.full(len(block), -1, np.int64)
    if not len(valid):
        return keys
    order = valid[np.lexsort((ranks[valid], block[valid]))]
    sorted_block = block[order]
    new_group = np.r_[True, sorted_block[1:] != sorted_block[:-1]]
    starts = np.flatnonzero(new_group)
    group = np.cumsum(new_group) - 1
    position = np.arange(len(order)) - starts[group] + offset
    keys[order] = np.cumsum(new_group | (position % window == 0)) - 1
    return keys


SortValues = Callable[[np.ndarray], np.ndarray]  # row positions -> values to sort them by


def neighbour_pairs(
    block: np.ndarray,
    orders: Sequence[SortValues],
    window: int = WINDOW,
    *,
    also: Callable[[np.ndarray], np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Candidate pairs: every two rows of a block of at most `window` rows; in a larger block,
    the rows within windows of `NEIGHBOURS` in each of the `orders` (e.g. the name, and the
    name read backwards, so a typo near either end still leaves the two close), cut twice, the
    second time shifted by half a window, plus the rows `also` gives the same key.
    Only the large blocks are sorted, and only their passes can overlap (kept once)."""
    valid = block >= 0
    if not valid.any():
        return np.empty(0, np.int64), np.empty(0, np.int64)
    sizes = np.bincount(block[valid])
    size_of = np.where(valid, sizes[np.where(valid, block, 0)], 0)
    a, b = pairs_within(np.where(valid & (size_of <= window), block, -1))
    large = np.flatnonzero(size_of > window)
    if not len(large):
        return a, b
    parts = []
    for values in orders:
        ranks = pd.factorize(pd.Series(values(large), dtype=object), sort=True)[0]
        for offset in (0, NEIGHBOURS // 2):
            keys = windowed_keys(block[large], ranks, NEIGHBOURS, offset=offset)
            parts.append(pairs_within(keys))
    if also is not None:
        parts.append(pairs_within(also(large)))
    c, d = _union_pairs(len(large), *parts)
    return np.concatenate([a, large[c]]), np.concatenate([b, large[d]])


def _union_pairs(size: int, *pairs: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    a = np.concatenate([np.minimum(x, y) for x, y in pairs])
    b = np.concatenate([np.maximum(x, y) for x, y in pairs])
    if not len(a):
        return a, b
    # pandas' hash table: several times faster than np.unique's sort on millions of pairs.
    unique = pd.unique(a * (size + 1) + b)
    return unique // (size + 1), unique % (size + 1)


def reversed_text(values: np.ndarray) -> np.ndarray:
    return np.array([v[::-1] for v in values], dtype=object)


def codes_of(values: pd.Series) -> np.ndarray:
    """Integer codes of the values, -1 for missing or empty."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    codes = codes.astype(np.int64)
    empty = np.flatnonzero(np.asarray(uniques, dtype=object) == "")
    if len(empty):
        codes[codes == empty[0]] = -1
    return codes


def similar_pairs(
    names: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    threshold: int,
    profile: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The (a, b) pairs whose names score at least `threshold`, with their scores.

    The score is the better of rapidfuzz's plain ratio (a typo anywhere, even one that moves a
    word's first letter) and token_sort_ratio (the same words in another order: "Rahman
    Farhana"). The plain ratio runs first; the word-order one only on the pairs still below.
    """
    if not len(a):
        return a, b, np.empty(0, np.uint8)
    # Drop the pairs that cannot reach the threshold before rapidfuzz sees them. Both scores
    # are 100·(1 − d/(la + lb)) for an insert/delete distance d, so d may be at most
    # (100 − threshold)·(la + lb)/100; d is at least the length difference, and at least the
    # number of letters that are in one name and not the other (the same for any word order).
    lengths, letters = profile if profile is not None else _lengths_and_letters(names)
    la, lb = lengths[a], lengths[b]
    allowed = (100 - threshold) * (la + lb) // 100
    differ = np.bitwise_count(letters[a] ^ letters[b])
    reachable = (np.abs(la - lb) <= allowed) & (differ <= allowed)
    a, b = a[reachable], b[reachable]

    def score(scorer, left: np.ndarray, right: np.ndarray) -> np.ndarray:
        return process.cpdist(
            names[left], names[right], scorer=scorer, score_cutoff=threshold,
            dtype=np.uint8, workers=-1,
        )  # fmt: skip

    scores = score(fuzz.ratio, a, b)
    below = np.flatnonzero(scores < threshold)
    if len(below):
        scores[below] = score(fuzz.token_sort_ratio, a[below], b[below])
    keep = scores >= threshold
    return a[keep], b[keep], scores[keep]


def _lengths_and_letters(names: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each name's length, and a bit per letter a–z and digit 0–9 it contains (vectorized over
    the bytes of all names at once; other characters are left out, which only lets more pairs
    through to the exact comparison)."""
    lengths = np.fromiter(map(len, names), dtype=np.int64, count=len(names))
    if not len(names):
        return lengths, np.zeros(0, np.uint64)
    data = np.frombuffer("\n".join(names).encode("ascii", "replace"), dtype=np.uint8)
    bits = np.zeros(len(data), np.uint64)
    lower = (data >= 97) & (data <= 122)
    bits[lower] = np.left_shift(np.uint64(1), (data[lower] - 97).astype(np.uint64))
    digit = (data >= 48) & (data <= 57)
    bits[digit] = np.left_shift(np.uint64(1), (data[digit] - 48 + 26).astype(np.uint64))
    # One byte per character ("replace" keeps non-ASCII ones as "?"), one "\n" between names.
    starts = np.r_[0, np.cumsum(lengths[:-1] + 1)]
    letters = np.bitwise_or.reduceat(np.r_[bits, np.uint64(0)], starts)
    letters[lengths == 0] = 0
    return lengths, letters


def name_similarity(first: str, second: str) -> int:
    """similar_pairs' score for one pair (the merge page checks a pair on its own)."""
    return round(max(fuzz.ratio(first, second), fuzz.token_sort_ratio(first, second)))


def read_rows(sql: str) -> Sequence[tuple]:
    """Rows of a plain SELECT on the session's connection (so it sees this transaction)."""
    cursor = db.session.connection().connection.cursor()
    try:
        cursor.execute(sql)
        return cursor.fetchall()
    finally:
        cursor.close()


def _columns(rows: Sequence[tuple], count: int) -> list[np.ndarray]:
    if not rows:
        return [np.empty(0, dtype=object) for _ in range(count)]
    frame = pd.DataFrame.from_records(rows, coerce_float=False)  # columns built in C
    columns = []
    for i in range(count):
        column = frame[i].to_numpy(dtype=object, copy=True)
        column[pd.isna(column)] = None  # pandas reads a missing value as NaN
        columns.append(column)
    return columns


class _Collector:
    """Candidate pairs from every rule as arrays, scored together once all rules ran."""

    def __init__(self, kind: DuplicateKind, ids: np.ndarray) -> None:
        self.kind = kind
        self.ids = ids
        self.parts: list[pd.DataFrame] = []

    def add(
        self,
        a: np.ndarray,
        b: np.ndarray,
        rule: str,
        similarity: np.ndarray | None = None,
        organization: np.ndarray | None = None,
    ) -> None:
        first, second = self.ids[a], self.ids[b]
        n = len(first)
        part = pd.DataFrame(
            {
                "low": np.minimum(first, second),
                "high": np.maximum(first, second),
                "rule": np.full(n, rule, dtype=object),
                "similarity": (
                    similarity.astype(np.float64) if similarity is not None else np.full(n, np.nan)
                ),
                "organization_id": (
                    organization.astype(np.float64)
                    if organization is not None
                    else np.full(n, np.nan)
                ),
            }
        )
        self.parts.append(part[part["low"] != part["high"]])

    def result(
        self,
        records: int,
        started: float,
        timings: dict[str, float],
        countries: np.ndarray | None = None,
    ) -> ScanResult:
        columns = ["low", "high", "rule", "similarity", "organization_id"]
        rules = (
            pd.concat(self.parts, ignore_index=True)
            if self.parts
            else pd.DataFrame({c: [] for c in columns})
        )
        rules = rules.drop_duplicates(["low", "high", "rule"]).astype(
            {"low": np.int64, "high": np.int64}
        )
        weight = NAME_WEIGHT[self.kind]
        named = rules["rule"] == SIMILAR_NAME
        rule_score = rules["rule"].map(RULE_SCORES).astype(np.float64)
        rule_score[named] = (rules["similarity"][named] * weight).round()
        grouped = (
            rules.assign(rule_score=rule_score)
            .groupby(["low", "high"], sort=False)["rule_score"]
            .agg(["max", "size"])
            .reset_index()
        )
        grouped["score"] = np.minimum(
            100, grouped["max"] + AGREEING_RULE_BONUS * (grouped["size"] - 1)
        ).astype(np.int64)
        if countries is not None and len(grouped):
            country_of = pd.Series(countries, index=self.ids)
            low = country_of.reindex(grouped["low"]).to_numpy()
            high = country_of.reindex(grouped["high"]).to_numpy()
            differ = pd.notna(low) & pd.notna(high) & (low != high)
            grouped.loc[differ, "score"] -= OTHER_COUNTRY_PENALTY
            rules = pd.concat(
                [
                    rules,
                    pd.DataFrame(
                        {
                            "low": grouped["low"][differ],
                            "high": grouped["high"][differ],
                            "rule": OTHER_COUNTRY,
                            "similarity": np.nan,
                            "organization_id": np.nan,
                        }
                    ),  # fmt: skip
                ],
                ignore_index=True,
            )
        frame = grouped[["low", "high", "score"]].sort_values(
            ["score", "low", "high"], ascending=[False, True, True], ignore_index=True
        )
        timings["scoring"] = time.perf_counter() - started - sum(timings.values())
        return ScanResult(
            self.kind, frame, rules.reset_index(drop=True), records,
            time.perf_counter() - started, timings=timings,
        )  # fmt: skip


RULE_ORDER = (SAME_EMAIL, SAME_NAME, SAME_PHONE, SAME_DOMAIN, SIMILAR_NAME, OTHER_COUNTRY)


# --- contacts -----------------------------------------------------------------------------------

# Emails are compared lower-cased (the database does it, in C, on both engines).
CONTACT_SQL = (
    "SELECT id, sort_name, lower(email), phone, organization_id FROM contact "
    "WHERE erased_at IS NULL"
)
ORGANIZATION_SQL = "SELECT id, name_key, website, country FROM organization"


def phone_digits(phones: pd.Series) -> pd.Series:
    """Digits only; numbers shorter than MIN_PHONE_DIGITS count as none. Each distinct value is
    cleaned once (many people share a switchboard number)."""
    codes, uniques = pd.factorize(phones, use_na_sentinel=True)
    cleaned = pd.Series(uniques, dtype=object).str.replace(r"\D", "", regex=True)
    cleaned = cleaned.where(cleaned.str.len() >= MIN_PHONE_DIGITS, None)
    values = cleaned.to_numpy(dtype=object)
    result = np.where(codes >= 0, values[np.maximum(codes, 0)] if len(values) else None, None)
    return pd.Series(result, dtype=object)


# Called after each step of a scan: (steps done, steps in all, what comes next).
Progress = Callable[[int, int, str], None]


def _no_progress(done: int, total: int, message: str) -> None:
    pass


CONTACT_STEPS = ("Reading contacts", "Same email and phone", "Grouping names", "Comparing names")
ORGANIZATION_STEPS = ("Reading organizations", "Same name and website", "Comparing names")


def scan_contacts(
    threshold: int = DEFAULT_THRESHOLD,
    rows: Sequence[tuple] | None = None,
    progress: Progress = _no_progress,
) -> ScanResult:
    """Every pair among the contacts (`rows` as CONTACT_SQL reads them; by default all)."""
    started = time.perf_counter()
    timings: dict[str, float] = {}
    total = len(CONTACT_STEPS) + 1
    progress(0, total, CONTACT_STEPS[0])
    if rows is None:
        rows = read_rows(CONTACT_SQL)
    ids, names, emails, phones, orgs = _columns(rows, 5)
    del rows
    timings["read"] = time.perf_counter() - started
    progress(1, total, CONTACT_STEPS[1])
    ids = ids.astype(np.int64)
    collect = _Collector(DuplicateKind.CONTACT, ids)

    email_keys = codes_of(pd.Series(emails, dtype=object))
    collect.add(*pairs_within(email_keys), SAME_EMAIL)

    phone_keys = codes_of(phone_digits(pd.Series(phones, dtype=object)))
    a, b = pairs_within(phone_keys, MAX_GROUP)
    # Two people at one small office share a number: a phone counts only when the names
    # are not plainly different.
    profile = _lengths_and_letters(names)
    a, b, _scores = similar_pairs(names, a, b, PHONE_NAME_FLOOR, profile)
    collect.add(a, b, SAME_PHONE)
    timings["email and phone"] = time.perf_counter() - started - sum(timings.values())
    progress(2, total, CONTACT_STEPS[2])

    org_block = np.where(pd.isna(orgs), -1, orgs).astype(np.int64)

    def same_letters(rows: np.ndarray) -> np.ndarray:
        """The same letters with the spaces elsewhere ("de la cruz", "dela cruz"), however far
        apart in a large organization."""
        squashed = pd.Series(names[rows], dtype=object).str.replace(" ", "", regex=False)
        return codes_of(squashed + "@" + pd.Series(org_block[rows]).astype(str))

    a, b = neighbour_pairs(
        org_block,
        [lambda rows: names[rows], lambda rows: reversed_text(names[rows])],
        also=same_letters,
    )
    timings["name blocks"] = time.perf_counter() - started - sum(timings.values())
    progress(3, total, CONTACT_STEPS[3])
    a, b, scores = similar_pairs(names, a, b, threshold, profile)
    collect.add(a, b, SIMILAR_NAME, scores, org_block[a])
    timings["name comparisons"] = time.perf_counter() - started - sum(timings.values())
    progress(4, total, "Scoring")
    return collect.result(len(ids), started, timings)


# --- organizations ------------------------------------------------------------------------------

_NOT_ALNUM = re.compile(r"[^0-9a-z]+")
_DIGITS = re.compile(r"\d+")


def strip_legal_form(name_key: str) -> str:
    """'the acme co., ltd.' -> 'acme'; 'acme s.a. de c.v.' -> 'acme'. Takes a folded name."""
    tokens: list[str] = []
    letters = ""  # a dotted abbreviation comes apart into letters ("s a"): run them together
    for token in _NOT_ALNUM.sub(" ", name_key or "").split():
        if len(token) == 1 and token.isalpha():
            letters += token
            continue
        if letters:
            tokens.append(letters)
            letters = ""
        tokens.append(token)
    if letters:
        tokens.append(letters)
    while len(tokens) > 1 and tokens[0] == "the":
        tokens.pop(0)
    while len(tokens) > 1 and tokens[-1] in LEGAL_FORMS:
        tokens.pop()
    return " ".join(tokens)


_DOMAIN = re.compile(r"^\s*(?:[a-z][a-z0-9+.-]*://)?(?:www\d?\.)?([^/:?#\s]+)")


def website_domain(website: str | None) -> str | None:
    if not website:
        return None
    match = _DOMAIN.match(website.lower())
    if not match:
        return None
    domain = match.group(1).rstrip(".")
    if "." not in domain or domain in SHARED_HOSTS:
        return None
    return domain


def first_and_last_words(stripped: Sequence[str] | np.ndarray) -> tuple[pd.Series, pd.Series]:
    """Each name's first word and its last word without a plural ending, the two block keys
    (so "Goldn Thread Garment" meets "Golden Thread Garments": a typo in the first word and
    a plural in the last)."""
    words = pd.Series(stripped, dtype=object).str.replace(r"\d+", " ", regex=True).str.split()
    first = words.str[0]
    last = singular(words.str[-1])
    # A one-word name is already in its first-word block.
    last = last.where(words.str.len() > 1, None)
    return first, last


def singular(words: pd.Series) -> pd.Series:
    """A plain English plural's stem, for blocking only: industries → industry, garments →
    garment; "glass" and short words stay."""
    return words.str.replace(r"(?<=..)ies$", "y", regex=True).str.replace(
        r"(?<=..[^s])s$", "", regex=True
    )


def scan_organizations(
    threshold: int = DEFAULT_THRESHOLD,
    rows: Sequence[tuple] | None = None,
    progress: Progress = _no_progress,
) -> ScanResult:
    """Every pair among the organizations (`rows` as ORGANIZATION_SQL reads them; by default
    all)."""
    started = time.perf_counter()
    timings: dict[str, float] = {}
    total = len(ORGANIZATION_STEPS) + 1
    progress(0, total, ORGANIZATION_STEPS[0])
    if rows is None:
        rows = read_rows(ORGANIZATION_SQL)
    ids, name_keys, websites, countries = _columns(rows, 4)
    del rows
    timings["read"] = time.perf_counter() - started
    progress(1, total, ORGANIZATION_STEPS[1])
    ids = ids.astype(np.int64)
    collect = _Collector(DuplicateKind.ORGANIZATION, ids)

    stripped = np.array([strip_legal_form(k) for k in name_keys], dtype=object)
    collect.add(*pairs_within(codes_of(pd.Series(stripped, dtype=object)), None), SAME_NAME)
    domains = pd.Series([website_domain(w) for w in websites], dtype=object)
    collect.add(*pairs_within(codes_of(domains), MAX_GROUP), SAME_DOMAIN)
    timings["name and domain"] = time.perf_counter() - started - sum(timings.values())
    progress(2, total, ORGANIZATION_STEPS[2])

    first, last = first_and_last_words(stripped)
    digits = pd.Series(["".join(_DIGITS.findall(s)) for s in stripped], dtype=object)
    # Only names with the same numbers can match ("Unit 2" is not "Unit 3"), so the numbers
    # are part of every block: (first word, numbers) and (last word, numbers).
    plain = np.array([_DIGITS.sub("", s) for s in stripped], dtype=object)
    orders = [lambda rows: plain[rows], lambda rows: reversed_text(plain[rows])]
    squashed = pd.Series(stripped, dtype=object).str.replace(" ", "", regex=False)
    a, b = _union_pairs(
        len(stripped),
        neighbour_pairs(codes_of(first + "\x00" + digits), orders),
        neighbour_pairs(codes_of(last + "\x00" + digits), orders),
        # A space typed elsewhere ("cobal tfoods") changes both words: same letters in a row.
        pairs_within(codes_of(squashed)),
    )
    # Equal stripped names are the rule above already.
    keep = stripped[a] != stripped[b]
    a, b, scores = similar_pairs(stripped, a[keep], b[keep], threshold)
    collect.add(a, b, SIMILAR_NAME, scores)
    timings["similar names"] = time.perf_counter() - started - sum(timings.values())
    progress(3, total, "Scoring")
    return collect.result(len(ids), started, timings, countries)


def scan(
    kind: DuplicateKind,
    threshold: int = DEFAULT_THRESHOLD,
    rows: Sequence[tuple] | None = None,
    progress: Progress = _no_progress,
) -> ScanResult:
    if kind is DuplicateKind.CONTACT:
        return scan_contacts(threshold, rows, progress)
    return scan_organizations(threshold, rows, progress)
