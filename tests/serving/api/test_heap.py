"""After a model load the live heap is exempted from full garbage collections (the API's p99)."""

from __future__ import annotations

import gc

from serving.api.model_holder import settle_heap


def test_settle_heap_spares_live_objects_from_full_collections_but_not_new_garbage() -> None:
    class Node:
        def __init__(self) -> None:
            self.me = self  # a reference cycle: only the cycle collector frees it

    try:
        kept = Node()
        settle_heap()
        assert gc.get_freeze_count() > 0
        assert all(kept is not obj for obj in gc.get_objects())  # out of the collector's view
        Node()  # garbage made after settling
        assert gc.collect() > 0
    finally:
        gc.unfreeze()
