from app.models.party import Party, PartyPublic
from app.models.statement import Statement
from app.services.catalog import SlugCatalog

parties = SlugCatalog(Party, PartyPublic, "party", referenced_by=[Statement.party_id])
