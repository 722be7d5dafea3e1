from datetime import datetime

from sqlmodel import col

from app.models.party import Party, PartyPublic
from app.models.statement import Statement
from app.services.catalog import SlugCatalog
from app.services.pagination import Sorting, SortKey

# Parties and issues show no id: their default order, the order of creation, is not a key.
SORTING = Sorting(
    with_id=False,
    slug=SortKey.text(col(Party.slug)),
    name=SortKey.text(col(Party.name)),
    kind=SortKey.text(col(Party.kind)),
    created_at=SortKey(col(Party.created_at), datetime),
    updated_at=SortKey(col(Party.updated_at), datetime),
)

parties = SlugCatalog(
    Party, PartyPublic, "party", referenced_by=[Statement.party_id], sorting=SORTING, name_field="name"
)
