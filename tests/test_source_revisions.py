"""Revisions of a source: the text diff between two versions, and the re-anchoring of the old
version's quotes on the new one (anchored, drifted or orphaned)."""

import csv
import io
from typing import Any

import pytest

from tests.helpers import (
    assert_problem,
    create_source,
    statement_body,
    table_counts,
    world,
)

EDITED_QUOTE = "the Kremlin’s demand includes even those areas currently under Ukrainian control"
EDITED_PASSAGE = ("areas currently under Ukrainian control", "areas still under Ukrainian control")
REMOVED_QUOTE = (
    "Ukrainian officials have previously rebuffed any peace deal requiring their country to cede territory permanently."
)
REMOVED_SENTENCE = REMOVED_QUOTE + " "
# A date on which the statements quoting both passages are their cells' positions.
BOTH_STAND = "2025-08-15"


def seed_text(client) -> str:
    response = client.get("/v1/sources/1/text")
    assert response.status_code == 200
    return response.text


def revise(text: str) -> str:
    """The seed article with one quoted passage edited and one quoted sentence removed."""
    assert text.count(EDITED_PASSAGE[0]) == 1 and text.count(REMOVED_SENTENCE) == 1
    return text.replace(EDITED_PASSAGE[0], EDITED_PASSAGE[1]).replace(REMOVED_SENTENCE, "")


def with_whitespace_edits(text: str) -> str:
    """Whitespace only: a doubled space in the first sentence, a blank line after the first paragraph."""
    first_space = text.index(" ")
    text = text[:first_space] + "  " + text[first_space + 1 :]
    first_newline = text.index("\n")
    return text[:first_newline] + "\n\n" + text[first_newline:]


def supersede(client, text: str, old_id: int = 1) -> dict[str, Any]:
    return create_source(client, text=text, title="White House talks (updated)", supersedes=old_id)


def supersede_response(client, text: str, old_id: int):
    body = {"title": "White House talks (updated)", "published_at": "2025-08-19", "text": text, "supersedes": old_id}
    return client.post("/v1/sources", json=body)


def seeded_statements(client) -> list[dict[str, Any]]:
    items = client.get("/v1/statements", params={"limit": 200}).json()["items"]
    assert len(items) == 25
    return items


def statement_id_quoting(client, quote: str) -> int:
    (statement,) = [item for item in seeded_statements(client) if item["quote"] == quote]
    return statement["id"]


# --- text diff -------------------------------------------------------------------------------------


def test_text_diff_shows_the_edit_and_the_removal_with_offsets_in_both_texts(client, seeded):
    old_text = seed_text(client)
    new_text = with_whitespace_edits(revise(old_text))
    new = supersede(client, new_text)

    response = client.get(f"/v1/sources/{new['id']}/text-diff", params={"against": 1})
    assert response.status_code == 200, response.text
    diff = response.json()
    assert diff["source"] == new["id"] and diff["against"] == 1 and diff["granularity"] == "word"
    changes = diff["changes"]
    for change in changes:
        assert old_text[change["old_start"] : change["old_end"]] == change["old_text"]
        assert new_text[change["new_start"] : change["new_end"]] == change["new_text"]
    assert [(change["kind"], change["old_text"], change["new_text"]) for change in changes] == [
        ("replaced", "currently", "still"),
        ("deleted", REMOVED_QUOTE, ""),
    ]
    replaced, deleted = changes
    assert replaced["old_start"] == old_text.index(EDITED_PASSAGE[0]) + len("areas ")
    assert replaced["new_start"] == new_text.index(EDITED_PASSAGE[1]) + len("areas ")
    assert deleted["old_start"] == old_text.index(REMOVED_QUOTE)
    # Where the sentence was: the start of the word that followed it.
    assert deleted["new_start"] == deleted["new_end"] == new_text.index("European leaders assert")


def test_whitespace_only_edits_are_no_change(client, seeded):
    old_text = seed_text(client)
    new = supersede(client, with_whitespace_edits(old_text).replace(". ", ".   ", 3) + "\n\n")
    diff = client.get(f"/v1/sources/{new['id']}/text-diff", params={"against": 1}).json()
    assert diff["changes"] == []


def test_text_diff_reports_insertions(client):
    old = create_source(client, text="One two three.")
    new = create_source(client, text="Zero one two and a half three. Four.")
    diff = client.get(f"/v1/sources/{new['id']}/text-diff", params={"against": old["id"]}).json()
    assert [(c["kind"], c["old_text"], c["new_text"], c["old_start"], c["old_end"]) for c in diff["changes"]] == [
        ("replaced", "One", "Zero one", 0, 3),
        ("inserted", "", "and a half", 8, 8),
        ("inserted", "", "Four.", 14, 14),
    ]


def test_text_diff_of_unknown_sources_is_404(client, seeded):
    assert_problem(client.get("/v1/sources/424242/text-diff", params={"against": 1}), 404, "not-found")
    assert_problem(client.get("/v1/sources/1/text-diff", params={"against": 424242}), 404, "not-found")
    assert_problem(client.get("/v1/sources/1/text-diff"), 422, "validation-error")


def test_text_diff_of_long_texts_compares_line_by_line(client):
    paragraph = "word " * 60_000  # 300,000 characters, more than a word-by-word comparison is allowed
    old = create_source(client, text=f"First line.\n{paragraph}\nLast line.")
    new = create_source(client, text=f"First  line.\n\n{paragraph}\nThe last line.")
    diff = client.get(f"/v1/sources/{new['id']}/text-diff", params={"against": old["id"]}).json()
    assert diff["granularity"] == "line"
    assert [(c["kind"], c["old_text"], c["new_text"]) for c in diff["changes"]] == [
        ("replaced", "Last line.", "The last line.")
    ]


# --- re-anchoring ----------------------------------------------------------------------------------


def test_superseding_source_reanchors_every_quote_of_the_old_one(client, seeded):
    old_text = seed_text(client)
    new_text = with_whitespace_edits(revise(old_text))
    before = {item["id"]: item for item in seeded_statements(client)}
    edited_id = statement_id_quoting(client, EDITED_QUOTE)
    removed_id = statement_id_quoting(client, REMOVED_QUOTE)

    new = supersede(client, new_text)
    report = new["anchoring"]
    assert report["source"] == new["id"] and report["supersedes"] == 1
    assert report["counts"] == {"anchored": 23, "drifted": 1, "orphaned": 1}
    outcomes = {outcome["statement"]: outcome for outcome in report["outcomes"]}
    assert sorted(outcomes) == sorted(before)

    drifted = outcomes[edited_id]
    assert drifted["outcome"] == "drifted"
    assert (drifted["old_start"], drifted["old_end"]) == (
        before[edited_id]["selector"]["start"],
        before[edited_id]["selector"]["end"],
    )
    assert drifted["new_text"] == new_text[drifted["new_start"] : drifted["new_end"]]
    assert drifted["new_text"] == EDITED_QUOTE.replace("currently", "still")
    assert 0.75 <= drifted["similarity"] < 1

    orphaned = outcomes[removed_id]
    assert orphaned["outcome"] == "orphaned"
    assert orphaned["new_start"] is None and orphaned["new_end"] is None and orphaned["new_text"] is None
    assert orphaned["similarity"] < 0.75

    after = {item["id"]: item for item in seeded_statements(client)}
    for statement_id, outcome in outcomes.items():
        statement = after[statement_id]
        if outcome["outcome"] != "anchored":
            # Flagged or lost, but never silently changed: still on the old source, first revision.
            assert statement == before[statement_id]
            continue
        assert outcome["similarity"] == 1
        assert statement["source"] == new["id"] and statement["revision"] == 2
        selector = statement["selector"]
        assert new_text[selector["start"] : selector["end"]] == statement["quote"]
        assert (selector["start"], selector["end"]) == (outcome["new_start"], outcome["new_end"])
        assert outcome["new_text"] == statement["quote"]
        assert statement["quote"] == before[statement_id]["quote"]
        history = client.get(f"/v1/statements/{statement_id}/history").json()["revisions"]
        assert [revision["source"] for revision in history] == [1, new["id"]]
        assert history[-1]["note"] == f"re-anchored on source {new['id']}"
        assert history[-1]["recorded_by"] == "admin"

    listed = client.get(f"/v1/sources/{new['id']}/anchoring")
    assert listed.status_code == 200, listed.text
    assert listed.json() == report


def test_the_same_quote_twice_is_anchored_near_its_old_position(client, seeded):
    old_text = seed_text(client)
    quote = "That is why reliable security guarantees are required."
    # The same sentence again, at the very start: the stored context still points to the original place.
    new = supersede(client, quote + "\n" + old_text)
    statement_id = statement_id_quoting(client, quote)
    (outcome,) = [o for o in new["anchoring"]["outcomes"] if o["statement"] == statement_id]
    assert outcome["outcome"] == "anchored"
    assert outcome["new_start"] == old_text.index(quote) + len(quote) + 1


def test_a_heavily_edited_quote_is_orphaned(client, seeded):
    old_text = seed_text(client)
    quote = "the Russian camp reportedly demanded that Ukraine cede the entirety of the Donbas region"
    rewritten = "Moscow apparently wanted Kyiv to hand over all of the east"
    new = supersede(client, old_text.replace(quote, rewritten))
    (outcome,) = [o for o in new["anchoring"]["outcomes"] if o["statement"] == statement_id_quoting(client, quote)]
    assert outcome["outcome"] == "orphaned"
    assert new["anchoring"]["counts"] == {"anchored": 24, "drifted": 0, "orphaned": 1}


@pytest.mark.parametrize(("threshold", "counts"), [(1.0, (23, 0, 2)), (0.0, (23, 2, 0))])
def test_the_threshold_decides_between_drifted_and_orphaned(app, client, seeded, threshold, counts):
    app.state.settings.anchoring_threshold = threshold
    new = supersede(client, revise(seed_text(client)))
    assert tuple(new["anchoring"]["counts"].values()) == counts


def test_an_editor_confirms_a_drifted_quote_by_correcting_the_statement(client, seeded):
    new = supersede(client, revise(seed_text(client)))
    edited_id = statement_id_quoting(client, EDITED_QUOTE)
    (drifted,) = [o for o in new["anchoring"]["outcomes"] if o["outcome"] == "drifted"]
    response = client.patch(
        f"/v1/statements/{edited_id}",
        json={"source": new["id"], "quote": drifted["new_text"], "note": "confirmed the re-anchoring"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["source"] == new["id"]
    assert response.json()["selector"]["start"] == drifted["new_start"]


def test_retracted_statements_are_not_reanchored(client, seeded):
    removed_id = statement_id_quoting(client, REMOVED_QUOTE)
    assert client.post(f"/v1/statements/{removed_id}/retract", json={"reason": "misattributed"}).status_code == 200
    new = supersede(client, revise(seed_text(client)))
    assert removed_id not in [o["statement"] for o in new["anchoring"]["outcomes"]]
    assert new["anchoring"]["counts"] == {"anchored": 23, "drifted": 1, "orphaned": 0}


def test_reanchoring_is_audited(client, seeded):
    new = supersede(client, revise(seed_text(client)))
    events = client.get("/v1/audit", params={"entity": "source", "entity_id": str(new["id"])}).json()["items"]
    assert [event["action"] for event in events] == ["create", "anchor"]
    assert events[1]["after"] == {"supersedes": 1, "anchored": 23, "drifted": 1, "orphaned": 1}
    corrections = client.get("/v1/audit", params={"entity": "statement", "actor": "admin"}).json()["items"]
    assert len(corrections) == 23 and {event["action"] for event in corrections} == {"correct"}


def test_a_source_without_supersedes_has_no_anchoring(client, seeded):
    new = create_source(client, text=seed_text(client))
    assert "anchoring" not in new
    listed = client.get(f"/v1/sources/{new['id']}/anchoring").json()
    assert listed == {
        "source": new["id"],
        "supersedes": None,
        "counts": {"anchored": 0, "drifted": 0, "orphaned": 0},
        "outcomes": [],
        "pending": 0,
    }
    assert_problem(client.get("/v1/sources/424242/anchoring"), 404, "not-found")


def test_a_superseding_source_nobody_quotes_can_still_be_deleted(client, seeded):
    new = supersede(client, revise(seed_text(client)).replace(EDITED_QUOTE[:20], "x"))
    # Drifted and orphaned quotes stay on source 1; statements anchored on the new one keep it.
    assert client.delete(f"/v1/sources/{new['id']}").status_code == 409
    lone = create_source(client, text="Nothing anybody quoted.")
    newer = supersede(client, "Nothing anybody quoted, revised.", old_id=lone["id"])
    assert newer["anchoring"]["outcomes"] == []
    assert client.delete(f"/v1/sources/{newer['id']}").status_code == 204


# --- flags until an editor resolves them -----------------------------------------------------------


def flags_by_statement(client, **params: str) -> dict[int, dict[str, Any] | None]:
    response = client.get("/v1/matrix", params=params)
    assert response.status_code == 200, response.text
    return {cell["statement"]: cell["flag"] for cell in response.json()["cells"] if cell["statement"] is not None}


def outcome_of(client, source_id: int, statement_id: int) -> dict[str, Any]:
    report = client.get(f"/v1/sources/{source_id}/anchoring").json()
    (outcome,) = [o for o in report["outcomes"] if o["statement"] == statement_id]
    return outcome


def test_drifted_and_orphaned_statements_are_flagged_in_the_matrix(client, seeded):
    edited_id = statement_id_quoting(client, EDITED_QUOTE)
    removed_id = statement_id_quoting(client, REMOVED_QUOTE)
    # On 2025-08-15 both statements are their cell's position (a later one replaces the removed one).
    assert set(flags_by_statement(client, as_of=BOTH_STAND).values()) == {None}

    new = supersede(client, revise(seed_text(client)))
    assert new["anchoring"]["pending"] == 2
    flags = flags_by_statement(client, as_of=BOTH_STAND)
    assert {edited_id, removed_id} <= flags.keys()
    assert flags[edited_id]["outcome"] == "drifted" and flags[edited_id]["source"] == new["id"]
    assert flags[removed_id]["outcome"] == "orphaned" and flags[removed_id]["source"] == new["id"]
    assert 0.75 <= flags[edited_id]["similarity"] < 1
    assert {statement for statement, flag in flags.items() if flag} == {edited_id, removed_id}
    assert flags_by_statement(client)[edited_id]["outcome"] == "drifted", "flagged at any date it is the position"
    # In diffs and CSV as well.
    diff = client.get("/v1/diff", params={"from": "2025-08-01", "to": BOTH_STAND}).json()
    flagged = {
        change["after"]["statement"]: change["after"]["flag"]["outcome"]
        for change in diff["changes"]
        if change["after"] and change["after"]["flag"]
    }
    assert flagged == {edited_id: "drifted", removed_id: "orphaned"}
    rows = list(
        csv.DictReader(
            io.StringIO(client.get("/v1/matrix", params={"format": "csv", "layout": "long", "as_of": BOTH_STAND}).text)
        )
    )
    assert {int(row["statement"]): row["flag"] for row in rows if row["flag"]} == {
        edited_id: "drifted",
        removed_id: "orphaned",
    }


def test_correcting_the_quote_settles_the_flag(client, seeded):
    new = supersede(client, revise(seed_text(client)))
    edited_id = statement_id_quoting(client, EDITED_QUOTE)
    drifted = outcome_of(client, new["id"], edited_id)
    # A correction that leaves the quote alone does not settle it.
    assert client.patch(f"/v1/statements/{edited_id}", json={"summary": "Reworded summary"}).status_code == 200
    assert flags_by_statement(client)[edited_id]["outcome"] == "drifted"

    response = client.patch(f"/v1/statements/{edited_id}", json={"source": new["id"], "quote": drifted["new_text"]})
    assert response.status_code == 200, response.text
    assert flags_by_statement(client)[edited_id] is None
    settled = outcome_of(client, new["id"], edited_id)
    assert settled["resolution"] == "corrected" and settled["resolved_by"] == "admin" and settled["resolved_at"]
    assert client.get(f"/v1/sources/{new['id']}/anchoring").json()["pending"] == 1


def test_retracting_the_statement_settles_the_flag(client, seeded):
    new = supersede(client, revise(seed_text(client)))
    removed_id = statement_id_quoting(client, REMOVED_QUOTE)
    response = client.post(f"/v1/statements/{removed_id}/retract", json={"reason": "gone from the article"})
    assert response.status_code == 200, response.text
    assert outcome_of(client, new["id"], removed_id)["resolution"] == "retracted"
    # As of a date it still stood (it is retracted from today on), the cell shows it, no longer flagged.
    assert flags_by_statement(client, as_of=BOTH_STAND)[removed_id] is None


def test_an_editor_confirms_a_statement_as_it_stands(client, seeded):
    new = supersede(client, revise(seed_text(client)))
    removed_id = statement_id_quoting(client, REMOVED_QUOTE)
    etag = client.get("/v1/matrix", params={"as_of": BOTH_STAND}).headers["ETag"]

    response = client.post(f"/v1/statements/{removed_id}/confirm")
    assert response.status_code == 200, response.text
    review = response.json()
    assert review["statement"] == removed_id
    (resolved,) = review["resolved"]
    assert resolved["source"] == new["id"] and resolved["outcome"] == "orphaned"
    assert resolved["resolution"] == "confirmed" and resolved["resolved_by"] == "admin"
    assert outcome_of(client, new["id"], removed_id) == resolved

    matrix = client.get("/v1/matrix", params={"as_of": BOTH_STAND})
    assert matrix.headers["ETag"] != etag
    flags = {cell["statement"]: cell["flag"] for cell in matrix.json()["cells"]}
    assert flags[removed_id] is None
    statement = client.get(f"/v1/statements/{removed_id}").json()
    assert statement["source"] == 1 and statement["revision"] == 1, "confirming leaves the statement as it was"
    events = client.get("/v1/audit", params={"entity": "statement", "entity_id": str(removed_id)}).json()["items"]
    assert events[-1]["action"] == "confirm" and events[-1]["after"]["resolution"] == "confirmed"

    # Nothing left to confirm: a clear conflict, and nothing changes.
    report = client.get(f"/v1/sources/{new['id']}/anchoring").json()
    assert_problem(client.post(f"/v1/statements/{removed_id}/confirm"), 409, "conflict")
    assert client.get(f"/v1/sources/{new['id']}/anchoring").json() == report
    assert (
        client.get("/v1/audit", params={"entity": "statement", "entity_id": str(removed_id)}).json()["items"] == events
    )


def test_confirming_needs_a_flag_and_a_known_statement(client, seeded, anonymous_client):
    assert_problem(client.post("/v1/statements/1/confirm"), 409, "conflict")
    assert_problem(client.post("/v1/statements/424242/confirm"), 404, "not-found")
    assert anonymous_client.post("/v1/statements/1/confirm").status_code == 401


def test_the_review_worklist_keeps_every_unresolved_quote_in_view(client, seeded):
    assert client.get("/v1/anchoring").json() == {"items": [], "next_cursor": None}
    new = supersede(client, revise(seed_text(client)))
    edited_id = statement_id_quoting(client, EDITED_QUOTE)
    removed_id = statement_id_quoting(client, REMOVED_QUOTE)
    report = {outcome["statement"]: outcome for outcome in new["anchoring"]["outcomes"]}

    pending = client.get("/v1/anchoring").json()["items"]
    assert [(item["statement"], item["outcome"]) for item in pending] == sorted(
        [(edited_id, "drifted"), (removed_id, "orphaned")]
    )
    for item in pending:
        assert item == report[item["statement"]], "the same outcome, passage included, as the source's report"
    # The orphaned statement is no cell's position today, yet it stays on the worklist.
    assert removed_id not in flags_by_statement(client)

    assert client.post(f"/v1/statements/{removed_id}/confirm").status_code == 200
    assert [item["statement"] for item in client.get("/v1/anchoring").json()["items"]] == [edited_id]
    resolved = client.get("/v1/anchoring", params={"state": "resolved"}).json()["items"]
    assert [(item["statement"], item["resolution"]) for item in resolved] == [(removed_id, "confirmed")]

    everything, cursor = [], None
    while True:
        page = client.get(
            "/v1/anchoring", params={"state": "all", "limit": 10, **({"cursor": cursor} if cursor else {})}
        )
        assert page.status_code == 200, page.text
        everything += page.json()["items"]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert len(everything) == 25 and {item["statement"] for item in everything} == set(report)
    assert_problem(client.get("/v1/anchoring", params={"state": "open"}), 422)


@pytest.mark.parametrize(
    ("quote", "edit", "expected"),
    [
        # The changed words end the quote: they belong to its new version, punctuation after them does not.
        (
            "guarantees must be “legally binding” and backed by the United States",
            ("backed by the United States.", "backed by Washington."),
            "guarantees must be “legally binding” and backed by Washington",
        ),
        # They begin it.
        (
            "backed off from its plan to sanction the buyers",
            ("has backed off from", "has stepped back from"),
            "stepped back from its plan to sanction the buyers",
        ),
        # They are inside it.
        (
            "the Kremlin wants all of the region, diplomats said",
            ("all of the region", "the whole region"),
            "the Kremlin wants the whole region, diplomats said",
        ),
    ],
)
def test_a_drifted_quote_takes_every_edit_within_it(client, quote, edit, expected):
    text = (
        "Officials met on Monday. Kyiv says guarantees must be “legally binding” and backed by the United States. "
        "Meanwhile the administration has backed off from its plan to sanction the buyers of Russian oil. "
        "In private, the Kremlin wants all of the region, diplomats said, and more."
    )
    world(client)
    source = create_source(client, text=text)
    body = {**statement_body(source["id"]), "quote": quote}
    del body["start"]
    created = client.post("/v1/statements", json=body)
    assert created.status_code == 201, created.text
    assert text.count(edit[0]) == 1
    new = supersede(client, text.replace(edit[0], edit[1]), old_id=source["id"])
    (outcome,) = [o for o in new["anchoring"]["outcomes"] if o["statement"] == created.json()["id"]]
    assert outcome["outcome"] == "drifted", outcome
    assert outcome["new_text"] == expected


def test_a_version_has_one_successor(client, seeded):
    text = seed_text(client)
    second = supersede(client, revise(text))
    third = supersede(client, revise(text) + " Updated.", old_id=second["id"])
    counts = table_counts(client)
    for superseded in (1, second["id"]):
        body = assert_problem(supersede_response(client, text, superseded), 409, "conflict")
        assert body["latest_version"] == third["id"], body
        assert f"source {third['id']}" in body["detail"]
    assert table_counts(client) == counts


def test_text_diff_compares_with_the_superseded_version_by_default(client, seeded):
    new = supersede(client, revise(seed_text(client)))
    explicit = client.get(f"/v1/sources/{new['id']}/text-diff", params={"against": 1}).json()
    assert client.get(f"/v1/sources/{new['id']}/text-diff").json() == explicit
    body = assert_problem(client.get("/v1/sources/1/text-diff"), 422, "validation-error")
    assert body["errors"][0]["field"] == "query.against"
