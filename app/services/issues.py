from app.models.issue import Issue, IssuePublic
from app.models.statement import Statement
from app.services.catalog import SlugCatalog

issues = SlugCatalog(Issue, IssuePublic, "issue", referenced_by=[Statement.issue_id])
