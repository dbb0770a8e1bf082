"""The order the worker's sinks apply a batch: a photo's status is written after its post."""

from __future__ import annotations

from photofeed.bootstrap import sink_order
from projections.groups import Group, group_events


def test_the_photos_group_applies_last_and_the_others_keep_the_registry_order() -> None:
    order = sink_order()
    assert order[-1] == Group.PHOTOS
    assert sorted(order) == sorted(group_events())
    assert order[:-1] == [g for g in group_events() if g != Group.PHOTOS]
