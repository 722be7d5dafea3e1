"""The change feed's page: a page of events, and where the feed stood when it was read."""

from pydantic import Field

from app.models.change_event import ChangeEventPublic
from app.models.page import Page


class ChangeFeedPage(Page[ChangeEventPublic]):
    """Events oldest first. To follow the feed, remember the id of the last event seen and pass it
    as `after`: events are listed in commit order, so none is missed or repeated."""

    last_id: int = Field(
        description="The newest event's id in the whole feed (whatever the filters) when the page was read; 0 "
        "when there is none. `after=last_id` follows only what happens from then on."
    )
