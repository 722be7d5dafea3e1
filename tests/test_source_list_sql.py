"""Listing sources reads their metadata and lengths, never their (up to 1.5 million character) texts."""

import re
from typing import Any, Self

from sqlalchemy import event
from sqlalchemy.engine import Engine

from tests.helpers import create_source

# A column of the source table named `text`, however the dialect quotes it; `length(...)` of it is taken out first.
TEXT_COLUMN = re.compile(r'\bsource"?\."?text\b"?')
TEXT_LENGTH = re.compile(r'length\(\s*"?source"?\."?text"?\s*\)')


class StatementLog:
    """SQL sent through the engines given, as tests/test_query_counts.py counts it."""

    def __init__(self, *engines: Engine) -> None:
        self.engines = list({id(engine): engine for engine in engines}.values())
        self.statements: list[str] = []

    def _on_execute(self, _connection: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        self.statements.append(statement)

    def __enter__(self) -> Self:
        for engine in self.engines:
            event.listen(engine, "before_cursor_execute", self._on_execute)
        return self

    def __exit__(self, *_exc: object) -> None:
        for engine in self.engines:
            event.remove(engine, "before_cursor_execute", self._on_execute)


def test_listing_sources_selects_no_text_and_one_statement_for_the_page(client, app):
    texts = ["Short.", "He said: “We stay.”\r\nShe replied — no. 🇺🇦", "x" * 5000]
    created = [create_source(client, text=text, title=f"Source {n}") for n, text in enumerate(texts)]

    with StatementLog(app.state.engine, app.state.view_engine, app.state.write_engine) as log:
        response = client.get("/v1/sources")

    assert response.status_code == 200
    assert [(item["id"], item["text_length"]) for item in response.json()["items"]] == [
        (source["id"], len(text)) for source, text in zip(created, texts, strict=True)
    ]
    reading_sources = [statement for statement in log.statements if re.search(r'\bFROM "?source"?\b', statement)]
    assert len(reading_sources) == 1, reading_sources
    assert TEXT_LENGTH.search(reading_sources[0]), reading_sources[0]
    assert not TEXT_COLUMN.search(TEXT_LENGTH.sub("", reading_sources[0])), reading_sources[0]
