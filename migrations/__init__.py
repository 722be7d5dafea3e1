"""Alembic migrations; the only way Stancemap's schema is created or changed."""
