from app.api.routes.catalog import catalog_router
from app.models.page import Page
from app.models.party import PartyCreate, PartyPublic, PartyUpdate
from app.services.parties import parties


class PartyPage(Page[PartyPublic]):
    pass


router = catalog_router(
    parties,
    tag="parties",
    create_model=PartyCreate,
    update_model=PartyUpdate,
    public_model=PartyPublic,
    page_model=PartyPage,
)
