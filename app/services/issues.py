from app.models.issue import Issue
from app.models.statement import Statement
from app.services.catalog import SlugCatalog

issues = SlugCatalog(Issue, "issue", referenced_by=[Statement.issue_id])
