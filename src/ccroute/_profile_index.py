"""The (channel, queue, skill) index of profiles, shared by both queue implementations.

When a new requirement signature is interned, only the profiles this index
selects are checked against it. It is plain Python in both twins (it is used
only when a profile or a signature is first seen), so it lives here once.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

from ._codes import NONE

#: (channel, queue, skill or -1) -> profiles open on that channel, serving that
#: queue and having that skill (-1: any), in profile order.
ProfileIndex = dict[tuple[int, int, int], list[int]]


def add_profile(
    index: ProfileIndex,
    p: int,
    channels: Iterable[int],
    queues: Collection[int],
    skills: Collection[int],
) -> None:
    """Record profile ``p`` (profiles are numbered in creation order)."""
    for ch in channels:
        for q in queues:
            index.setdefault((ch, q, NONE), []).append(p)
            for s in skills:
                index.setdefault((ch, q, s), []).append(p)


def candidates(
    index: ProfileIndex, ch: int, reqs: tuple[tuple[int, int], ...], queues: Collection[int]
) -> list[int]:
    """Profiles that might serve a signature, in profile order (a superset).

    Per queue, the shortest list the signature's requirements select. A
    requirement at level 0 selects nothing: an agent without the skill meets
    it too, as the profile-first path (every signature checked in full) says.
    """
    lists = []
    for q in queues:
        best = index.get((ch, q, NONE), [])
        for s, level in reqs:
            if level == 0:
                continue
            found = index.get((ch, q, s), [])
            if len(found) < len(best):
                best = found
        lists.append(best)
    if len(lists) == 1:
        return lists[0]
    return sorted({p for found in lists for p in found})
