"""Atom feeds of a party's and an issue's changes of position, read by feedparser as a feed reader
would: well-formed, newest first, saying in words what changed with both quotes verbatim."""

from typing import Any

import feedparser
import pytest

from tests.helpers import assert_problem, create_issue, create_party, create_source
from tests.test_change_feed import retract
from tests.test_diffs import state as statement

AWKWARD = "Prices < costs & 🎉 “quoted” <b>not markup</b>"
CONTROL = "A bell\x07 and an escape\x1b in the transcript"
TEXT = f"Sentence 1 was said. {AWKWARD}. Sentence 2 was said. {CONTROL}. Sentence 3 was said."


def state(client, source_id: int, quote: str, stance: str, stated_on: str, *, party="russia", issue="ceasefire"):
    return statement(client, source_id, issue, quote, stance, stated_on, party=party)


def feed(client, path: str, **params: Any) -> Any:
    response = client.get(path, params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/atom+xml"
    parsed = feedparser.parse(response.content)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    return parsed


@pytest.fixture
def source_id(client) -> int:
    create_party(client, "russia", name="Russia")
    create_party(client, "ukraine", name="Ukraine")
    create_issue(client, "ceasefire", title="Ceasefire", proposition="A ceasefire now")
    create_issue(client, "sanctions", title="Sanctions", proposition="Sanctions stay")
    return create_source(client, text=TEXT)["id"]


def test_a_party_feed_says_what_changed_newest_first_with_both_quotes(client, source_id):
    state(client, source_id, "Sentence 1 was said.", "support", "2025-08-01")
    state(client, source_id, AWKWARD, "lean_support", "2025-08-02")
    state(client, source_id, "Sentence 3 was said.", "oppose", "2025-08-01", party="ukraine")
    events = client.get("/v1/changes").json()["items"]

    parsed = feed(client, "/v1/parties/russia/changes.atom")
    assert [entry.title for entry in parsed.entries] == [
        "Russia shifted on Ceasefire: from support to lean_support",
        "Russia took a position on Ceasefire: support",
    ]
    newest = parsed.entries[0]
    content = newest.content[0]
    assert content.type == "text/plain"
    assert "“Sentence 1 was said.”" in content.value and f"“{AWKWARD}”" in content.value
    assert content.value.index("Sentence 1") < content.value.index(AWKWARD)  # before, then after
    assert newest.id.endswith(f":stancemap/change/{events[1]['id']}")
    assert parsed.entries[1].id.endswith(f":stancemap/change/{events[0]['id']}")
    assert newest.updated == events[1]["caused_by"]["at"]
    assert newest.link == "http://testserver/v1/parties/russia/issues/ceasefire/timeline"
    assert parsed.feed.updated == newest.updated
    assert parsed.feed.title == "Stancemap: changes of Russia's positions"
    assert parsed.feed.links[0].rel == "self"
    assert parsed.feed.links[0].href == "http://testserver/v1/parties/russia/changes.atom"
    # Ids do not depend on the order or the feed an entry is read in.
    again = feed(client, "/v1/issues/ceasefire/changes.atom")
    assert {entry.id for entry in parsed.entries} < {entry.id for entry in again.entries}


def test_an_issue_feed_holds_every_party_and_each_class_in_words(client, source_id):
    russian = state(client, source_id, "Sentence 1 was said.", "support", "2025-08-01")
    opposing = state(client, source_id, "Sentence 2 was said.", "oppose", "2025-08-02")
    state(client, source_id, "Sentence 3 was said.", "neutral", "2025-08-01", party="ukraine")
    state(client, source_id, "Sentence 2 was said.", "support", "2025-08-01", issue="sanctions")
    retract(client, opposing["id"], "2025-08-03")
    retract(client, russian["id"], "2025-08-04")

    titles = [entry.title for entry in feed(client, "/v1/issues/ceasefire/changes.atom").entries]
    assert titles == [
        "Russia no longer holds a position on Ceasefire (it was support)",
        "Russia reversed on Ceasefire: from oppose to support",
        "Ukraine took a position on Ceasefire: neutral",
        "Russia reversed on Ceasefire: from support to oppose",
        "Russia took a position on Ceasefire: support",
    ]
    withdrawn = feed(client, "/v1/issues/ceasefire/changes.atom").entries[0].content[0].value
    assert "After: no position." in withdrawn and "“Sentence 1 was said.”" in withdrawn
    assert [entry.title for entry in feed(client, "/v1/issues/ceasefire/changes.atom", limit=2).entries] == titles[:2]


def test_a_restatement_says_so(client, source_id):
    state(client, source_id, "Sentence 1 was said.", "oppose", "2025-08-01")
    state(client, source_id, "Sentence 2 was said.", "oppose", "2025-08-02")
    entry = feed(client, "/v1/parties/russia/changes.atom").entries[0]
    assert entry.title == "Russia restated its position on Ceasefire: oppose, on a newer statement"
    assert entry.tags[0].term == "restated"


def test_characters_xml_cannot_carry_are_replaced_and_the_feed_stays_well_formed(client, source_id):
    state(client, source_id, CONTROL, "neutral", "2025-08-01")
    content = feed(client, "/v1/parties/russia/changes.atom").entries[0].content[0].value
    assert "“A bell\ufffd and an escape\ufffd in the transcript”" in content
    # The JSON feed keeps the quote exact.
    assert client.get("/v1/changes").json()["items"][0]["after"]["quote"] == CONTROL


def test_an_empty_feed_is_valid_and_dated_by_its_party(client, source_id):
    parsed = feed(client, "/v1/parties/ukraine/changes.atom")
    assert parsed.entries == []
    party = client.get("/v1/parties/ukraine").json()
    assert parsed.feed.updated == party["updated_at"]


def test_a_former_slug_redirects_and_an_unknown_one_is_a_404(client, source_id):
    assert client.patch("/v1/parties/russia", json={"slug": "russian-federation"}).status_code == 200
    response = client.get("/v1/parties/russia/changes.atom", params={"limit": 5}, follow_redirects=False)
    assert response.status_code == 308
    assert response.headers["location"] == "/v1/parties/russian-federation/changes.atom?limit=5"
    assert client.patch("/v1/issues/ceasefire", json={"slug": "truce"}).status_code == 200
    response = client.get("/v1/issues/ceasefire/changes.atom", follow_redirects=False)
    assert response.headers["location"] == "/v1/issues/truce/changes.atom"
    assert_problem(client.get("/v1/parties/atlantis/changes.atom"), 404, "not-found")
    assert_problem(client.get("/v1/issues/nowhere/changes.atom"), 404, "not-found")
    assert_problem(client.get("/v1/parties/russian-federation/changes.atom", params={"limit": 0}), 422)
