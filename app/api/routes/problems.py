from fastapi import APIRouter
from pydantic import BaseModel

from app.errors import PROBLEM_TYPES, NotFound, problem_type_uri

router = APIRouter(prefix="/problems", tags=["problems"])


class ProblemType(BaseModel):
    type: str
    name: str
    description: str


@router.get("/{name}", name="get", response_model=ProblemType, summary="Describe a problem type")
def describe_problem_type(name: str) -> ProblemType:
    """The `type` of every error body points here."""
    if name not in PROBLEM_TYPES:
        raise NotFound(f"No problem type is named '{name}'; known types: {', '.join(sorted(PROBLEM_TYPES))}.")
    return ProblemType(type=problem_type_uri(name), name=name, description=PROBLEM_TYPES[name])
