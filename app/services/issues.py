from datetime import datetime

from sqlmodel import col

from app.models.issue import Issue, IssuePublic
from app.models.statement import Statement
from app.services.catalog import SlugCatalog
from app.services.pagination import Sorting, SortKey

# Issues show no id (parties neither): their default order, the order of creation, is not a key.
SORTING = Sorting(
    with_id=False,
    slug=SortKey.text(col(Issue.slug)),
    title=SortKey.text(col(Issue.title)),
    created_at=SortKey(col(Issue.created_at), datetime),
    updated_at=SortKey(col(Issue.updated_at), datetime),
)

issues = SlugCatalog(
    Issue, IssuePublic, "issue", referenced_by=[Statement.issue_id], sorting=SORTING, name_field="title"
)
