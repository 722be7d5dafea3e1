"""Plain functions holding Stancemap's logic; no HTTP here."""
