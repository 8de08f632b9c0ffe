"""Activity at scale, loaded in bulk: pledges with their history and quarterly progress reports,
engagements, champions and endorsements, events and participants, sent campaigns with their
recipients and delivery events, case studies.

The companion of `crm.demo.bulk` (organizations and contacts), written the same way: columns
drawn with numpy, rows as plain tuples, one transaction, executemany on SQLite and COPY on
PostgreSQL, the loaded tables' secondary indexes (and on PostgreSQL their unique and
foreign-key constraints) dropped for the load and rebuilt once at the end, in the same
transaction. Used by `benchmarks/report.py` to measure the quarterly report at scale; it needs
organizations, contacts and the seeded standard there first.

Data is appended: ids continue after the largest existing ones; pledges go to organizations
without a live pledge.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np

from crm.auth.operations import STAFF_ROLES
from crm.demo.bulk_loading import NONE, Progress, Stopwatch, fetch_rows, load_connection
from crm.extensions import db
from crm.pledges.schedule import Quarter

CHUNK = 100_000  # rows per executemany / COPY

PLEDGE_COLUMNS = (
    "id", "organization_id", "standard_id", "signatory_id", "signed_on", "listed", "status",
    "source", "activated_on", "adopted_on", "withdrawn_on", "created_at", "updated_at",
    "version", "created_by_id", "updated_by_id",
)  # fmt: skip
PLEDGE_CHANGE_COLUMNS = ("id", "pledge_id", "from_status", "to_status", "at", "by_id")
REPORT_COLUMNS = (
    "id", "pledge_id", "standard_id", "year", "quarter", "status", "submitted_at",
    "accepted_at", "corrects_id", "created_at", "updated_at", "version",
)  # fmt: skip
ASSESSMENT_COLUMNS = ("id", "report_id", "principle_id", "position", "level")
ENGAGEMENT_COLUMNS = (
    "id", "kind", "occurred_on", "summary", "heard", "organization_id", "follow_up_on",
    "follow_up_owner_id", "follow_up_done_at", "created_at", "updated_at", "version",
    "created_by_id", "updated_by_id",
)  # fmt: skip
CHAMPION_COLUMNS = (
    "id", "contact_id", "stage", "stage_since", "owner_id", "region", "audience_reach",
    "created_at", "updated_at", "version",
)  # fmt: skip
STAGE_CHANGE_COLUMNS = ("id", "champion_id", "from_stage", "to_stage", "at", "by_id")
ENDORSEMENT_COLUMNS = (
    "id", "champion_id", "kind", "made_on", "title", "audience_reach", "status",
    "created_at", "updated_at", "version",
)  # fmt: skip
EVENT_COLUMNS = (
    "id", "name", "kind", "hosting", "starts_at", "ends_at", "timezone", "country",
    "capacity", "is_public", "registration_open", "created_at", "updated_at", "version",
)  # fmt: skip
PARTICIPATION_COLUMNS = (
    "id", "event_id", "contact_id", "role", "status", "source", "status_changed_at",
    "created_at", "updated_at", "version",
)  # fmt: skip
CAMPAIGN_COLUMNS = (
    "id", "name", "purpose", "sender_name", "sender_email", "subject", "body", "status",
    "queued_at", "finished_at", "created_at", "updated_at", "version",
)  # fmt: skip
OUTBOX_COLUMNS = (
    "id", "campaign_id", "contact_id", "email", "message_key", "status", "attempts",
    "next_attempt_at", "sent_at",
)  # fmt: skip
DELIVERY_COLUMNS = ("id", "sg_event_id", "message_id", "campaign_id", "email", "kind", "at",
                    "received_at")  # fmt: skip
CASE_STUDY_COLUMNS = (
    "id", "title", "technology", "outcome", "what_happened", "lessons", "shareable", "status",
    "created_at", "updated_at", "version", "first_published_at",
)  # fmt: skip

# Loaded here, in this order (parents first); their secondary indexes are rebuilt after.
TABLES = (
    "pledge", "pledge_change", "progress_report", "assessment", "engagement",
    "engagement_contact", "champion", "stage_change", "endorsement", "endorsement_principle",
    "event", "participation", "campaign", "outbox_message", "delivery_event", "case_study",
    "case_study_principle",
)  # fmt: skip

LEVELS = ("not_started", "planning", "implementing", "implemented", "verified")
STAGES = ("identified", "approached", "engaged", "committed", "active", "lapsed")
REGIONS = ("africa", "asia_pacific", "europe", "latin_america", "middle_east",
           "north_america", "south_asia", "global")  # fmt: skip
ENGAGEMENT_KINDS = ("meeting", "call", "email", "listening_session", "workshop", "survey")
ENGAGEMENT_KIND_WEIGHTS = (25, 25, 35, 5, 5, 5)
SUMMARIES = (
    "Introduced the WEST Principles", "Follow-up on the pledge", "Quarterly check-in",
    "Listening session with worker representatives", "Discussed grievance channels",
    "Shared case studies on digital wage payments", "Planning a supplier workshop",
    "Reviewed the progress report", "Asked about worker voice in the app rollout",
    "Invitation to the roundtable", "Call about data protection for workers",
    "Survey results discussed",
)  # fmt: skip
HEARD = (
    "Workers prefer SMS over the app.", "Management is supportive but budget is tight.",
    "They want peer examples from their sector.", "Union asked to be consulted earlier.",
    "Concerns about surveillance in the new system.", None, None, None,
)  # fmt: skip
ENDORSEMENT_KINDS = ("statement", "post", "article", "talk", "media")
EVENT_KINDS = ("conference", "webinar", "workshop", "roundtable")
TECHNOLOGIES = ("helpline", "sms_survey", "app", "grievance_platform", "digital_wages", "other")


def generate(
    *,
    pledges: int = 20_000,
    engagements: int = 1_000_000,
    champions: int = 5_000,
    events: int = 300,
    campaigns: int = 16,
    recipients: int = 5_000,
    case_studies: int = 60,
    report_quarters: int = 8,
    seed: int = 2017,
    progress: Progress | None = None,
) -> str:
    """Append the activity above (progress reports for up to `report_quarters` quarters before
    the current one), commit, return a summary. Organizations, contacts and the current
    standard must exist."""
    watch = Stopwatch(progress)
    say = watch.say
    dialect = db.engine.dialect.name
    with load_connection() as (_, raw):
        writer = _Writer(raw, dialect, say)
        world = writer.world()
        gen = _Generator(np.random.default_rng(seed), dialect, world, writer.first_ids())
        with writer.load():
            say(f"Pledges ({pledges:,}) and progress reports…")
            for table, rows in gen.pledges(pledges, report_quarters):
                writer.insert(table, rows)
            say(f"Engagements ({engagements:,})…")
            for table, rows in gen.engagements(engagements):
                writer.insert(table, rows)
            say("Champions, events, campaigns, case studies…")
            for table, rows in gen.champions(champions):
                writer.insert(table, rows)
            for table, rows in gen.events(events):
                writer.insert(table, rows)
            for table, rows in gen.campaigns(campaigns, recipients):
                writer.insert(table, rows)
            for table, rows in gen.case_studies(case_studies):
                writer.insert(table, rows)
        counts = writer.counts
        say("Updating planner statistics…")
        writer.analyze()
    summary = ", ".join(f"{n:,} {table}" for table, n in counts.items() if n)
    return f"Bulk activity ({dialect}): {summary} in {watch.elapsed:.1f} s."


# --- What is there ---------------------------------------------------------------------------


@dataclass
class _World:
    now: datetime
    standard_id: int
    principles: list[tuple[int, int]]  # (id, position)
    free_org_ids: np.ndarray  # organizations without a live pledge
    org_ids: np.ndarray
    contact_ids: np.ndarray  # every contact
    mailable: list[tuple[int, str]]  # (id, email) of some contacts with an address
    staff_ids: list[int]
    non_champions: np.ndarray


# --- Rows -----------------------------------------------------------------------------------


class _Generator:
    def __init__(
        self, rng: np.random.Generator, dialect: str, world: _World, first_ids: dict[str, int]
    ) -> None:
        self.rng = rng
        self.world = world
        self.next_id = dict(first_ids)
        self.tz = "" if dialect == "sqlite" else "+00"
        self.now = world.now
        self.today = world.now.date()
        self.staff = np.array(world.staff_ids or [0], dtype=object)
        if not world.staff_ids:
            self.staff[:] = None

    # helpers

    def ids(self, table: str, n: int) -> np.ndarray:
        first = self.next_id[table]
        self.next_id[table] = first + n
        return np.arange(first, first + n, dtype=np.int64)

    def stamp(self, moment: datetime) -> str:
        """A UTC moment as the engine stores it (SQLite: naive text with microseconds)."""
        return moment.strftime("%Y-%m-%d %H:%M:%S.%f") + self.tz

    def at(self, day_number: int, second: int) -> str:
        """One moment given as a proleptic day ordinal plus seconds into the day."""
        moment = datetime.fromordinal(int(day_number)) + timedelta(seconds=int(second))
        return self.stamp(moment)

    def stamps(self, day_numbers: np.ndarray, seconds: np.ndarray) -> list[str]:
        """Moments given as proleptic day ordinals plus seconds into the day."""
        base = np.datetime64("0001-01-01", "s")
        values = (
            base
            + (day_numbers.astype(np.int64) - 1).astype("timedelta64[D]")
            + seconds.astype(np.int64).astype("timedelta64[s]")
        )
        text = np.datetime_as_string(values, unit="us")
        return [t.replace("T", " ") + self.tz for t in text.tolist()]

    @staticmethod
    def days(day_numbers: np.ndarray) -> list[str]:
        base = np.datetime64("0001-01-01", "D")
        values = base + (day_numbers.astype(np.int64) - 1).astype("timedelta64[D]")
        return np.datetime_as_string(values, unit="D").tolist()

    def pick(self, options: Sequence[Any], n: int, weights: Sequence[float] | None = None) -> list:
        table = np.array(options, dtype=object)
        if weights is None:
            return table[self.rng.integers(0, len(options), n)].tolist()
        p = np.array(weights, dtype=float)
        return table[self.rng.choice(len(options), n, p=p / p.sum())].tolist()

    def distinct(self, population: np.ndarray, n: int) -> np.ndarray:
        """`n` distinct values of `population`, in random order."""
        n = min(n, len(population))
        return population[self.rng.choice(len(population), n, replace=False)]

    # pledges

    def pledges(self, count: int, quarters: int) -> Iterator[tuple[str, list[tuple]]]:
        """Pledges signed over the last five years, their status changes, and a quarterly
        progress report from each confirmed pledge (up to `quarters`, before this quarter),
        with a maturity level per principle rising over time; some lag behind or stop."""
        rng, world, today = self.rng, self.world, self.today
        count = min(count, len(world.free_org_ids))
        current = Quarter.of(today)
        first_quarter = current
        for _ in range(quarters):
            first_quarter = first_quarter.previous()
        orgs = self.distinct(world.free_org_ids, count)
        pledge_ids = self.ids("pledge", count)
        status = np.array(self.pick(
            ("active", "adopted", "withdrawn", "signed", "draft"), count, (70, 10, 8, 8, 4)
        ), dtype=object)  # fmt: skip
        t = today.toordinal()
        # Most signed over two years ago (a full two years of reports), the rest since.
        signed = t - np.where(
            rng.random(count) < 0.85,
            rng.integers(760, 1800, count),
            rng.integers(90, 760, count),
        )
        signed = np.where(status == "signed", t - rng.integers(1, 30, count), signed)
        activated = signed + rng.integers(3, 21, count)
        confirmed = np.isin(status, ("active", "adopted", "withdrawn"))
        adopted = np.minimum(
            activated + rng.integers(180, 700, count), t - rng.integers(1, 60, count)
        )
        withdrawn = np.minimum(activated + rng.integers(30, 500, count), t - 1)
        created_seconds = rng.integers(8 * 3600, 18 * 3600, count)
        signed_at = self.stamps(signed, created_seconds)
        is_draft = status == "draft"
        draft_day = t - rng.integers(1, 60, count)
        creator = self.staff[rng.integers(0, len(self.staff), count)].tolist()
        signatories = world.contact_ids[rng.integers(0, len(world.contact_ids), count)].tolist()

        def day_where(where: np.ndarray, days: np.ndarray) -> list[str | None]:
            return np.where(where, np.array(self.days(days), dtype=object), NONE).tolist()

        created = np.where(
            is_draft,
            np.array(self.stamps(draft_day, created_seconds), dtype=object),
            np.array(signed_at, dtype=object),
        ).tolist()
        rows = list(zip(
            pledge_ids.tolist(), orgs.tolist(), [world.standard_id] * count, signatories,
            day_where(~is_draft, signed), (rng.random(count) < 0.75).tolist(), status.tolist(),
            self.pick(("staff", "public form"), count), day_where(confirmed, activated),
            day_where(status == "adopted", adopted), day_where(status == "withdrawn", withdrawn),
            created, created, [1] * count, creator, creator, strict=True,
        ))  # fmt: skip
        yield "pledge", rows

        # Status history, in time order per pledge.
        seconds = rng.integers(8 * 3600, 18 * 3600, count).tolist()
        changes: list[tuple] = []
        for i, pid in enumerate(pledge_ids.tolist()):
            who, st, second = creator[i], status[i], seconds[i]
            if st == "draft":
                changes.append((pid, None, "draft", self.at(draft_day[i], second), who))
                continue
            changes.append((pid, None, "signed", signed_at[i], who))
            if st == "signed":
                continue
            changes.append((pid, "signed", "active", self.at(activated[i], second), who))
            if st in ("adopted", "withdrawn"):
                day = adopted[i] if st == "adopted" else withdrawn[i]
                changes.append((pid, "active", st, self.at(day, second), who))
        change_ids = self.ids("pledge_change", len(changes)).tolist()
        yield "pledge_change", [(cid, *row) for cid, row in zip(change_ids, changes, strict=True)]

        # Progress reports: one per quarter from the activation quarter (or `quarters` ago) to
        # the last one ended; a fifth of active pledges stop 1–4 quarters early.
        q_first = [first_quarter]
        while q_first[-1] < current.previous():
            q_first.append(q_first[-1].next())
        span = q_first  # the reportable quarters, oldest first
        span_ends = np.array([q.last_day.toordinal() for q in span])
        span_firsts = np.array([q.first_day.toordinal() for q in span])
        stop_early = (status == "active") & (rng.random(count) < 0.2)
        stop = np.where(stop_early, rng.integers(1, 5, count), 0)
        principles = world.principles
        n_principles = len(principles)
        reports: list[tuple] = []
        assessments: list[tuple] = []
        report_id = self.next_id["progress_report"]
        assessment_id = self.next_id["assessment"]
        level = np.minimum(rng.integers(0, 3, (count, n_principles)), 4)
        last_index = len(span) - 1
        for i in range(count):
            if not confirmed[i]:
                continue
            begin = int(np.searchsorted(span_ends, activated[i]))  # the activation quarter
            end = last_index - int(stop[i])
            if status[i] == "withdrawn":
                end = min(end, int(np.searchsorted(span_firsts, withdrawn[i], side="right")) - 2)
            levels = level[i]
            pid = int(pledge_ids[i])
            for k in range(begin, end + 1):
                quarter = span[k]
                levels = np.minimum(levels + (rng.random(n_principles) < 0.3), 4)
                if status[i] == "adopted" and span_ends[k] >= adopted[i]:
                    levels = np.full(n_principles, 4)
                late = int(rng.integers(1, 45))
                submitted_day = min(int(span_ends[k]) + late, t - 1)
                submitted = datetime.fromordinal(submitted_day).replace(
                    hour=int(rng.integers(7, 20)), minute=int(rng.integers(0, 60)), tzinfo=UTC
                )
                latest = k == last_index
                draw = rng.random()
                if latest and draw < 0.05:
                    state = "draft"
                elif draw < (0.5 if latest else 0.95):
                    state = "accepted"
                else:
                    state = "submitted"
                when = self.stamp(submitted)
                accepted = (
                    self.stamp(submitted + timedelta(days=3)) if state == "accepted" else None
                )
                reports.append((report_id, pid, world.standard_id, quarter.year, quarter.number,
                                state, None if state == "draft" else when, accepted, None,
                                when, when, 1))  # fmt: skip
                codes = levels.tolist()
                for (principle_id, position), value in zip(principles, codes, strict=True):
                    assessments.append((assessment_id, report_id, principle_id, position,
                                        LEVELS[value]))  # fmt: skip
                    assessment_id += 1
                original = report_id
                report_id += 1
                if state != "draft" and rng.random() < 0.02:  # a correction, filed a week later
                    fixed = self.stamp(submitted + timedelta(days=7))
                    reports.append((report_id, pid, world.standard_id, quarter.year,
                                    quarter.number, "submitted", fixed, None, original, fixed,
                                    fixed, 1))  # fmt: skip
                    bumped = np.minimum(levels + 1, 4).tolist()
                    for (principle_id, position), value in zip(principles, bumped, strict=True):
                        assessments.append((assessment_id, report_id, principle_id, position,
                                            LEVELS[value]))  # fmt: skip
                        assessment_id += 1
                    report_id += 1
            if len(assessments) >= CHUNK:
                yield "progress_report", reports
                yield "assessment", assessments
                reports, assessments = [], []
        self.next_id["progress_report"] = report_id
        self.next_id["assessment"] = assessment_id
        yield "progress_report", reports
        yield "assessment", assessments

    # engagements

    def engagements(self, count: int) -> Iterator[tuple[str, list[tuple]]]:
        """Over the last three years, more of them recently; one to three contacts each; a
        fifth with a follow-up (nearly all of the past ones done), owned by the staff."""
        rng, world = self.rng, self.world
        t = self.today.toordinal()
        for start in range(0, count, CHUNK):
            n = min(CHUNK, count - start)
            ids = self.ids("engagement", n)
            age = (rng.random(n) ** 1.5 * 3 * 365).astype(np.int64)  # more of them recently
            occurred = t - age
            has_follow_up = rng.random(n) < 0.2
            follow = occurred + rng.integers(7, 31, n)
            # Follow-ups get done: nearly all of those due over two months ago, half of the
            # recent ones.
            done_share = np.where(follow < t - 60, 0.98, 0.5)
            done = has_follow_up & (follow < t) & (rng.random(n) < done_share)
            owner = self.staff[rng.integers(0, len(self.staff), n)]
            created = self.stamps(occurred, rng.integers(8 * 3600, 20 * 3600, n))
            with_org = rng.random(n) < 0.8
            org = world.org_ids[rng.integers(0, len(world.org_ids), n)]
            follow_days = np.array(self.days(follow), dtype=object)
            rows = list(zip(
                ids.tolist(),
                self.pick(ENGAGEMENT_KINDS, n, ENGAGEMENT_KIND_WEIGHTS),
                self.days(occurred),
                self.pick(SUMMARIES, n),
                self.pick(HEARD, n),
                np.where(with_org, org, NONE).tolist(),
                np.where(has_follow_up, follow_days, NONE).tolist(),
                np.where(has_follow_up, owner, NONE).tolist(),
                np.where(done, np.array(self.stamps(follow, np.full(n, 10 * 3600)),
                                        dtype=object), NONE).tolist(),
                created, created, [1] * n, owner.tolist(), owner.tolist(), strict=True,
            ))  # fmt: skip
            yield "engagement", rows
            # 1–3 distinct contacts each: a random one and the next ones in the table.
            contacts = world.contact_ids
            how_many = rng.choice(3, n, p=(0.6, 0.3, 0.1)) + 1
            first = rng.integers(0, len(contacts), n)
            links: list[tuple[int, int]] = []
            for extra in range(3):
                chosen = how_many > extra
                position = (first[chosen] + extra) % len(contacts)
                links += zip(ids[chosen].tolist(), contacts[position].tolist(), strict=True)
            yield "engagement_contact", links

    # champions

    def champions(self, count: int) -> Iterator[tuple[str, list[tuple]]]:
        """Champions entered over ~30 months, moved along the funnel (some lapse), and the
        endorsements of those who committed."""
        rng, world = self.rng, self.world
        t = self.today.toordinal()
        contacts = self.distinct(world.non_champions, count)
        count = len(contacts)
        ids = self.ids("champion", count)
        final = rng.choice(6, count, p=(0.25, 0.15, 0.15, 0.12, 0.25, 0.08))
        entered = t - rng.integers(1, 900, count)
        champion_rows, endorsements, principle_links = [], [], []
        moves: list[tuple[int, str | None, str, str, Any]] = []  # champion, from, to, at, by
        endorsement_id = self.next_id["endorsement"]
        principle_ids = [p for p, _position in world.principles]
        for i in range(count):
            cid = int(ids[i])
            owner = self.staff[int(rng.integers(0, len(self.staff)))]
            path = list(range(0, 5 if final[i] == 5 else final[i] + 1))
            if final[i] == 5:
                path.append(5)
            day = int(entered[i])
            previous: int | None = None
            committed_day = None
            seconds = int(rng.integers(8 * 3600, 18 * 3600))
            for stage in path:
                when = min(day, t)
                from_stage = STAGES[previous] if previous is not None else None
                moves.append((cid, from_stage, STAGES[stage], self.at(when, seconds), owner))
                if stage == 3:
                    committed_day = when
                previous = stage
                day += int(rng.integers(7, 90))
            last_when = moves[-1][3]
            champion_rows.append((cid, int(contacts[i]), STAGES[path[-1]], last_when,
                                  owner if path[-1] >= 3 else None,
                                  REGIONS[int(rng.integers(0, len(REGIONS)))],
                                  int(rng.lognormal(7, 1.5)), last_when, last_when, 1))  # fmt: skip
            if committed_day is None:
                continue
            for _ in range(int(rng.integers(0, 12))):
                made = int(rng.integers(committed_day, t + 1))
                state = STATUS_DRAW[int(rng.integers(0, len(STATUS_DRAW)))]
                stamp = self.at(made, seconds)
                kind = ENDORSEMENT_KINDS[int(rng.integers(0, 5))]
                reach = int(rng.lognormal(6, 1.8))
                title = "Spoke up for the WEST Principles"
                made_on = date.fromordinal(made).isoformat()
                endorsements.append(
                    (endorsement_id, cid, kind, made_on, title, reach, state, stamp, stamp, 1)
                )
                for principle in {principle_ids[int(rng.integers(0, len(principle_ids)))]
                                  for _ in range(2)}:  # fmt: skip
                    principle_links.append((endorsement_id, principle))
                endorsement_id += 1
        self.next_id["endorsement"] = endorsement_id
        yield "champion", champion_rows
        change_ids = self.ids("stage_change", len(moves)).tolist()
        yield "stage_change", [(sid, *row) for sid, row in zip(change_ids, moves, strict=True)]
        yield "endorsement", endorsements
        yield "endorsement_principle", principle_links

    # events

    def events(self, count: int) -> Iterator[tuple[str, list[tuple]]]:
        """Events over the last ~30 months and a few to come, 20–600 participants each."""
        rng, world = self.rng, self.world
        t = self.today.toordinal()
        ids = self.ids("event", count)
        day = t - rng.integers(-60, 900, count)
        start = rng.integers(8 * 3600, 16 * 3600, count)
        starts = self.stamps(day, start)
        ends = self.stamps(day, start + 3 * 3600)
        created = self.stamps(day - 40, start)
        kinds = self.pick(EVENT_KINDS, count)
        rows = list(zip(
            ids.tolist(), [f"WEST {k} #{i}" for i, k in zip(ids.tolist(), kinds, strict=True)],
            kinds, self.pick(("hosted", "attended"), count, (3, 1)), starts, ends,
            ["UTC"] * count, self.pick(("GB", "DE", "BD", "IN", "US", "KE", "BR", "VN"), count),
            [None] * count, (rng.random(count) < 0.5).tolist(), [True] * count, created, created,
            [1] * count, strict=True,
        ))  # fmt: skip
        yield "event", rows
        participations: list[tuple] = []
        past_status = ("attended", "no_show", "registered", "cancelled", "waitlisted", "invited")
        future_status = ("registered", "waitlisted", "invited")
        for i in range(count):
            n = int(rng.integers(20, 600))
            people = self.distinct(world.contact_ids, n).tolist()
            past = day[i] < t
            statuses = (
                self.pick(past_status, n, (60, 15, 5, 10, 5, 5))
                if past
                else self.pick(future_status, n, (80, 10, 10))
            )
            roles = self.pick(("attendee", "speaker", "panelist"), n, (94, 3, 3))
            pids = self.ids("participation", n).tolist()
            stamp = created[i]
            participations += zip(pids, [int(ids[i])] * n, people, roles, statuses,
                                  ["staff"] * n, [stamp] * n, [stamp] * n, [stamp] * n,
                                  [1] * n, strict=True)  # fmt: skip
        yield "participation", participations

    # campaigns

    def campaigns(self, count: int, recipients: int) -> Iterator[tuple[str, list[tuple]]]:
        """Sent campaigns, two a quarter back in time, each to `recipients` people, with
        SendGrid's delivered / open / click events."""
        rng, world = self.rng, self.world
        ids = self.ids("campaign", count)
        rows, messages, events = [], [], []
        mailable = world.mailable
        event_id = self.next_id["delivery_event"]
        for i in range(count):
            cid = int(ids[i])
            finished = self.now - timedelta(days=int(i * 45 + rng.integers(1, 30)))
            queued = finished - timedelta(hours=2)
            rows.append((cid, f"Newsletter {cid}", "newsletter", "WEST team", "team@example.org",
                         "News from the WEST Principles", "Hello {{ first_name }}", "sent",
                         self.stamp(queued), self.stamp(finished), self.stamp(queued),
                         self.stamp(finished), 1))  # fmt: skip
            n = min(recipients, len(mailable))
            chosen = rng.choice(len(mailable), n, replace=False)
            message_ids = self.ids("outbox_message", n).tolist()
            sent_stamp = self.stamp(finished - timedelta(minutes=30))
            failed = rng.random(n) < 0.03
            delivered = (~failed) & (rng.random(n) < 0.95)
            opened = delivered & (rng.random(n) < 0.35)
            clicked = opened & (rng.random(n) < 0.25)
            for j, k in enumerate(chosen.tolist()):
                contact_id, email = mailable[k]
                mid = message_ids[j]
                messages.append((mid, cid, contact_id, email, f"b{mid:031d}",
                                 "failed" if failed[j] else "sent", 1, sent_stamp,
                                 None if failed[j] else sent_stamp))  # fmt: skip
                for kind, happened in (("delivered", delivered[j]), ("open", opened[j]),
                                       ("click", clicked[j])):  # fmt: skip
                    if happened:
                        events.append((event_id, f"bench-{event_id}", mid, cid, email, kind,
                                       sent_stamp, sent_stamp))  # fmt: skip
                        event_id += 1
        self.next_id["delivery_event"] = event_id
        yield "campaign", rows
        yield "outbox_message", messages
        yield "delivery_event", events

    # the learning library

    def case_studies(self, count: int) -> Iterator[tuple[str, list[tuple]]]:
        rng, world = self.rng, self.world
        t = self.today.toordinal()
        ids = self.ids("case_study", count)
        created = self.stamps(t - rng.integers(1, 800, count), np.full(count, 12 * 3600))
        technologies = self.pick(TECHNOLOGIES, count)
        outcomes = self.pick(("worked", "mixed", "failed"), count)
        shareable = (rng.random(count) < 0.5).tolist()
        statuses = self.pick(("published", "submitted", "returned"), count, (80, 15, 5))
        published = [
            stamp if status == "published" else None
            for stamp, status in zip(created, statuses, strict=True)
        ]
        rows = list(zip(
            ids.tolist(), [f"Case study {i}" for i in ids.tolist()], technologies, outcomes,
            ["What happened."] * count, ["Lessons."] * count, shareable,
            statuses, created, created, [1] * count, published, strict=True,
        ))  # fmt: skip
        yield "case_study", rows
        principle_ids = [p for p, _position in world.principles]
        links = {
            (int(i), principle_ids[int(rng.integers(0, len(principle_ids)))])
            for i in ids.tolist()
            for _ in range(2)
        }
        yield "case_study_principle", sorted(links)


STATUS_DRAW = ("verified",) * 7 + ("pending",) * 2 + ("rejected",)


# --- Loading --------------------------------------------------------------------------------


_COLUMNS = {
    "pledge": PLEDGE_COLUMNS,
    "pledge_change": PLEDGE_CHANGE_COLUMNS,
    "progress_report": REPORT_COLUMNS,
    "assessment": ASSESSMENT_COLUMNS,
    "engagement": ENGAGEMENT_COLUMNS,
    "engagement_contact": ("engagement_id", "contact_id"),
    "champion": CHAMPION_COLUMNS,
    "stage_change": STAGE_CHANGE_COLUMNS,
    "endorsement": ENDORSEMENT_COLUMNS,
    "endorsement_principle": ("endorsement_id", "principle_id"),
    "event": EVENT_COLUMNS,
    "participation": PARTICIPATION_COLUMNS,
    "campaign": CAMPAIGN_COLUMNS,
    "outbox_message": OUTBOX_COLUMNS,
    "delivery_event": DELIVERY_COLUMNS,
    "case_study": CASE_STUDY_COLUMNS,
    "case_study_principle": ("case_study_id", "principle_id"),
}
_WITH_ID = [table for table in TABLES if _COLUMNS[table][0] == "id"]


class _Writer:
    def __init__(self, raw: Any, dialect: str, say: Progress) -> None:
        self.raw = raw
        self.dialect = dialect
        self.say = say
        self.counts: dict[str, int] = dict.fromkeys(TABLES, 0)
        self.restore: list[str] = []

    def rows(self, sql: str) -> list[tuple]:
        return fetch_rows(self.raw, sql)

    def first_ids(self) -> dict[str, int]:
        parts = ", ".join(f"(SELECT coalesce(max(id), 0) + 1 FROM {t})" for t in _WITH_ID)
        return dict(zip(_WITH_ID, self.rows(f"SELECT {parts}")[0], strict=True))

    def world(self) -> _World:
        [(standard_id,)] = self.rows("SELECT id FROM standard WHERE status = 'current'")
        principles = self.rows(
            f"SELECT id, position FROM principle WHERE standard_id = {standard_id} "
            "ORDER BY position, id"
        )
        org_ids = np.array([r[0] for r in self.rows("SELECT id FROM organization")], np.int64)
        pledged = {
            r[0]
            for r in self.rows(
                f"SELECT organization_id FROM pledge WHERE standard_id = {standard_id} "
                "AND status != 'withdrawn'"
            )
        }
        free = np.array([o for o in org_ids.tolist() if o not in pledged], np.int64)
        contact_ids = np.array([r[0] for r in self.rows("SELECT id FROM contact")], np.int64)
        if not len(org_ids) or not len(contact_ids) or not principles:
            raise ValueError("Load organizations and contacts first (crm.demo.bulk).")
        roles = ", ".join(f"'{role.value}'" for role in STAFF_ROLES)
        staff = [
            r[0] for r in self.rows(f'SELECT id FROM "user" WHERE active AND role IN ({roles})')
        ]
        champions = {r[0] for r in self.rows("SELECT contact_id FROM champion")}
        sample = contact_ids[: min(len(contact_ids), 400_000)]
        non_champions = np.array([c for c in sample.tolist() if c not in champions], np.int64)
        mailable = self.rows(
            "SELECT id, email FROM contact WHERE email IS NOT NULL AND erased_at IS NULL "
            "ORDER BY id LIMIT 200000"
        )
        return _World(
            now=datetime.now(UTC),
            standard_id=standard_id,
            principles=principles,
            free_org_ids=free,
            org_ids=org_ids,
            contact_ids=contact_ids,
            mailable=mailable,
            staff_ids=staff,
            non_champions=non_champions,
        )

    def insert(self, table: str, rows: list[tuple]) -> None:
        if not rows:
            return
        columns = _COLUMNS[table]
        self.counts[table] += len(rows)
        for start in range(0, len(rows), CHUNK):
            chunk = rows[start : start + CHUNK]
            if self.dialect == "sqlite":
                self.raw.executemany(
                    f"INSERT INTO {table} ({', '.join(columns)}) "
                    f"VALUES ({', '.join('?' * len(columns))})",
                    chunk,
                )
            else:
                with (
                    self.raw.cursor() as cursor,
                    cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy,
                ):
                    for row in chunk:
                        copy.write_row(row)

    @contextlib.contextmanager
    def load(self) -> Iterator[None]:
        """One transaction; the loaded tables' secondary indexes (PostgreSQL: also their unique
        and foreign-key constraints) dropped before and rebuilt at the end."""
        raw = self.raw
        sqlite = self.dialect == "sqlite"
        if sqlite:
            raw.execute("PRAGMA foreign_keys=OFF")  # every reference is generated valid
            raw.execute("PRAGMA cache_size=-1048576")
            raw.execute("BEGIN IMMEDIATE")
        try:
            self._drop()
            yield
            self.say("Building indexes and constraints…")
            cursor = raw.cursor()
            for statement in self.restore:
                cursor.execute(statement)
            if not sqlite:  # ids were given explicitly: move the sequences past them
                for table in _WITH_ID:
                    cursor.execute(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), max(id)) "
                        f"FROM {table} HAVING max(id) IS NOT NULL"
                    )
            cursor.close()
            self.say("Committing…")
            self._end("COMMIT")
        except BaseException:
            self._end("ROLLBACK")
            raise
        finally:
            if sqlite:
                raw.execute("PRAGMA foreign_keys=ON")
                raw.execute("PRAGMA cache_size=-65536")  # as crm._configure_sqlite sets it

    def _end(self, statement: str) -> None:
        if self.dialect == "sqlite":
            self.raw.execute(statement)
        elif statement == "COMMIT":
            self.raw.commit()
        else:
            self.raw.rollback()

    def _drop(self) -> None:
        names = ", ".join(f"'{t}'" for t in TABLES)
        if self.dialect == "sqlite":
            for name, sql in self.rows(
                f"SELECT name, sql FROM sqlite_master WHERE type = 'index' "
                f"AND tbl_name IN ({names}) AND sql IS NOT NULL"
            ):
                self.raw.execute(f'DROP INDEX "{name}"')
                self.restore.append(sql)
            return
        with self.raw.cursor() as cursor:
            cursor.execute("SET LOCAL maintenance_work_mem = '512MB'")
            cursor.execute(
                "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
                f"FROM pg_constraint WHERE conrelid::regclass::text IN ({names}) "
                "AND contype IN ('u', 'f')"
            )
            constraints = cursor.fetchall()
            cursor.execute(
                "SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index i "
                f"WHERE indrelid::regclass::text IN ({names}) AND NOT indisprimary AND NOT EXISTS "
                "(SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)"
            )
            indexes = cursor.fetchall()
            # Foreign keys first: a unique constraint may be what another table's key needs.
            constraints.sort(key=lambda row: row[2].startswith("UNIQUE"))
            for table, name, _definition in constraints:
                cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
            for name, _definition in indexes:
                cursor.execute(f"DROP INDEX {name}")
            self.restore = [definition for _name, definition in indexes] + [
                f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}'
                for table, name, definition in sorted(
                    constraints, key=lambda row: not row[2].startswith("UNIQUE")
                )
            ]

    def analyze(self) -> None:
        if self.dialect == "sqlite":
            self.raw.execute("ANALYZE")
            self.raw.commit()
            return
        self.raw.commit()
        self.raw.autocommit = True  # VACUUM refuses to run inside a transaction
        try:
            with self.raw.cursor() as cursor:
                cursor.execute(f"VACUUM (ANALYZE) {', '.join(TABLES)}")
        finally:
            self.raw.autocommit = False
