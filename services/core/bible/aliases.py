"""Alias merging: the spellings of one chapter's names grouped into entities, and attached to
the entities the book already has.

Rules, each applied only when it points at exactly one entity (an ambiguous name stays
apart rather than joining the wrong person):
- the same key (folded words and title class): "D. Glória" = "Dona Glória";
- a bare name joins the one titled name with the same words: "Glória" → "D. Glória", but
  "Bennet" joins neither "Mr. Bennet" nor "Mrs. Bennet";
- one word that is the first or last word of a longer name, in the chapter or the book:
  "Santiago" → "Bento Santiago", "Elizabeth" → "Elizabeth Bennet";
- a known entity's names (the book's catalog) take precedence over a new group;
- the other way round, a fuller or titled spelling joins the book's one shorter name: "Mrs.
  Hill" → "Hill", "Sir William Lucas" → "Sir William", "Charlotte Lucas" → "Charlotte";
- titles of kinship ("Tio", "Prima", "Mano") name one person the way relatives address them
  and yield to a civil title of the same name: "Prima Gloria" → "D. Gloria".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from services.core.bible.candidates import KIN_TITLES, Candidate, name_key, split_title


@dataclass(frozen=True)
class KnownEntity:
    """An entity the book already has, as extraction needs it."""

    id: str
    name: str
    kind: str
    aliases: tuple[str, ...] = ()


@dataclass
class NameGroup:
    """The spellings of one entity in a chapter."""

    candidates: list[Candidate] = field(default_factory=list)
    known: KnownEntity | None = None

    @property
    def mentions(self) -> int:
        return sum(c.count for c in self.candidates)

    @property
    def surfaces(self) -> list[str]:
        return [c.surface for c in self.candidates]

    @property
    def name(self) -> str:
        if self.known is not None:
            return self.known.name
        # The fullest bare name ("Elizabeth Bennet" over "Elizabeth"), else the commonest
        # spelling with a civil title ("D. Gloria" over how a cousin calls her).
        bare = [c for c in self.candidates if c.title is None and len(c.surface.split()) > 1]
        civil = [c for c in self.candidates if c.title not in KIN_TITLES]
        pool = bare or civil or self.candidates
        return max(pool, key=lambda c: (c.count, len(c.surface))).surface

    @property
    def kind_hint(self) -> str | None:
        if self.known is not None:
            return self.known.kind
        hints = [c.kind_hint for c in self.candidates if c.kind_hint]
        return max(set(hints), key=hints.count) if hints else None


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, node: str) -> str:
        self.parent.setdefault(node, node)
        while self.parent[node] != node:
            self.parent[node] = self.parent[self.parent[node]]
            node = self.parent[node]
        return node

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return
        # A known entity stays the root, so the group keeps its id.
        if rb.startswith("known:") and not ra.startswith("known:"):
            ra, rb = rb, ra
        self.parent[rb] = ra


def _words(key: str) -> list[str]:
    return key.split("|", 1)[-1].split()


def merge_names(
    candidates: Sequence[Candidate], known: Sequence[KnownEntity] = ()
) -> list[NameGroup]:
    """Group a chapter's candidates into entities, most mentioned first."""
    uf = _UnionFind()
    # Every name's node: the known entity that holds it, or the key itself.
    owner: dict[str, str] = {}
    known_by_id = {k.id: k for k in known}
    for entity in known:
        node = f"known:{entity.id}"
        uf.find(node)
        for alias in (entity.name, *entity.aliases):
            owner.setdefault(name_key(alias), node)
    by_key: dict[str, list[Candidate]] = {}
    for candidate in candidates:
        key = name_key(candidate.surface)
        if not _words(key):
            continue
        by_key.setdefault(key, []).append(candidate)
        uf.union(owner.get(key, f"key:{key}"), f"key:{key}")
    names = set(owner) | set(by_key)

    def node_of(key: str) -> str:
        return uf.find(owner.get(key, f"key:{key}"))

    # A bare name joins the one titled name with the same words.
    titled: dict[str, set[str]] = {}
    for key in names:
        if "|" in key:
            titled.setdefault(key.split("|", 1)[1], set()).add(key)
    for key in by_key:
        if "|" not in key and key in titled and not node_of(key).startswith("known:"):
            targets = {node_of(t) for t in _civil_first(titled[key])}
            if len(targets) == 1:
                uf.union(targets.pop(), node_of(key))
    # "Prima Gloria" is D. Gloria, "Mano Cosme" is Tio Cosme: a kinship title joins the one
    # civil title of the same name, else the one other kinship title, else the bare name.
    for key in by_key:
        title = key.split("|", 1)[0] if "|" in key else None
        if title not in KIN_TITLES or node_of(key).startswith("known:"):
            continue
        bare = key.split("|", 1)[1]
        others = _civil_first(titled.get(bare, set()) - {key})
        targets = {node_of(t) for t in others} or ({node_of(bare)} if bare in names else set())
        targets.discard(node_of(key))
        if len(targets) == 1:
            uf.union(targets.pop(), node_of(key))
    # One word joins the one longer name it opens or closes.
    long_names: dict[str, set[str]] = {}
    for key in names:
        words = _words(key)
        if len(words) > 1:
            for word in {words[0], words[-1]}:
                long_names.setdefault(word, set()).add(key)
    for key in by_key:
        words = _words(key)
        attached = node_of(key).startswith("known:")
        if len(words) == 1 and "|" not in key and words[0] in long_names and not attached:
            targets = {node_of(t) for t in long_names[words[0]]}
            if len(targets) == 1:
                uf.union(targets.pop(), node_of(key))
    _join_the_book(by_key, names, node_of, uf)
    groups: dict[str, NameGroup] = {}
    for key, spelled in by_key.items():
        root = node_of(key)
        group = groups.setdefault(root, NameGroup())
        group.candidates.extend(spelled)
        if root.startswith("known:"):
            group.known = known_by_id[root.removeprefix("known:")]
    ordered = sorted(groups.values(), key=lambda g: (-g.mentions, g.name))
    return ordered


def _civil_first(keys: set[str]) -> set[str]:
    """Of titled keys of one name, the civil ones ("D.", "Mr.") when there are any: a kinship
    title ("Prima", "Tio") names the same person another way."""
    civil = {k for k in keys if k.split("|", 1)[0] not in KIN_TITLES}
    return civil or keys


def _join_the_book(
    by_key: dict[str, list[Candidate]],
    names: set[str],
    node_of: Callable[[str], str],
    uf: _UnionFind,
) -> None:
    """The same rules the other way round: this chapter's fuller or titled spelling joins the
    one entity the book (or chapter) has under a shorter one — "Mrs. Hill" the known "Hill",
    "Sir William Lucas" the known "Sir William", "Charlotte Lucas" the known "Charlotte"."""

    def held(node: str) -> set[str]:
        return {k for k in names if node_of(k) == node}

    def title_of(key: str) -> str | None:
        return key.split("|", 1)[0] if "|" in key else None

    for key in list(by_key):
        own = node_of(key)
        if own.startswith("known:"):
            continue  # already the book's: it joins nothing else
        words = _words(key)
        title = title_of(key)
        targets: set[str] = set()
        if title is not None:
            bare = " ".join(words)
            same_words = {k for k in names if "|" in k and _words(k) == words}
            # "Mrs. Hill" → "Hill", unless "Mr. Hill" is there too, or the entity of "Hill"
            # already has another title ("Bennet" of "Mr. Bennet" is not Mrs. Bennet's).
            if bare in names and all(title_of(k) == title for k in same_words):
                node = node_of(bare)
                if all(title_of(k) in (None, title) for k in held(node)):
                    targets.add(node)
            # "Sir William" ↔ "Sir William Lucas": one titled name opens the other.
            for other in names:
                if other == key or title_of(other) != title:
                    continue
                theirs = _words(other)
                shorter, longer = sorted((words, theirs), key=len)
                if len(shorter) < len(longer) and longer[: len(shorter)] == shorter:
                    targets.add(node_of(other))
        elif len(words) > 1 and words[0] in names:
            # "Charlotte Lucas" → "Charlotte", unless that entity is another Charlotte too.
            node = node_of(words[0])
            fuller = {k for k in held(node) if "|" not in k and len(_words(k)) > 1}
            if fuller <= {key}:
                targets.add(node)
        targets.discard(own)
        if len(targets) == 1:
            uf.union(targets.pop(), own)


def bare_name(surface: str) -> str:
    """A name without its title: "Glória" for "D. Glória"."""
    return split_title(surface)[1]
