"""Plain functions holding Stancemap's logic; no HTTP here."""

from app.services import data_version as _data_version  # noqa: F401  (registers the write hook)
from app.services import position_history as _position_history  # noqa: F401  (registers the rebuild hooks)
