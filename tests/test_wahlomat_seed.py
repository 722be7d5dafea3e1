"""The Wahl-O-Mat 2017 as loaded by seeds/wahlomat.py: what the data set says, every quote exact."""

import json
import subprocess
from collections import Counter

from sqlalchemy import create_engine, func, select
from sqlmodel import Session, col

from app.models.issue import Issue
from app.models.party import Party
from app.models.source import Source
from app.models.statement import Statement
from app.services.data_version import current_version
from seeds.wahlomat import load_wahlomat
from tests.conftest import WAHLOMAT_DIR
from tests.test_cli import STANCEMAP, cli_env, created, outside_repository


def _data(name: str):
    return json.loads((WAHLOMAT_DIR / name).read_text(encoding="utf-8"))


def test_the_data_set_is_the_original_byte_for_byte():
    readme = (WAHLOMAT_DIR / "README.md").read_text(encoding="utf-8")
    assert "gockelhahn/qual-o-mat-data" in readme and "wahl-o-mat.de" in readme
    assert len(_data("party.json")) == 32 and len(_data("statement.json")) == 38
    assert len(_data("opinion.json")) == 1216


def test_every_answer_is_a_statement_quoting_its_source_exactly(wahlomat_url):
    engine = create_engine(wahlomat_url)
    with Session(engine) as session:
        texts = {source.id: source.text for source in session.execute(select(Source)).scalars()}
        statements = session.execute(
            select(Party.name, Issue.title, Statement)
            .join(Party, col(Party.id) == col(Statement.party_id))
            .join(Issue, col(Issue.id) == col(Statement.issue_id))
        ).all()
        assert session.execute(select(func.count()).select_from(Party)).scalar_one() == 32
        assert session.execute(select(func.count()).select_from(Issue)).scalar_one() == 38
    engine.dispose()
    assert len(texts) == 32 and len(statements) == 1216
    # One source per party, and each party's 38 statements quote it.
    assert Counter(statement.source_id for _, _, statement in statements) == dict.fromkeys(texts, 38)
    for _, _, statement in statements:
        text = texts[statement.source_id]
        assert text[statement.quote_start : statement.quote_end] == statement.quote
        assert text[: statement.quote_start].endswith(statement.quote_prefix)
        assert text[statement.quote_end :].startswith(statement.quote_suffix)

    # Parties by their short name, issues by their label, as the data set names them.
    parties = {party["id"]: party["name"] for party in _data("party.json")}
    labels = {thesis["id"]: thesis["label"] for thesis in _data("statement.json")}
    comments = {comment["id"]: comment["text"] for comment in _data("comment.json")}
    stored = {(name, label): statement for name, label, statement in statements}
    stances = {0: "support", 1: "oppose", 2: "neutral"}
    answers = {0: "Stimme zu", 1: "Stimme nicht zu", 2: "Neutral"}
    for opinion in _data("opinion.json"):
        statement = stored[(parties[opinion["party"]], labels[opinion["statement"]])]
        assert statement.stance == stances[opinion["answer"]]
        comment = comments[opinion["comment"]]
        answer = f"Antwort: {answers[opinion['answer']]}."
        justification = comment[1:-1].strip() if comment.startswith('"') else ""
        if len(justification) >= 20:  # the party's words, verbatim
            assert statement.quote == justification
        elif justification:  # a word or two: with the answer it justifies
            assert statement.quote == f"{answer} Begründung: {comment}"
        else:  # none given
            assert statement.quote == answer


def test_loading_it_again_changes_nothing(wahlomat_url):
    engine = create_engine(wahlomat_url)
    with Session(engine) as session:
        version = current_version(session)
        report = load_wahlomat(session)
        assert current_version(session) == version
    engine.dispose()
    assert report.created == {}
    assert report.existing == {"parties": 32, "issues": 38, "sources": 32, "statements": 1216}


def test_stancemap_seed_wahlomat_loads_it_once(tmp_path):
    workdir = outside_repository(tmp_path)
    env = cli_env(STANCEMAP_DATABASE_URL=f"sqlite:///{tmp_path / 'wahlomat.db'}")
    for expected in (1216, 0):
        run = subprocess.run(
            [STANCEMAP, "seed", "--wahlomat"], cwd=workdir, env=env, capture_output=True, text=True, timeout=300
        )
        assert run.returncode == 0, run.stderr
        assert created(run.stderr, "statements") == expected
    assert "parties: 0 created, 32 present" in run.stderr
