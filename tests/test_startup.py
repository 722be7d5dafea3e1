"""What the application does when it starts, before it answers any request."""

import gc

from fastapi.testclient import TestClient


def test_start_up_leaves_its_heap_out_of_full_garbage_collections(app):
    # A full collection walking every object start-up built showed in the p99 of uncached views
    # (app.main.freeze_startup_heap); a process freezes them once, whichever app starts first.
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200
    # Imports, routes, schemas and ORM registries: far more than a handful of objects.
    assert gc.get_freeze_count() > 10_000
