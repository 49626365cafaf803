"""A three-way merge of one sequence of elements: the core of every structural merge.

Call arguments, parameters, imported names, collection elements, decorators and the statements
of a body are all sequences. Each element has a *key* where the language gives it an identity
(a keyword argument's name, a parameter's name, a function's name) and otherwise is known by its
text. Both sides are aligned with the base (keys first, then text); elements present in all
three versions anchor the merge, and between anchors each side has deleted, kept or inserted
elements. The rules are the ones the conflicts log explains to a maintainer:

- an element changed by one side only takes that change; changed identically, either;
- an element deleted by one side and changed by the other is a conflict;
- elements inserted by both sides at the same place are kept, ours first, only when the
  caller's `Policy` says their relative order does not matter (`may_interleave`);
- the same key inserted twice with different content is a conflict (same keyword, two values);
- a key that ends up twice in the result (an element moved by one side) is a conflict.

Elements changed differently by both sides are handed back to the caller (`Pick.both`), which
merges them recursively or gives up. The merge works on `Item`s (key, text), never on syntax
trees, so it is tested on its own.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import Literal

Side = Literal["base", "ours", "theirs"]


@dataclass(frozen=True)
class Item:
    """One element of a sequence as the merge sees it."""

    key: Hashable | None  # identity across versions; None: known by its text only
    text: str  # the element's own text (no separators); equality means "unchanged"
    label: str = ""  # how a summary names it (defaults to the key or the text)
    group: str = ""  # a class the caller cares about, e.g. "positional" / "keyword"
    core: str = ""  # the text that makes it the same element when moved (default: `text`),
    # e.g. a statement without the blank lines and comments above it

    @property
    def core_text(self) -> str:
        """`core`, or the whole text where the caller gave none."""
        return self.core or self.text

    @property
    def name(self) -> str:
        if self.label:
            return self.label
        if self.key is not None:
            return str(self.key[-1] if isinstance(self.key, tuple) else self.key)
        return " ".join(self.text.split())


@dataclass(frozen=True)
class Pick:
    """One element of the merged sequence: taken from `side` at `index`, or (`both`) an element
    both sides changed differently, as (base, ours, theirs) indexes, for the caller to merge."""

    side: Side
    index: int
    both: tuple[int, int, int] | None = None


@dataclass
class Stretch:
    """A run of the merge: one anchor (an element in all three versions), or the elements between
    two anchors. `picks` is None where the run was refused, with the reason."""

    base: range
    ours: range
    theirs: range
    picks: list[Pick] | None
    reason: str | None = None
    anchor: bool = False


@dataclass
class Plan:
    """The merged sequence and an account of what each side did to it."""

    stretches: list[Stretch] = field(default_factory=list)
    inserted: dict[str, list[int]] = field(default_factory=lambda: {"ours": [], "theirs": []})
    deleted: dict[str, list[int]] = field(default_factory=lambda: {"ours": [], "theirs": []})  # base indexes
    changed: dict[str, list[int]] = field(default_factory=lambda: {"ours": [], "theirs": []})  # base indexes
    identical: list[int] = field(default_factory=list)  # ours indexes of identical insertions/changes
    interleaved: bool = False  # both sides inserted at the same place

    @property
    def refused(self) -> list[str]:
        return [s.reason for s in self.stretches if s.picks is None]

    @property
    def picks(self) -> list[Pick]:
        """The merged sequence (only meaningful when nothing was refused)."""
        return [pick for s in self.stretches if s.picks is not None for pick in s.picks]


class Refused(Exception):
    """The sequences cannot be merged without a human; `str(self)` says why."""


class Policy:
    """What the caller knows about a sequence: how both sides' insertions at one place may be
    ordered. The default refuses: order matters and nobody can tell which is right."""

    ordered = True  # the result must keep each side's own order of its insertions
    # Where any order is correct, put ours first (stack order); False: leave the choice to a
    # human unless the file itself decides it (sorted imports).
    stack_order = True

    def order(self, ours: list[Item], theirs: list[Item], before: Item | None = None,
              after: Item | None = None) -> list[tuple[Side, int]]:
        """The merged order of both sides' insertions between `before` and `after`, or `Refused`."""
        raise Refused("both sides inserted here and their order matters")

    def stacked(self, ours: list[Item], theirs: list[Item]) -> list[tuple[Side, int]]:
        if not self.stack_order:
            raise Refused("both sides inserted here; either order is correct and choosing is left to a human")
        return stack_order(ours, theirs)


class Unordered(Policy):
    """Order carries no meaning (keyword arguments, imported names, set elements): stack order."""

    ordered = False

    def order(self, ours: list[Item], theirs: list[Item], before: Item | None = None,
              after: Item | None = None) -> list[tuple[Side, int]]:
        return self.stacked(ours, theirs)


def stack_order(ours: list[Item], theirs: list[Item]) -> list[tuple[Side, int]]:
    return [("ours", i) for i in range(len(ours))] + [("theirs", i) for i in range(len(theirs))]


def unique_keys(*versions: Sequence[Item]) -> list[list[Item]]:
    """Items whose key occurs more than once in any version (overloads, re-assignments, one import
    split in two) lose it in every version: their text identifies them instead, so the merge never
    pairs the wrong twin."""
    repeated: set[Hashable] = set()
    for items in versions:
        seen: set[Hashable] = set()
        for item in items:
            if item.key is not None:
                if item.key in seen:
                    repeated.add(item.key)
                seen.add(item.key)
    return [[item if item.key is None or item.key not in repeated
             else Item(None, item.text, item.label, item.group, item.core) for item in items] for items in versions]


def align(base: Sequence[Item], side: Sequence[Item]) -> dict[int, int]:
    """A monotone matching base index -> side index: same key, or same text for unkeyed items;
    unkeyed runs replaced one for one count as changed in place."""

    def token(item: Item) -> tuple:
        return ("key", item.key) if item.key is not None else ("text", item.text)

    matcher = SequenceMatcher(None, [token(i) for i in base], [token(i) for i in side], autojunk=False)
    matches: dict[int, int] = {}
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal" or (
            tag == "replace" and i2 - i1 == j2 - j1
            and all(base[i].key is None for i in range(i1, i2))
            and all(side[j].key is None for j in range(j1, j2))
        ):
            for k in range(i2 - i1):
                matches[i1 + k] = j1 + k
    return matches


def merge_sequences(
    base: Sequence[Item], ours: Sequence[Item], theirs: Sequence[Item],
    policy: Policy,
    same: Callable[[Item, Item], bool] | None = None,
    partial: bool = False,
    elsewhere: Callable[[Item], bool] | None = None,
) -> Plan:
    """Merge three versions of a sequence.

    Raises `Refused` where a human must decide; with `partial`, records the refused runs in the
    plan instead and merges the rest. `same(a, b)` may declare two different texts the same change
    (e.g. equal up to formatting); by default only equal texts are. `elsewhere(item)` says whether
    an element occurs outside the sequence (a region cut out of a file): one both sides removed
    here but that survives there was moved by one side and deleted by the other.
    """
    base, ours, theirs = unique_keys(base, ours, theirs)

    def equal(a: Item, b: Item) -> bool:
        return a.text == b.text or (same is not None and same(a, b))

    to_ours, to_theirs = align(base, ours), align(base, theirs)
    _check_ambiguous(base, ours, theirs, to_ours, to_theirs)
    _check_moves(base, ours, theirs, to_ours, to_theirs, policy)
    anchors = [i for i in range(len(base)) if i in to_ours and i in to_theirs]
    merge = _Merge(base, ours, theirs, policy, equal, to_ours, to_theirs)

    previous = (-1, -1, -1)
    for anchor in [*anchors, None]:
        stop = (len(base), len(ours), len(theirs)) if anchor is None else (anchor, to_ours[anchor], to_theirs[anchor])
        ranges = (range(previous[0] + 1, stop[0]), range(previous[1] + 1, stop[1]), range(previous[2] + 1, stop[2]))
        if any(ranges):
            try:
                picks = merge.gap(*ranges)
                merge.plan.stretches.append(Stretch(*ranges, picks=picks))
            except Refused as refused:
                if not partial:
                    raise
                merge.plan.stretches.append(Stretch(*ranges, picks=None, reason=str(refused)))
        if anchor is None:
            break
        merge.plan.stretches.append(Stretch(
            range(stop[0], stop[0] + 1), range(stop[1], stop[1] + 1), range(stop[2], stop[2] + 1),
            picks=[merge.anchor(*stop)], anchor=True))
        previous = stop

    _check_unique(merge.plan, ours, theirs)
    _check_deleted_gone(merge.plan, base, ours, theirs, elsewhere)
    return merge.plan


class _Merge:
    def __init__(self, base, ours, theirs, policy, equal, to_ours, to_theirs) -> None:
        self.base, self.ours, self.theirs = base, ours, theirs
        self.policy, self.equal = policy, equal
        self.to = {"ours": to_ours, "theirs": to_theirs}
        self.back = {"ours": {j: i for i, j in to_ours.items()}, "theirs": {j: i for i, j in to_theirs.items()}}
        self.plan = Plan()

    def anchor(self, b: int, o: int, t: int) -> Pick:
        base, ours, theirs, plan = self.base[b], self.ours[o], self.theirs[t], self.plan
        if self.equal(ours, theirs):
            if ours.text == base.text and theirs.core_text != base.core_text:
                # Theirs reformatted the element itself: not lost.
                return Pick("theirs", t)
            if ours.text == base.text and theirs.text != base.text and self._same_neighbour_before(b, o, t):
                # Theirs changed only the blank lines or comments above it. Those belong to the
                # neighbours as much as to the element, and stay as ours has them where a
                # neighbour was inserted or deleted; with the same neighbour on every side they
                # can only be about this element, and are not lost.
                return Pick("theirs", t)
            if ours.text != base.text:
                plan.identical.append(o)
            return Pick("ours", o)
        if ours.text == base.text:
            plan.changed["theirs"].append(b)
            return Pick("theirs", t)
        if theirs.text == base.text:
            plan.changed["ours"].append(b)
            return Pick("ours", o)
        plan.changed["ours"].append(b)
        plan.changed["theirs"].append(b)
        return Pick("ours", o, both=(b, o, t))

    def _same_neighbour_before(self, b: int, o: int, t: int) -> bool:
        """Whether the element before is one element, paired on both sides (or there is none)."""
        if b == 0 or o == 0 or t == 0:
            return b == o == t == 0
        return self.to["ours"].get(b - 1) == o - 1 and self.to["theirs"].get(b - 1) == t - 1

    def gap(self, b_range: range, o_range: range, t_range: range) -> list[Pick]:
        """The elements between two anchors: each base one deleted by a side, or inserted ones."""
        base, ours, theirs, plan = self.base, self.ours, self.theirs, self.plan
        b_texts = [base[i].text for i in b_range]
        o_texts = [ours[j].text for j in o_range]
        t_texts = [theirs[j].text for j in t_range]
        if o_texts == t_texts:
            if o_texts != b_texts:
                plan.identical.extend(j for j in o_range if j not in self.back["ours"])
                for side in ("ours", "theirs"):
                    plan.deleted[side].extend(i for i in b_range if i not in self.to[side])
            return [Pick("ours", j) for j in o_range]
        if o_texts == b_texts:  # only theirs touched this stretch
            self._account("theirs", b_range, t_range)
            return [Pick("theirs", j) for j in t_range]
        if t_texts == b_texts:
            self._account("ours", b_range, o_range)
            return [Pick("ours", j) for j in o_range]

        # Both sides changed this stretch. A base element one side kept was deleted by the other:
        # fine when the keeper left it alone, a conflict when it changed it.
        deleted: dict[str, list[int]] = {"ours": [], "theirs": []}
        for i in b_range:
            for keeper, deleter, items in (("ours", "theirs", ours), ("theirs", "ours", theirs)):
                if i in self.to[keeper]:
                    if items[self.to[keeper][i]].text != base[i].text:
                        raise Refused(f"{keeper} changed {base[i].name!r}, {deleter} deleted it")
                    deleted[deleter].append(i)
            if i not in self.to["ours"] and i not in self.to["theirs"]:
                deleted["ours"].append(i)
                deleted["theirs"].append(i)

        o_new = [j for j in o_range if j not in self.back["ours"]]
        t_new = [j for j in t_range if j not in self.back["theirs"]]
        # Elements both sides removed, with something like them inserted in their place: one
        # side rewrote what the other deleted, or both rewrote it differently (identical
        # rewrites returned above). Either is a conflict in disguise. (An insertion unlike
        # anything removed is just an insertion beside an agreed deletion.)
        both_gone = [i for i in deleted["ours"] if i in deleted["theirs"]]
        rewrites = {side: [j for j in new if any(_rewrite_of(items[j], base[i]) for i in both_gone)]
                    for side, new, items in (("ours", o_new, ours), ("theirs", t_new, theirs))}
        writers = [side for side in ("ours", "theirs") if rewrites[side]]
        if writers:
            side = writers[0]
            what = next(base[i].name for i in both_gone
                        if any(_rewrite_of((ours if side == "ours" else theirs)[j], base[i]) for j in rewrites[side]))
            if len(writers) == 2:
                raise Refused(f"both sides rewrote {what!r}, differently")
            other = "theirs" if side == "ours" else "ours"
            raise Refused(f"{side} rewrote {what!r}, {other} deleted it")
        if self.policy.ordered:
            # Where order matters, what one side inserted among elements the other deleted has
            # lost its context: which of them it belonged with is for a human to say.
            for deleter, inserter, new in (("ours", "theirs", t_new), ("theirs", "ours", o_new)):
                gone = [i for i in deleted[deleter] if i not in deleted[inserter]]
                if gone and new:
                    raise Refused(f"{deleter} deleted {base[gone[0]].name!r} where {inserter} inserted "
                                  f"{(theirs if inserter == 'theirs' else ours)[new[0]].name!r}")
        # An insertion both sides made is made once; one key inserted with two contents is a conflict.
        twins: list[tuple[int, int]] = []  # (ours index, theirs index)
        for j in t_new:
            twin = next((k for k in o_new if (ours[k].key is not None and ours[k].key == theirs[j].key)
                         or (ours[k].key is None and theirs[j].key is None and self.equal(ours[k], theirs[j]))),
                        None)
            if twin is None:
                continue
            if not self.equal(ours[twin], theirs[j]):
                raise Refused(f"both sides added {theirs[j].name!r}, differently")
            twins.append((twin, j))
        monotone = [o for o, _ in twins] == sorted(o for o, _ in twins)
        if not monotone:
            if self.policy.ordered:
                raise Refused("both sides inserted the same elements in a different order")
            twins = []  # order is free: ours' insertions (twins included), then theirs' others
            t_new = [j for j in t_new if not any(self.equal(ours[k], theirs[j]) for k in o_new)]
        # Between insertions both made, each side's own ones; where both have some, the policy
        # orders them. Walking the twins in order keeps every side's own order (symmetrically).
        o_twins, t_twins = {o for o, _ in twins}, {t for _, t in twins}
        picks: list[Pick] = []
        o_at = t_at = 0
        interleaved = False
        for o_twin, t_twin in [*sorted(twins), (None, None)]:
            o_stop = o_new.index(o_twin) if o_twin is not None else len(o_new)
            t_stop = t_new.index(t_twin) if t_twin is not None else len(t_new)
            o_run = [j for j in o_new[o_at:o_stop] if j not in o_twins]
            t_run = [j for j in t_new[t_at:t_stop] if j not in t_twins]
            if o_run and t_run:
                before = ours[o_range.start - 1] if o_range.start > 0 else None
                after = ours[o_range.stop] if o_range.stop < len(ours) else None
                order = self.policy.order([ours[j] for j in o_run], [theirs[j] for j in t_run], before, after)
                picks += [Pick(side, (o_run if side == "ours" else t_run)[k]) for side, k in order]
                interleaved = True
            else:
                picks += [Pick("ours", j) for j in o_run] + [Pick("theirs", j) for j in t_run]
            if o_twin is not None:
                picks.append(Pick("ours", o_twin))
                o_at, t_at = o_stop + 1, t_stop + 1
        for side in ("ours", "theirs"):
            plan.deleted[side].extend(deleted[side])
        plan.inserted["ours"].extend(j for j in o_new if j not in o_twins)
        plan.inserted["theirs"].extend(j for j in t_new if j not in t_twins)
        plan.identical.extend(o for o, _ in twins)
        plan.interleaved = plan.interleaved or interleaved
        return picks

    def _account(self, side: str, b_range: range, s_range: range) -> None:
        for i in b_range:
            if i not in self.to[side]:
                self.plan.deleted[side].append(i)
        for j in s_range:
            if j in self.back[side]:
                self.plan.changed[side].append(self.back[side][j])
            else:
                self.plan.inserted[side].append(j)


def _check_ambiguous(base, ours, theirs, to_ours, to_theirs) -> None:
    """Which of several identical elements a side changed or removed is a guess; guesses about
    different copies on the two sides would merge the two edits as if they were unrelated."""
    counts: dict[tuple, int] = {}
    for item in base:
        counts[_identity(item)] = counts.get(_identity(item), 0) + 1
    for side, items, mapping in (("ours", ours, to_ours), ("theirs", theirs, to_theirs)):
        for i, item in enumerate(base):
            if counts[_identity(item)] > 1 and (i not in mapping or items[mapping[i]].text != item.text):
                raise Refused(f"{side} changed one of several identical {item.name!r}: which one is a guess")


def _rewrite_of(new: Item, old: Item) -> bool:
    """Whether `new` looks like an edited `old` (same key, or mostly the same text)."""
    if new.key is not None and new.key == old.key:
        return True
    a, b = new.core_text, old.core_text
    return SequenceMatcher(None, a, b, autojunk=False).ratio() >= 0.6


def _identity(item: Item) -> tuple:
    return ("key", item.key) if item.key is not None else ("text", item.core_text)


def _check_moves(base, ours, theirs, to_ours, to_theirs, policy: Policy) -> None:
    """An element one side moved (deleted here, inserted there) is a conflict if the other side
    changed or deleted it, and, where order matters, if the other side inserted anything: after
    a reordering, the other side's insertion has no clear place."""
    sides = {"ours": (ours, to_ours), "theirs": (theirs, to_theirs)}
    inserted_any = {side: len(items) > len(mapping) for side, (items, mapping) in sides.items()}
    for mover, other in (("ours", "theirs"), ("theirs", "ours")):
        items, mapping = sides[mover]
        matched = set(mapping.values())
        inserted = {_identity(items[j]) for j in range(len(items)) if j not in matched}
        if not inserted:
            continue
        other_items, other_map = sides[other]
        for i, item in enumerate(base):
            if i in mapping or _identity(item) not in inserted:
                continue
            # `item` was moved by `mover`.
            if i not in other_map:
                raise Refused(f"{mover} moved {item.name!r}, {other} deleted it")
            if other_items[other_map[i]].text != item.text:
                raise Refused(f"{mover} moved {item.name!r}, {other} changed it")
            if policy.ordered and inserted_any[other]:
                raise Refused(f"{mover} reordered elements ({item.name!r}) where {other} inserted some")


def _check_deleted_gone(plan: Plan, base, ours, theirs, elsewhere=None) -> None:
    """In the views a merge chain works on, git has already applied each side's clean changes,
    so an element one side moved sits outside the conflict as well as (in the base) inside it.
    An element both sides removed here that survives elsewhere was moved by one side and
    deleted by the other: keeping the moved copy would undo the deletion. (Removed by one side
    only, it was that side's own move, and the other side kept it here.)"""
    kept = {_identity((ours if p.side == "ours" else theirs)[p.index]) for p in plan.picks}
    for i in set(plan.deleted["ours"]) & set(plan.deleted["theirs"]):
        if _identity(base[i]) in kept or (elsewhere is not None and elsewhere(base[i])):
            raise Refused(f"{base[i].name!r} was moved by one side and deleted by the other")


def _check_unique(plan: Plan, ours: Sequence[Item], theirs: Sequence[Item]) -> None:
    seen: set[Hashable] = set()
    for pick in plan.picks:
        item = (ours if pick.side == "ours" else theirs)[pick.index]
        if item.key is None:
            continue
        if item.key in seen:
            raise Refused(f"{item.name!r} would appear twice (moved on one side?)")
        seen.add(item.key)
