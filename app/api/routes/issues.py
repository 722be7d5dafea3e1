from app.api.routes.catalog import catalog_router
from app.models.issue import IssueCreate, IssuePublic, IssueUpdate
from app.models.page import Page
from app.services.issues import issues


class IssuePage(Page[IssuePublic]):
    pass


router = catalog_router(
    issues,
    tag="issues",
    create_model=IssueCreate,
    update_model=IssueUpdate,
    public_model=IssuePublic,
    page_model=IssuePage,
)
