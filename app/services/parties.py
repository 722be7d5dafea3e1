from app.models.party import Party
from app.models.statement import Statement
from app.services.catalog import SlugCatalog

parties = SlugCatalog(Party, "party", referenced_by=[Statement.party_id])
