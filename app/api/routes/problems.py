from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict

from app.api.deps import problems
from app.errors import PROBLEM_TYPES, NotFound, problem_type_uri
from app.models import examples

router = APIRouter(prefix="/problems", tags=["problems"])

# The names are listed in the schema for clients; another name is a 404, as any unknown resource.
ProblemTypeName = Annotated[
    str, Path(max_length=64, description="A problem type's name.", json_schema_extra={"enum": list(PROBLEM_TYPES)})
]


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
    "/{name}", name="get", response_model=ProblemType, responses=problems(404, 422), summary="Describe a problem type"
)
def describe_problem_type(name: ProblemTypeName) -> ProblemType:
    """The `type` of every error body points here."""
    if name not in PROBLEM_TYPES:
        raise NotFound(f"No problem type is named '{name}'; every error body's `type` links to one that is.")
    return ProblemType(type=problem_type_uri(name), name=name, description=PROBLEM_TYPES[name])
