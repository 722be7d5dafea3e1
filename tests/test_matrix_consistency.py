"""The matrix and the diff agree with the statements behind them, whatever writes came before.

A seeded random sequence of writes goes through the API only: statements recorded (several on the
same day), retracted (one effective the day it was stated, one from the default date), corrected
(stance, stated_on, summary, speaker, quote, source), sources retitled and re-dated, a party
renamed, a party and an issue added, and a source superseded by an edited text that leaves one
quote drifted and one orphaned until an editor confirms or corrects them. The test keeps its own
record of every statement and, after each batch of writes, computes from it what
`GET /v1/matrix` and `GET /v1/diff` must answer on dates chosen around the events (before all of
them, on a `stated_on`, `retracted_on` or publication day, the day before, after all of them), and
compares field by field: evidence is the run of the position's stance, and a cell cites the
version of a source published by its date. It does not look at how positions are stored, so it checks any implementation.
"""

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from typing import Any

from tests.helpers import create_issue, create_party, create_source

SEED = 20250818
STANCES = ["support", "lean_support", "neutral", "lean_oppose", "oppose", "unclear"]
SUPPORT_SIDE = {"support", "lean_support"}
OPPOSE_SIDE = {"oppose", "lean_oppose"}
CONTEXT_CHARS = 32
# Few distinct days, so that cells often get several statements on the same day. They straddle
# a year's end and month ends, where any per-month bookkeeping would show its seams.
DAY_POOL = [
    date(2024, 11, 30), date(2024, 12, 1), date(2024, 12, 31), date(2025, 1, 1), date(2025, 1, 15),
    date(2025, 1, 31), date(2025, 2, 1), date(2025, 2, 14), date(2025, 2, 28), date(2025, 3, 1),
    date(2025, 3, 17), date(2025, 3, 31), date(2025, 4, 1), date(2025, 4, 30),
]  # fmt: skip
FAR_FUTURE = date(2099, 12, 31)
# Words for sentences unlike each other, so a removed sentence has no close passage (orphaned).
VOCABULARY = (
    "harbour treaty ferry granite lantern orchard customs tariff ledger meadow frontier valley "
    "cobalt pension quarry railway summit verdict tunnel beacon charter falcon glacier mortgage "
    "nickel oyster pylon quartz ribbon saddle timber umbrella vessel walnut yeoman zephyr "
    "anchor bishop cradle dynamo embassy furnace gallery hamlet island jasmine kettle lagoon "
    "monsoon nectar obelisk pepper quiver rampart spindle thistle upland vintage warden"
).split()


# --- the reference ------------------------------------------------------------------------------


@dataclass
class SourceRecord:
    id: int
    title: str
    published_at: str
    url: str | None
    text: str
    sentences: list[str]


@dataclass
class StatementRecord:
    id: int
    party: int  # index into World.parties
    issue: int  # index into World.issues
    source: int
    quote: str
    stance: str
    summary: str
    speaker: str | None
    stated_on: date
    retracted_on: date | None = None
    flag: tuple[str, int] | None = None  # (outcome, newer source) while a re-anchoring awaits an editor
    # Every (source, quote) it has cited, oldest first: a correction or a re-anchoring adds one.
    citations: list[tuple[int, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.citations.append((self.source, self.quote))

    def cite(self, source: int, quote: str) -> None:
        self.source, self.quote = source, quote
        self.citations.append((source, quote))

    def stands_on(self, day: date) -> bool:
        return self.stated_on <= day and (self.retracted_on is None or self.retracted_on > day)


def classify(before: str | None, after: str | None) -> str:
    if before is None:
        return "new"
    if after is None:
        return "withdrawn"
    if before == after:
        return "unchanged"
    crossed = (before in SUPPORT_SIDE and after in OPPOSE_SIDE) or (before in OPPOSE_SIDE and after in SUPPORT_SIDE)
    return "reversed" if crossed else "shifted"


def instant(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def make_text(rng: random.Random, count: int) -> tuple[str, list[str]]:
    sentences: list[str] = []
    while len(sentences) < count:
        words = rng.sample(VOCABULARY, rng.randint(6, 9))
        sentence = " ".join(words).capitalize() + "."
        if all(sentence not in other and other not in sentence for other in sentences):
            sentences.append(sentence)
    return " ".join(sentences), sentences


class World:
    """The writes, made through the API, and the record of what they must have left behind."""

    def __init__(self, client: Any, seed: int) -> None:
        self.client = client
        self.rng = random.Random(seed)
        self.parties: list[str] = []
        self.issues: list[str] = []
        self.sources: dict[int, SourceRecord] = {}
        self.statements: dict[int, StatementRecord] = {}
        self.log: list[str] = []  # every write, for failure messages
        self.batch_start = 0
        self.touched: set[date] = set()  # dates of the events changed since the last check
        self.superseded: set[int] = set()  # sources a newer version replaced

    # -- writing ---------------------------------------------------------------------------------

    def write(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        self.log.append(f"{method} {path} {body}")
        response = self.client.request(method, path, json=body)
        assert 200 <= response.status_code < 300, f"{method} {path} {body} -> {response.status_code}: {response.text}"
        return response.json()

    def add_party(self, slug: str) -> None:
        self.log.append(f"POST /v1/parties {slug}")
        create_party(self.client, slug)
        self.parties.append(slug)

    def add_issue(self, slug: str) -> None:
        self.log.append(f"POST /v1/issues {slug}")
        create_issue(self.client, slug, title=slug.title(), proposition=f"Proposition on {slug}")
        self.issues.append(slug)

    def add_source(self, title: str, published_at: str, url: str | None, text: str, **fields: Any) -> SourceRecord:
        self.log.append(f"POST /v1/sources {title} {fields}")
        created = create_source(self.client, text=text, title=title, published_at=published_at, url=url, **fields)
        record = SourceRecord(
            created["id"], created["title"], created["published_at"], created["url"], text, text_sentences(text)
        )
        assert created["title"] == title and instant(created["published_at"]).date().isoformat() == published_at
        self.sources[record.id] = record
        return created

    def standing_records(self) -> list[StatementRecord]:
        """Statements an editor may still correct or retract."""
        return [record for record in self.statements.values() if record.retracted_on is None]

    def state(
        self,
        party: int,
        issue: int,
        source: int,
        quote: str,
        stance: str,
        stated_on: date | None,
        summary: str | None = None,
        speaker: str | None = None,
    ) -> StatementRecord:
        body: dict[str, Any] = {
            "party": self.parties[party], "issue": self.issues[issue], "source": source, "quote": quote,
            "stance": stance,
        }  # fmt: skip
        if stated_on is not None:
            body["stated_on"] = stated_on.isoformat()
        if summary is not None:
            body["summary"] = summary
        if speaker is not None:
            body["speaker"] = speaker
        created = self.write("POST", "/v1/statements", body)
        expected_day = stated_on or instant(self.sources[source].published_at).date()
        record = StatementRecord(
            id=created["id"], party=party, issue=issue, source=source, quote=quote, stance=stance,
            summary=summary or "", speaker=speaker, stated_on=expected_day,
        )  # fmt: skip
        self.statements[record.id] = record
        self.touched.add(record.stated_on)
        self.assert_echo(created, record)
        return record

    def retract(self, record: StatementRecord, retracted_on: date | None) -> None:
        body: dict[str, Any] = {"reason": "Misattributed"}
        if retracted_on is not None:
            body["retracted_on"] = retracted_on.isoformat()
        retracted = self.write("POST", f"/v1/statements/{record.id}/retract", body)
        on = date.fromisoformat(retracted["retraction"]["retracted_on"])
        if retracted_on is None:
            # The default: today (UTC), or the day it was stated when that is later.
            assert on >= max(record.stated_on, datetime.now(UTC).date() - timedelta(days=1)), retracted
        else:
            assert on == retracted_on, retracted
        record.retracted_on = on
        record.flag = None  # retracting settles a pending re-anchoring
        self.touched.add(on)

    def correct(self, record: StatementRecord, **changes: Any) -> None:
        body = {name: value.isoformat() if isinstance(value, date) else value for name, value in changes.items()}
        corrected = self.write("PATCH", f"/v1/statements/{record.id}", body)
        self.touched.add(record.stated_on)
        if "stance" in changes:
            record.stance = changes["stance"]
        if "stated_on" in changes:
            record.stated_on = changes["stated_on"]
        if "summary" in changes:
            record.summary = changes["summary"] or ""
        if "speaker" in changes:
            record.speaker = changes["speaker"]
        if "quote" in changes or "source" in changes:
            old = (record.source, record.quote)
            record.cite(changes.get("source", record.source), changes.get("quote", record.quote))
            if (record.source, record.quote) != old:
                record.flag = None  # a new quote settles a pending re-anchoring
        self.touched.add(record.stated_on)
        self.assert_echo(corrected, record)

    def retitle(self, source: SourceRecord, **changes: Any) -> None:
        updated = self.write("PATCH", f"/v1/sources/{source.id}", changes)
        source.title, source.url, source.published_at = updated["title"], updated["url"], updated["published_at"]
        if "title" in changes:
            assert source.title == changes["title"]

    def rename_party(self, index: int, slug: str) -> None:
        self.write("PATCH", f"/v1/parties/{self.parties[index]}", {"slug": slug})
        self.parties[index] = slug

    def assert_echo(self, statement: dict[str, Any], record: StatementRecord) -> None:
        """A write's response already says what the record says."""
        assert (statement["party"], statement["issue"]) == (self.parties[record.party], self.issues[record.issue])
        assert (statement["source"], statement["quote"], statement["stance"]) == (
            record.source,
            record.quote,
            record.stance,
        )
        assert (statement["summary"], statement["speaker"]) == (record.summary, record.speaker)
        assert statement["stated_on"] == record.stated_on.isoformat(), (statement, record)

    # -- random writes ---------------------------------------------------------------------------

    def random_day(self) -> date:
        return self.rng.choice(DAY_POOL)

    def random_create(self) -> None:
        rng = self.rng
        source = self.sources[rng.choice(self.live_sources)]
        stated_on = None if rng.random() < 0.1 else self.random_day()
        self.state(
            rng.randrange(len(self.parties)), rng.randrange(len(self.issues)), source.id, rng.choice(source.sentences),
            rng.choice(STANCES), stated_on, summary=rng.choice([None, f"Summary {len(self.log)}"]),
            speaker=rng.choice([None, None, f"Speaker {len(self.log)}"]),
        )  # fmt: skip

    def random_retract(self, candidates: list[StatementRecord]) -> None:
        record = self.rng.choice(candidates)
        roll = self.rng.random()
        if roll < 0.25:
            retracted_on = record.stated_on  # never stands at all
        elif roll < 0.6:
            retracted_on = record.stated_on + timedelta(days=self.rng.randint(1, 45))
        else:
            later = [day for day in DAY_POOL if day > record.stated_on]
            retracted_on = self.rng.choice(later) if later else record.stated_on + timedelta(days=1)
        self.retract(record, retracted_on)

    def random_correct(self, candidates: list[StatementRecord]) -> None:
        rng = self.rng
        record = rng.choice(candidates)
        kind = rng.choice(["stance", "stated_on", "stated_on", "text", "quote", "move"])
        if kind == "stance":
            self.correct(record, stance=rng.choice([s for s in STANCES if s != record.stance]))
        elif kind == "stated_on":
            self.correct(record, stated_on=self.random_day(), note="wrong date")
        elif kind == "text":
            self.correct(
                record, summary=rng.choice([None, f"Reworded {len(self.log)}"]), speaker=rng.choice([None, "An aide"])
            )
        elif kind == "quote":
            sentences = [s for s in self.sources[record.source].sentences if s != record.quote]
            self.correct(record, quote=rng.choice(sentences))
        else:
            source = self.sources[rng.choice([s for s in self.live_sources if s != record.source] or self.live_sources)]
            self.correct(record, source=source.id, quote=rng.choice(source.sentences), stance=rng.choice(STANCES))

    def random_source_edit(self) -> None:
        source = self.sources[self.rng.choice(list(self.sources))]
        roll = self.rng.random()
        if roll < 0.6:
            self.retitle(source, title=f"{source.title.split(' (')[0]} (rev {len(self.log)})")
        elif roll < 0.8:
            self.retitle(source, url=f"https://example.org/{source.id}/{len(self.log)}")
        else:
            self.retitle(source, published_at=self.random_day().isoformat())

    def random_batch(self, size: int, *, spare: frozenset[int] = frozenset()) -> None:
        """`size` random writes; statements in `spare` are left alone."""
        for _ in range(size):
            editable = [record for record in self.standing_records() if record.id not in spare]
            roll = self.rng.random()
            if roll < 0.45 or len(editable) < 3:
                self.random_create()
            elif roll < 0.62:
                self.random_retract(editable)
            elif roll < 0.9:
                self.random_correct(editable)
            else:
                self.random_source_edit()

    @property
    def live_sources(self) -> list[int]:
        """Sources new quotes are taken from: the latest version of each document."""
        return [source for source in self.sources if source not in self.superseded]

    # -- the expected answers --------------------------------------------------------------------

    def expected_cell(self, party: int, issue: int, day: date, source: int | None = None) -> dict[str, Any]:
        standing = [
            record
            for record in self.statements.values()
            if record.party == party and record.issue == issue and record.stands_on(day)
            and (source is None or record.source == source)
        ]  # fmt: skip
        cell: dict[str, Any] = {"party": self.parties[party], "issue": self.issues[issue]}
        if not standing:
            return {
                **cell, "stance": None, "summary": None, "stated_on": None, "statement": None, "quote": None,
                "selector": None, "speaker": None, "source": None, "evidence_count": 0, "evidence_since": None,
                "flag": None, "evidence": [],
            }  # fmt: skip
        standing.sort(key=lambda record: (record.stated_on, record.id))
        latest = standing[-1]
        cited_source, cited_quote = (latest.source, latest.quote) if source is not None else self.cited_on(latest, day)
        quoted = self.sources[cited_source]
        start = quoted.text.index(cited_quote)
        end = start + len(cited_quote)
        # The evidence: the statements at the end sharing the latest one's stance.
        run = 1
        while run < len(standing) and standing[-run - 1].stance == latest.stance:
            run += 1
        return {
            **cell,
            "stance": latest.stance,
            "summary": latest.summary,
            "stated_on": latest.stated_on.isoformat(),
            "statement": latest.id,
            "quote": cited_quote,
            "selector": {
                "start": start, "end": end, "prefix": quoted.text[max(0, start - CONTEXT_CHARS) : start],
                "suffix": quoted.text[end : end + CONTEXT_CHARS],
            },
            "speaker": latest.speaker,
            "source": {
                "id": quoted.id, "title": quoted.title, "published_at": instant(quoted.published_at), "url": quoted.url,
            },
            "evidence_count": run,
            "evidence_since": standing[-run].stated_on.isoformat(),
            "flag": latest.flag,
            "evidence": [record.id for record in standing],
        }  # fmt: skip

    def published_on(self, source: int) -> date:
        return instant(self.sources[source].published_at).date()

    def cited_on(self, record: StatementRecord, day: date) -> tuple[int, str]:
        """What a cell of `record` cites as of `day`: its latest citation whose source was published
        by then, or by the day the first of its sources was (a position reported after the fact)."""
        cutoff = max(day, min(self.published_on(source) for source, _ in record.citations))
        return [citation for citation in record.citations if self.published_on(citation[0]) <= cutoff][-1]

    def event_dates(self) -> list[date]:
        days = {record.stated_on for record in self.statements.values()}
        days |= {record.retracted_on for record in self.statements.values() if record.retracted_on is not None}
        days |= {self.published_on(source) for source in self.sources}  # where citations change
        return sorted(days)


def text_sentences(text: str) -> list[str]:
    return [sentence + "." for sentence in text.removesuffix(".").split(". ")]


def observed_cell(cell: dict[str, Any], *, with_evidence: bool) -> dict[str, Any]:
    """A served cell in the reference's terms (timestamps parsed, the flag as outcome and source)."""
    seen = dict(cell)
    if seen.get("source") is not None:
        seen["source"] = {**seen["source"], "published_at": instant(seen["source"]["published_at"])}
    if seen.get("flag") is not None:
        seen["flag"] = (seen["flag"]["outcome"], seen["flag"]["source"])
    if with_evidence:
        seen["evidence"] = [statement["id"] for statement in seen.get("evidence") or []]
    else:
        assert seen.pop("evidence", None) is None, cell
    return seen


def differences(where: str, expected: dict[str, Any] | None, seen: dict[str, Any] | None) -> list[str]:
    if expected is None or seen is None:
        return [] if expected == seen else [f"{where}: expected {expected}, got {seen}"]
    return [
        f"{where}: {name} expected {expected.get(name)!r}, got {seen.get(name)!r}"
        for name in sorted(expected.keys() | seen.keys())
        if expected.get(name) != seen.get(name)
    ]


# --- the checks -------------------------------------------------------------------------------


class Checker:
    def __init__(self, world: World) -> None:
        self.world = world

    def get(self, path: str, **params: Any) -> dict[str, Any]:
        response = self.world.client.get(path, params=params)
        assert response.status_code == 200, f"GET {path} {params} -> {response.status_code}: {response.text}"
        return response.json()

    def matrix(self, day: date, *, with_evidence: bool = False, source: int | None = None) -> list[str]:
        world = self.world
        params: dict[str, Any] = {"as_of": day.isoformat()}
        if with_evidence:
            params["evidence"] = "all"
        if source is not None:
            params["source"] = source
        body = self.get("/v1/matrix", **params)
        label = (
            f"matrix as_of={day}" + (f" source={source}" if source else "") + (" evidence=all" if with_evidence else "")
        )
        problems = []
        if body["as_of"] != day.isoformat() or body["source"] != source:
            problems.append(f"{label}: header {body['as_of']} {body['source']}")
        if [party["slug"] for party in body["parties"]] != world.parties:
            problems.append(f"{label}: parties {body['parties']} != {world.parties}")
        if [issue["slug"] for issue in body["issues"]] != world.issues:
            problems.append(f"{label}: issues {body['issues']} != {world.issues}")
        grid = [(p, i) for p in range(len(world.parties)) for i in range(len(world.issues))]
        if len(body["cells"]) != len(grid):
            return [
                *problems,
                f"{label}: {len(body['cells'])} cells for a {len(world.parties)}×{len(world.issues)} grid",
            ]
        for (party, issue), cell in zip(grid, body["cells"], strict=True):
            expected = world.expected_cell(party, issue, day, source)
            if not with_evidence:
                del expected["evidence"]
            where = f"{label} cell {world.parties[party]}×{world.issues[issue]}"
            problems += differences(where, expected, observed_cell(cell, with_evidence=with_evidence))
        return problems

    def diff(self, start: date, end: date, *, only_changed: bool = False) -> list[str]:
        world = self.world
        params = {"from": start.isoformat(), "to": end.isoformat()}
        if only_changed:
            params["only"] = "changed"
        body = self.get("/v1/diff", **params)
        label = f"diff {start}→{end}" + (" only=changed" if only_changed else "")
        problems = []
        if body["from"] != {"as_of": start.isoformat(), "source": None} or body["to"] != {
            "as_of": end.isoformat(),
            "source": None,
        }:
            problems.append(f"{label}: ends {body['from']} {body['to']}")
        summary = dict.fromkeys(("new", "withdrawn", "unchanged", "shifted", "reversed"), 0)
        expected_changes = []
        for party in range(len(world.parties)):
            for issue in range(len(world.issues)):
                before = world.expected_cell(party, issue, start)
                after = world.expected_cell(party, issue, end)
                if before["stance"] is None and after["stance"] is None:
                    continue
                change = classify(before["stance"], after["stance"])
                summary[change] += 1
                if only_changed and change == "unchanged":
                    continue
                for cell in (before, after):
                    del cell["evidence"]
                expected_changes.append(
                    {
                        "party": world.parties[party], "issue": world.issues[issue], "change": change,
                        "before": before if before["stance"] is not None else None,
                        "after": after if after["stance"] is not None else None,
                    }
                )  # fmt: skip
        if body["summary"] != summary:
            problems.append(f"{label}: summary expected {summary}, got {body['summary']}")
        seen_cells = [(change["party"], change["issue"]) for change in body["changes"]]
        wanted_cells = [(change["party"], change["issue"]) for change in expected_changes]
        if seen_cells != wanted_cells:
            return [*problems, f"{label}: changed cells expected {wanted_cells}, got {seen_cells}"]
        for expected, seen in zip(expected_changes, body["changes"], strict=True):
            where = f"{label} cell {expected['party']}×{expected['issue']}"
            if seen["change"] != expected["change"]:
                problems.append(f"{where}: change expected {expected['change']}, got {seen['change']}")
            for side in ("before", "after"):
                served = seen[side] if seen[side] is None else observed_cell(seen[side], with_evidence=False)
                problems += differences(f"{where} {side}", expected[side], served)
        return problems

    def listing(self) -> list[str]:
        """GET /v1/statements, with and without retracted ones, against the record."""
        world = self.world
        problems = []
        for include_retracted in (True, False):
            items, cursor = [], None
            while True:
                params: dict[str, Any] = {"limit": 20, "include_retracted": include_retracted}
                if cursor:
                    params["cursor"] = cursor
                page = self.get("/v1/statements", **params)
                items += page["items"]
                cursor = page["next_cursor"]
                if cursor is None:
                    break
            wanted = sorted(r.id for r in world.statements.values() if include_retracted or r.retracted_on is None)
            if [item["id"] for item in items] != wanted:
                problems.append(
                    f"statements include_retracted={include_retracted}: ids {[i['id'] for i in items]} != {wanted}"
                )
                continue
            for item in items:
                record = world.statements[item["id"]]
                retraction = item["retraction"]
                seen = (
                    item["party"], item["issue"], item["source"], item["quote"], item["stance"], item["summary"],
                    item["speaker"], item["stated_on"], retraction and retraction["retracted_on"],
                )  # fmt: skip
                expected = (
                    world.parties[record.party], world.issues[record.issue], record.source, record.quote, record.stance,
                    record.summary, record.speaker, record.stated_on.isoformat(),
                    record.retracted_on and record.retracted_on.isoformat(),
                )  # fmt: skip
                if seen != expected:
                    problems.append(f"statement {record.id}: expected {expected}, listed {seen}")
        return problems

    def run(self, label: str, *, every_date: bool = False) -> None:
        """Matrix on dates around the events, diffs between pairs of them; fails listing every mismatch."""
        world, rng = self.world, self.world.rng
        events = world.event_dates() or [DAY_POOL[0]]
        boundaries = [events[0] - timedelta(days=1), events[-1] + timedelta(days=1), FAR_FUTURE]
        if every_date:
            days = set(events) | {day - timedelta(days=1) for day in events}
        else:
            touched = sorted(world.touched)
            days = set(touched) | {day - timedelta(days=1) for day in touched[:4]}
            days |= set(rng.sample(events, min(6, len(events))))
        days = sorted(days | set(boundaries))
        problems = self.listing()
        for index, day in enumerate(days):
            problems += self.matrix(day, with_evidence=index % 3 == 0)
        for source in rng.sample(sorted(world.sources), 2):
            problems += self.matrix(rng.choice(days), source=source)
        pairs = [(days[0], days[-1]), (days[0], days[0])]
        pairs += [(a, b) for a, b in pairwise(days) if rng.random() < (1 if every_date else 0.5)]
        pairs += [tuple(sorted(rng.sample(days, 2))) for _ in range(3)]
        for index, (start, end) in enumerate(pairs):
            problems += self.diff(start, end, only_changed=index % 4 == 1)
        if problems:
            writes = "\n  ".join(world.log[world.batch_start :])
            shown = "\n".join(problems[:25])
            raise AssertionError(
                f"{label}: {len(problems)} mismatch(es) with the reference (seed {SEED}).\n{shown}\n"
                f"Writes since the previous check:\n  {writes}"
            )
        world.batch_start = len(world.log)
        world.touched = set()


# --- the test -----------------------------------------------------------------------------------


def test_matrix_and_diff_agree_with_the_statements_through_random_writes(client):
    world = World(client, SEED)
    check = Checker(world)
    for slug in ("avalon", "brigadoon", "camelot"):
        world.add_party(slug)
    for slug in ("ferries", "tariffs", "bridges"):
        world.add_issue(slug)
    texts = [make_text(world.rng, 14)[0] for _ in range(3)]
    world.add_source("Harbour wire", "2024-12-01", "https://example.org/harbour", texts[0])
    revised_source = world.add_source("Treaty transcript", "2025-01-15", None, texts[1], kind="transcript")
    world.add_source("Customs digest", "2025-03-01", "https://example.org/customs", texts[2])
    check.run("empty grid")

    # Several random batches, then the edge cases the random ones may have missed.
    for batch in range(4):
        world.random_batch(11)
        check.run(f"random batch {batch + 1}")

    rng = world.rng
    source = world.sources[rng.choice(world.live_sources)]
    first = world.state(0, 1, source.id, source.sentences[0], "support", date(2025, 2, 14))
    second = world.state(0, 1, source.id, source.sentences[1], "oppose", date(2025, 2, 14))  # same day, higher id wins
    never = world.state(0, 1, source.id, source.sentences[2], "neutral", date(2025, 3, 17))
    world.retract(never, date(2025, 3, 17))  # effective the day it was stated: it never stands
    # Moved onto the day of a later-recorded statement: the tie goes to the higher id, not to the latest write.
    world.correct(second, stated_on=date(2025, 4, 30), stance="lean_support")
    world.correct(first, stated_on=date(2025, 4, 30))
    # Retracted from the default date (today): it stands on every date of the data.
    world.retract(rng.choice([r for r in world.standing_records() if r.id not in {first.id, second.id}]), None)
    check.run("same-day statements and retractions")

    # The grid changes shape: a party renamed, a party and an issue added (their cells empty).
    world.rename_party(1, "brigadoon-east")
    world.add_party("dunmore")
    world.add_issue("pensions")
    # Source metadata shows in every cell quoting it; a statement keeps its stated_on when the source is re-dated.
    harbour = world.sources[min(world.sources)]
    world.retitle(harbour, url="https://example.org/harbour-moved", published_at="2025-02-01")
    world.retitle(harbour, title="Harbour wire, corrected")
    world.random_batch(6)
    check.run("renamed party, new party and issue")

    # A new version of one source: one quoted sentence edited (drifted), one removed (orphaned).
    old = world.sources[revised_source["id"]]
    edited, removed = old.sentences[4], old.sentences[9]
    drifted = world.state(2, 0, old.id, edited, "oppose", date(2025, 5, 20), summary="Latest word")
    orphaned = world.state(1, 2, old.id, removed, "lean_oppose", date(2025, 4, 1))
    words = edited.removesuffix(".").split(" ")
    replacement = next(word for word in VOCABULARY if word not in old.text)
    new_text = old.text.replace(edited, " ".join([*words[:-1], replacement]) + ".").replace(removed + " ", "")
    assert new_text.count(" ".join(words[:-1])) == 1 and removed not in new_text
    expected_outcomes = {}
    for record in sorted(world.standing_records(), key=lambda record: record.id):
        if record.source != old.id:
            continue
        if record.quote in new_text:
            expected_outcomes[record.id] = "anchored"
        else:
            expected_outcomes[record.id] = "drifted" if record.quote == edited else "orphaned"
    assert expected_outcomes[drifted.id] == "drifted" and expected_outcomes[orphaned.id] == "orphaned"
    new = world.add_source("Treaty transcript (corrected)", "2025-05-01", None, new_text, supersedes=old.id)
    world.superseded.add(old.id)
    report = new["anchoring"]
    assert {o["statement"]: o["outcome"] for o in report["outcomes"]} == expected_outcomes, report
    for statement_id, outcome in expected_outcomes.items():
        if outcome == "anchored":
            world.statements[statement_id].cite(new["id"], world.statements[statement_id].quote)
        else:
            world.statements[statement_id].flag = (outcome, new["id"])
    world.touched |= {drifted.stated_on, orphaned.stated_on, date(2025, 5, 1)}
    check.run("source superseded")
    # The flag shows where the drifted statement is the position: every date from its own on.
    cell = next(c for c in check.get("/v1/matrix", as_of="2025-06-01")["cells"] if c["statement"] == drifted.id)
    assert cell["flag"]["outcome"] == "drifted" and cell["flag"]["source"] == new["id"], cell
    assert 0.75 <= cell["flag"]["similarity"] < 1, cell

    # Writes elsewhere, and a correction that leaves the quote alone, keep the flags.
    world.random_batch(8, spare=frozenset({drifted.id, orphaned.id}))
    world.correct(drifted, stance="lean_oppose", summary="Softened")
    world.retitle(world.sources[new["id"]], title="Treaty transcript (final)")
    world.retitle(old, title="Treaty transcript (first take)")
    check.run("flags kept")

    # Confirming the drifted statement and correcting the orphaned one's quote clear their flags.
    review = world.write("POST", f"/v1/statements/{drifted.id}/confirm")
    assert [(r["statement"], r["resolution"]) for r in review["resolved"]] == [(drifted.id, "confirmed")], review
    drifted.flag = None
    world.correct(orphaned, source=new["id"], quote=world.sources[new["id"]].sentences[0])
    assert orphaned.flag is None
    world.touched |= {drifted.stated_on, orphaned.stated_on}
    check.run("flags settled")
    cell = next(c for c in check.get("/v1/matrix", as_of="2025-06-01")["cells"] if c["statement"] == drifted.id)
    assert cell["flag"] is None and cell["source"]["id"] == old.id, cell

    for batch in range(3):
        world.random_batch(8)
        check.run(f"late random batch {batch + 1}")
    while len(world.statements) < 40:  # whatever the seed, at least 40 statements for the last sweep
        world.random_create()
    check.run("every event date", every_date=True)

    # A diff from a source's publication equals the one from that date.
    latest = world.sources[new["id"]]
    by_source = check.get("/v1/diff", **{"from": f"source:{latest.id}", "to": FAR_FUTURE.isoformat()})
    by_date = check.get(
        "/v1/diff", **{"from": instant(latest.published_at).date().isoformat(), "to": FAR_FUTURE.isoformat()}
    )
    assert by_source["from"] == {"as_of": instant(latest.published_at).date().isoformat(), "source": latest.id}
    assert (by_source["summary"], by_source["changes"]) == (by_date["summary"], by_date["changes"])
