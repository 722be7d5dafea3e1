from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict

from app.api.deps import problems
from app.errors import PROBLEM_TYPES, problem_type_uri
from app.models import examples

router = APIRouter(prefix="/problems", tags=["problems"])

ProblemTypeName = StrEnum("ProblemTypeName", {name.replace("-", "_"): name for name in PROBLEM_TYPES})  # type: ignore[misc]  # members built from PROBLEM_TYPES; mypy reads only literal ones


class ProblemType(BaseModel):
    model_config = ConfigDict(
        json_schema_extra=examples.shown(
            {
                "type": problem_type_uri("quote-not-found"),
                "name": "quote-not-found",
                "description": PROBLEM_TYPES["quote-not-found"],
            }
        )
    )

    type: str
    name: str
    description: str


@router.get(
    "/{name}", name="get", response_model=ProblemType, responses=problems(422), summary="Describe a problem type"
)
def describe_problem_type(name: Annotated[ProblemTypeName, Path()]) -> ProblemType:
    """The `type` of every error body points here."""
    return ProblemType(type=problem_type_uri(name.value), name=name.value, description=PROBLEM_TYPES[name.value])
