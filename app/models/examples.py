"""Examples for the OpenAPI document, taken from the seed data (seeds/*.json).

They are what the API really returns for the seeded database (tests/test_openapi.py checks it),
so /docs and generated clients show Russia's stance on security guarantees, not "string".
Only the timestamps of when a row was recorded are made up.
"""

import json
from collections.abc import Callable
from typing import Any

# Model name -> its examples as written here. FastAPI drops null members from the examples it
# writes into the document, and pydantic sorts their keys; create_app() puts these back, so an
# example keeps its required nulls (`"source": null`) and reads in field order.
SHOWN: dict[str, list[Any]] = {}


def shown(*values: Any) -> Callable[[dict[str, Any], type], None]:
    """`json_schema_extra` showing these examples in the model's schema."""

    def add(schema: dict[str, Any], model: type) -> None:
        schema["examples"] = list(values)
        SHOWN[model.__name__] = list(values)

    return add


SEED_SOURCE_TITLE = "Zelensky and European leaders head to the White House to discuss ending Russia's invasion"
RECORDED_AT = "2025-08-18T09:30:00Z"

PARTY_CREATE: dict[str, Any] = {
    "slug": "russia",
    "name": "Russia",
    "kind": "country",
    "description": "The Russian Federation and its leadership under President Vladimir Putin, including Foreign "
    "Minister Sergei Lavrov and Putin aide Yuri Ushakov; it invaded Ukraine in 2022.",
    "aliases": [
        "Russia",
        "Putin",
        "Vladimir Putin",
        "Russian President Vladimir Putin",
        "the Kremlin",
        "Moscow",
        "the Russian camp",
        "the Russian side",
        "the Russians",
        "Foreign Minister Sergei Lavrov",
        "Sergei Lavrov",
        "Lavrov",
        "Yuri Ushakov",
        "Ushakov",
        "Russian forces",
    ],
}
PARTY_UPDATE: dict[str, Any] = {"aliases": ["Russia", "Putin", "the Kremlin", "Moscow", "Sergei Lavrov"]}
PARTY_PUBLIC: dict[str, Any] = {**PARTY_CREATE, "created_at": RECORDED_AT, "updated_at": RECORDED_AT}

ISSUE_CREATE: dict[str, Any] = {
    "slug": "security-guarantees",
    "title": "Security guarantees for Ukraine",
    "proposition": "Ukraine receives Western security guarantees akin to NATO's Article 5 collective defence.",
    "description": "Whether the US and/or its allies give Ukraine binding protection against renewed attack after "
    'a peace deal ("Article 5-like protection") without NATO membership. Support = demands, offers or accepts '
    "such guarantees; oppose = rejects them.",
    "keywords": [
        "security guarantees",
        "reliable security guarantees",
        "guarantee security",
        "defend ukraine",
        "article 5",
        "article 5-like protection",
        "collective defense",
        "future security",
        "national security",
        "off the table",
        "game-changing",
    ],
}
ISSUE_UPDATE: dict[str, Any] = {"keywords": ["security guarantees", "article 5", "off the table", "game-changing"]}
ISSUE_PUBLIC: dict[str, Any] = {**ISSUE_CREATE, "created_at": RECORDED_AT, "updated_at": RECORDED_AT}

# The "Security guarantees" section of the seed article, stored as a source of its own.
SOURCE_EXCERPT = (
    "Even if a land swap is approved to end the current conflict, future national security in Ukraine remains "
    "unresolved.\n"
    "A breakthrough on this front appears to have emerged in Alaska, where the Russian side approved an "
    "arrangement previously thought off the table.\n"
    "U.S. special envoy Steve Witkoff told CNN on Sunday that during negotiations in Alaska, Russia conceded that "
    "the U.S. “could offer Article 5-like protection, which is one of the real reasons why Ukraine wants to be in "
    "NATO.”\n"
    "Article 5 refers to NATO’s collective defense mandate, which states that military action against a member "
    "state constitutes an attack against all members.\n"
    "Witkoff said the Alaska meeting was the “first time we had ever heard the Russians agree to that” and called "
    "the shift “game-changing.”"
)
SOURCE_CREATE: dict[str, Any] = {
    "title": SEED_SOURCE_TITLE,
    "title_is_editorial": True,
    "kind": "article",
    "language": "en",
    "published_at": "2025-08-18",
    "text": SOURCE_EXCERPT,
}
# Only a URL: the server fetches the page and takes the text and the rest from it (.example is reserved).
SOURCE_CREATE_FROM_URL: dict[str, Any] = {"url": "https://news.example/2025/08/18/white-house-talks", "kind": "article"}
SOURCE_UPDATE: dict[str, Any] = {"publisher": "Washington Examiner", "title_is_editorial": False}
_SOURCE_FIELDS: dict[str, Any] = {
    "title": SEED_SOURCE_TITLE,
    "title_is_editorial": True,
    "publisher": None,
    "kind": "article",
    "language": "en",
}
# Source 1 of the seeds: the whole article.
SOURCE_SUMMARY: dict[str, Any] = {
    **_SOURCE_FIELDS,
    "id": 1,
    "url": None,
    "published_at": "2025-08-18T00:00:00Z",
    "retrieved_at": None,
    "sha256": "056396a818e25ccb153d7ae267d4416a817cc3a107cc41b624c833b935a71275",
    "text_length": 7139,
    "supersedes": None,
    "created_at": RECORDED_AT,
    "updated_at": RECORDED_AT,
}
# What creating SOURCE_CREATE in the seeded database returns.
SOURCE_PUBLIC: dict[str, Any] = {
    **SOURCE_SUMMARY,
    "id": 2,
    "sha256": "f8cf9fd220311d844ea50ba2fe4b526adab8b95d1519f13e9651f640bf8f4414",
    "text_length": 777,
    "text": SOURCE_EXCERPT,
}

# Straight quotation marks in the request; the article's curly ones are what gets stored.
STATEMENT_CREATE: dict[str, Any] = {
    "party": "russia",
    "issue": "security-guarantees",
    "source": 1,
    "quote": 'Russia conceded that the U.S. "could offer Article 5-like protection',
    "stance": "lean_support",
    "summary": "Per Witkoff, at the Alaska summit Russia conceded that the US could give Ukraine Article 5-like "
    "protection.",
    "speaker": "Steve Witkoff",
    "stated_on": "2025-08-15",
}
STATEMENT_UPDATE: dict[str, Any] = {
    "summary": "Russia accepted US Article 5-like protection for Ukraine at the Alaska summit, per Witkoff.",
    "note": "shorter summary",
}
STATEMENT_RETRACT: dict[str, Any] = {
    "reason": "The article reports what was previously thought, not a position Russia stated.",
    "retracted_on": "2025-08-18",
}

SELECTOR_11: dict[str, Any] = {
    "start": 3574,
    "end": 3621,
    "prefix": "where the Russian side approved ",
    "suffix": ".\nU.S. special envoy Steve Witko",
}
SELECTOR_12: dict[str, Any] = {
    "start": 3711,
    "end": 3779,
    "prefix": " during negotiations in Alaska, ",
    "suffix": ", which is one of the real reaso",
}
SELECTOR_13: dict[str, Any] = {
    "start": 4044,
    "end": 4099,
    "prefix": "aid the Alaska meeting was the “",
    "suffix": "” and called the shift “game-cha",
}


def _statement(
    statement_id: int,
    stance: str,
    summary: str,
    quote: str,
    selector: dict[str, Any],
    speaker: str | None,
    stated_on: str,
) -> dict[str, Any]:
    return {
        "id": statement_id,
        "party": "russia",
        "issue": "security-guarantees",
        "source": 1,
        "stance": stance,
        "summary": summary,
        "quote": quote,
        "selector": selector,
        "speaker": speaker,
        "stated_on": stated_on,
        "revision": 1,
        "recorded_by": "seed",
        "recorded_at": RECORDED_AT,
        "created_at": RECORDED_AT,
        "retraction": None,
    }


# Russia's three seeded statements on security guarantees: ids 11, 12 and 13 in a fresh database.
STATEMENT_11 = _statement(
    11,
    "oppose",
    "Before the Alaska summit, Russia was thought to rule out Western Article 5-like guarantees for Ukraine "
    "(an arrangement 'previously thought off the table').",
    "an arrangement previously thought off the table",
    SELECTOR_11,
    None,
    "2025-08-14",
)
STATEMENT_PUBLIC = STATEMENT_12 = _statement(
    12,
    "lean_support",
    STATEMENT_CREATE["summary"],
    "Russia conceded that the U.S. “could offer Article 5-like protection",
    SELECTOR_12,
    "Steve Witkoff",
    "2025-08-15",
)
STATEMENT_13 = _statement(
    13,
    "lean_support",
    "Per Witkoff, the Alaska summit was the first time Russia agreed to Article 5-like protection for Ukraine, "
    "a reversal.",
    "first time we had ever heard the Russians agree to that",
    SELECTOR_13,
    "Steve Witkoff",
    "2025-08-15",
)
# GET /v1/search?q=Witkoff conceded (the score is SQLite's; PostgreSQL's ts_rank differs).
SEARCH_PAGE: dict[str, Any] = {
    "items": [
        {
            "kind": "statement",
            "score": 3.3846153846153846,
            "snippet": {
                "field": "summary",
                "text": STATEMENT_12["summary"],
                "highlights": [{"start": 4, "end": 11}, {"start": 41, "end": 49}],
            },
            "statement": STATEMENT_12,
            "quote_matches": [{"start": 7, "end": 15}],
            "party": None,
            "issue": None,
        }
    ],
    "next_cursor": None,
}
STATEMENT_HISTORY: dict[str, Any] = {
    "statement": 12,
    "party": "russia",
    "issue": "security-guarantees",
    "revisions": [
        {
            "revision": 1,
            "source": 1,
            "stance": "lean_support",
            "summary": STATEMENT_12["summary"],
            "quote": STATEMENT_12["quote"],
            "selector": SELECTOR_12,
            "speaker": "Steve Witkoff",
            "stated_on": "2025-08-15",
            "recorded_by": "seed",
            "recorded_at": RECORDED_AT,
            "note": None,
        }
    ],
    "retraction": None,
}

_SOURCE_REF: dict[str, Any] = {"id": 1, "title": SEED_SOURCE_TITLE, "published_at": "2025-08-18T00:00:00Z", "url": None}


def _cell(statement: dict[str, Any], evidence_count: int, evidence_since: str) -> dict[str, Any]:
    return {
        "party": "russia",
        "issue": "security-guarantees",
        "stance": statement["stance"],
        "summary": statement["summary"],
        "stated_on": statement["stated_on"],
        "statement": statement["id"],
        "quote": statement["quote"],
        "selector": statement["selector"],
        "speaker": statement["speaker"],
        "source": _SOURCE_REF,
        "evidence_count": evidence_count,
        "evidence_since": evidence_since,
        "flag": None,
    }


# GET /v1/matrix?parties=russia&issues=security-guarantees&as_of=2025-08-18
MATRIX: dict[str, Any] = {
    "as_of": "2025-08-18",
    "source": None,
    "parties": [{"slug": "russia", "name": "Russia", "kind": "country"}],
    "issues": [
        {"slug": "security-guarantees", "title": ISSUE_CREATE["title"], "proposition": ISSUE_CREATE["proposition"]}
    ],
    "cells": [_cell(STATEMENT_13, 2, "2025-08-15")],
}
# GET /v1/diff?from=2025-08-14&to=2025-08-18&parties=russia&issues=security-guarantees
DIFF: dict[str, Any] = {
    "from": {"as_of": "2025-08-14", "source": None},
    "to": {"as_of": "2025-08-18", "source": None},
    "summary": {"new": 0, "withdrawn": 0, "unchanged": 0, "shifted": 0, "reversed": 1},
    "changes": [
        {
            "party": "russia",
            "issue": "security-guarantees",
            "change": "reversed",
            "before": _cell(STATEMENT_11, 1, "2025-08-14"),
            "after": _cell(STATEMENT_13, 2, "2025-08-15"),
        }
    ],
}
# GET /v1/parties/russia/issues/security-guarantees/timeline?as_of=2025-08-18
TIMELINE: dict[str, Any] = {
    "party": "russia",
    "issue": "security-guarantees",
    "entries": [
        {"change": "new", "statement": STATEMENT_11},
        {"change": "reversed", "statement": STATEMENT_12},
        {"change": "unchanged", "statement": STATEMENT_13},
    ],
}
# POST /v1/match: a reader who supports security guarantees (counting double) and skips the Donbas.
MATCH_REQUEST: dict[str, Any] = {
    "answers": {"security-guarantees": "support", "cede-donbas": "skip"},
    "weights": {"security-guarantees": 2},
    "as_of": "2025-08-18",
    "parties": ["russia"],
}
MATCH_RESULT: dict[str, Any] = {
    "as_of": "2025-08-18",
    "answered": 1,
    "skipped": 1,
    "max_points": 4.0,
    "issues": MATRIX["issues"],
    "results": [
        {
            "rank": 1,
            "party": MATRIX["parties"][0],
            "score": 75.0,
            "points": 3.0,
            "max_points": 4.0,
            "issues_with_position": 1,
            "issues": [
                {
                    "issue": "security-guarantees",
                    "answer": "support",
                    "weight": 2.0,
                    "stance": "lean_support",
                    "agreement": 0.75,
                    "points": 3.0,
                    "max_points": 4.0,
                    "cell": _cell(STATEMENT_13, 2, "2025-08-15"),
                }
            ],
        }
    ],
}

# The README's misquote: POST /v1/statements with a quote that is not in the article.
PROBLEM_QUOTE_NOT_FOUND: dict[str, Any] = {
    "type": "/problems/quote-not-found",
    "title": "Quote not found in source",
    "status": 422,
    "detail": "The quote does not occur in source 1; closest passage at 1350–1391: “the Russian camp reportedly "
    "demanded that”",
    "instance": "/v1/statements",
    "closest_passage": {
        "text": "the Russian camp reportedly demanded that",
        "start": 1350,
        "end": 1391,
        "similarity": 0.694,
    },
}
PROBLEM_NOT_FOUND: dict[str, Any] = {
    "type": "/problems/not-found",
    "title": "Not found",
    "status": 404,
    "detail": "No party has the slug 'kremlin'; the list of parties shows those that exist.",
    "instance": "/v1/parties/kremlin",
}

AUDIT_EVENT: dict[str, Any] = {
    "id": 3,
    "at": RECORDED_AT,
    "actor": "seed",
    "entity": "party",
    "entity_id": "russia",
    "action": "create",
    "before": None,
    "after": PARTY_PUBLIC,
}

# A source stored without `supersedes`: nothing to re-anchor, so no `anchoring`.
SOURCE_CREATED: dict[str, Any] = SOURCE_PUBLIC

# A revised copy of the seed article (source 3) that edits one quoted passage and drops another.
ANCHORING_REPORT: dict[str, Any] = {
    "source": 3,
    "supersedes": 1,
    "counts": {"anchored": 1, "drifted": 1, "orphaned": 1},
    "outcomes": [
        {
            "source": 3,
            "statement": 1,
            "outcome": "anchored",
            "old_start": 1290,
            "old_end": 1378,
            "new_start": 1290,
            "new_end": 1378,
            "new_text": "the Russian camp reportedly demanded that Ukraine cede the entirety of the Donbas region",
            "similarity": 1.0,
            "created_at": RECORDED_AT,
            "resolution": None,
            "resolved_at": None,
            "resolved_by": None,
        },
        {
            "source": 3,
            "statement": 2,
            "outcome": "drifted",
            "old_start": 1464,
            "old_end": 1545,
            "new_start": 1464,
            "new_end": 1543,
            "new_text": "the Kremlin’s demand includes even those areas still under Ukrainian control",
            "similarity": 0.945,
            "created_at": RECORDED_AT,
            "resolution": None,
            "resolved_at": None,
            "resolved_by": None,
        },
        {
            "source": 3,
            "statement": 3,
            "outcome": "orphaned",
            "old_start": 1547,
            "old_end": 1661,
            "new_start": None,
            "new_end": None,
            "new_text": None,
            "similarity": 0.412,
            "created_at": RECORDED_AT,
            "resolution": None,
            "resolved_at": None,
            "resolved_by": None,
        },
    ],
    "pending": 2,
}
# POST /v1/statements/2/confirm, after the re-anchoring above
ANCHORING_REVIEW: dict[str, Any] = {
    "statement": 2,
    "resolved": [
        {
            **ANCHORING_REPORT["outcomes"][1],
            "resolution": "confirmed",
            "resolved_at": RECORDED_AT,
            "resolved_by": "editor",
        }
    ],
}

TEXT_DIFF: dict[str, Any] = {
    "source": 3,
    "against": 1,
    "granularity": "word",
    "changes": [
        {
            "kind": "replaced",
            "old_start": 1512,
            "old_end": 1521,
            "new_start": 1512,
            "new_end": 1517,
            "old_text": "currently",
            "new_text": "still",
        }
    ],
}

# POST /v1/sources/1/candidates with this body, on the seeded database.
CANDIDATE_REQUEST: dict[str, Any] = {"min_confidence": 0.8, "parties": ["russia"], "issues": ["security-guarantees"]}
_CANDIDATE_QUOTE = "the U.S. “could offer Article 5-like protection, which is one of the real reasons why Ukraine wants to be in NATO.”"
CANDIDATE_LIST: dict[str, Any] = {
    "source": 1,
    "candidates": [
        {
            "quote": _CANDIDATE_QUOTE,
            "start": 3732,
            "end": 3847,
            "kind": "reported",
            "speaker": "Russia",
            "speaker_pronoun": None,
            "party": "russia",
            "issue": "security-guarantees",
            "issues": [
                {
                    "issue": "security-guarantees",
                    "score": 4.2,
                    "keywords": ["article 5", "article 5-like protection", "nato"],
                },
                {"issue": "nato-membership", "score": 3.0, "keywords": ["be in nato", "nato"]},
                {"issue": "alaska-resources", "score": 0.2, "keywords": ["alaska"]},
            ],
            "stance": "lean_support",
            "confidence": 0.82,
            "split_from": None,
            "existing_statement": 8,
            "statement": {
                "party": "russia",
                "issue": "security-guarantees",
                "source": 1,
                "quote": _CANDIDATE_QUOTE,
                "stance": "lean_support",
                "summary": None,
                "speaker": "Russia",
                "stated_on": "2025-08-18",
                "start": 3732,
                "prefix": None,
            },
        }
    ],
    "counts": {"found": 33, "returned": 1, "direct": 0, "reported": 1, "with_party": 1, "with_issue": 1, "existing": 1},
    "truncated": False,
}

# Ukraine's position on security guarantees as of 2025-08-18 (statement 10, the later of two).
_UKRAINE_GUARANTEES: dict[str, Any] = {
    "party": "ukraine",
    "issue": "security-guarantees",
    "stance": "support",
    "summary": "Zelensky is confident that, with Trump and partners, Ukraine's security will be effectively guaranteed.",
    "stated_on": "2025-08-18",
    "statement": 10,
    "quote": "I am confident that we will defend Ukraine, effectively guarantee security",
    "selector": {
        "start": 4299,
        "end": 4373,
        "prefix": "years if peace is established.\n“",
        "suffix": ", and that our people will alway",
    },
    "speaker": "Volodymyr Zelensky",
    "source": _SOURCE_REF,
    "evidence_count": 2,
    "evidence_since": "2025-08-18",
    "flag": None,
}


def _no_position(party: str) -> dict[str, Any]:
    return {
        "party": party,
        "issue": "security-guarantees",
        **dict.fromkeys(("stance", "summary", "stated_on", "statement", "quote", "selector", "speaker", "source")),
        "evidence_count": 0,
        "evidence_since": None,
        "flag": None,
    }


_UKRAINE_REF = {"slug": "ukraine", "name": "Ukraine", "kind": "country"}
# GET /v1/compare?parties=russia,ukraine,european-allies&issues=security-guarantees&as_of=2025-08-18
COMPARISON: dict[str, Any] = {
    "as_of": "2025-08-18",
    "parties": [
        MATRIX["parties"][0],
        _UKRAINE_REF,
        {"slug": "european-allies", "name": "European allies", "kind": "bloc"},
    ],
    "issues": MATRIX["issues"],
    "cells": [_cell(STATEMENT_13, 2, "2025-08-15"), _UKRAINE_GUARANTEES, _no_position("european-allies")],
    "pairs": [
        {"parties": ["russia", "ukraine"], "agreement": 0.75, "issues_compared": 1, "agreements": [0.75]},
        {"parties": ["russia", "european-allies"], "agreement": None, "issues_compared": 0, "agreements": [None]},
        {"parties": ["ukraine", "european-allies"], "agreement": None, "issues_compared": 0, "agreements": [None]},
    ],
}
# GET /v1/compare?parties=russia,ukraine&issues=security-guarantees&from=2025-08-14&to=2025-08-18
COMPARISON_DRIFT: dict[str, Any] = {
    "from": {"as_of": "2025-08-14", "source": None},
    "to": {"as_of": "2025-08-18", "source": None},
    "parties": [MATRIX["parties"][0], _UKRAINE_REF],
    "issues": MATRIX["issues"],
    "cells": {
        "from": [_cell(STATEMENT_11, 1, "2025-08-14"), _no_position("ukraine")],
        "to": [_cell(STATEMENT_13, 2, "2025-08-15"), _UKRAINE_GUARANTEES],
    },
    "pairs": [
        {
            "parties": ["russia", "ukraine"],
            "agreement": {"from": None, "to": 0.75},
            "issues_compared": {"from": 0, "to": 1},
            "agreements": {"from": [None], "to": [0.75]},
            "changed": ["security-guarantees"],
        }
    ],
}

# A bulk import of seed entries: a second run of the seed data changes nothing.
IMPORT_LINES = "".join(
    json.dumps({"type": kind, **line}, ensure_ascii=False) + "\n"
    for kind, line in (("party", PARTY_CREATE), ("issue", ISSUE_CREATE), ("statement", STATEMENT_CREATE))
)
IMPORT_CSV = "slug,name,kind,aliases\nrussia,Russia,country,Russia|Putin|the Kremlin\n"
_ALREADY_STORED = {"created": 0, "existing": 1, "refused": 0}
_NONE = {"created": 0, "existing": 0, "refused": 0}
IMPORT_REPORT: dict[str, Any] = {
    "dry_run": False,
    "written": False,
    "lines": 3,
    "stopped_early": False,
    "parties": _ALREADY_STORED,
    "issues": _ALREADY_STORED,
    "sources": _NONE,
    "statements": _ALREADY_STORED,
}
