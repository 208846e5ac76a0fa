"""Every bad archive gets a 4xx naming the problem, and writes nothing: the catalog's rows and
the data folder's bytes are the same after the attempt."""

from __future__ import annotations

import random

import pytest

from services.core.archives.container import ArchiveLimits
from services.core.archives.service import (
    build_book_archive,
    read_book_archive,
    restore_book_archive,
)
from services.core.db import transaction
from services.core.errors import DomainError
from tests.core.archives.bad_archives import BAD_ARCHIVES, LIMITS, BadArchive
from tests.core.archives.installs import (
    Install,
    catalog_rows,
    data_files,
    make_book,
    new_install,
)


@pytest.fixture(scope="module")
def install(tmp_path_factory: pytest.TempPathFactory) -> Install:  # type: ignore[misc]
    with new_install(tmp_path_factory.mktemp("bad"), "sqlite", **LIMITS) as made:
        yield made


@pytest.fixture(scope="module")
def good(install: Install) -> bytes:
    book_id = make_book(install)
    with transaction(install.sessions) as session:
        _, data = build_book_archive(session, book_id, install.settings.chapters_dir)
    # The same book is also restorable as a copy: only the damage below makes a restore fail.
    restore_book_archive(install.sessions, data, settings=install.settings, mode="as_new")
    return data


@pytest.mark.parametrize("bad", BAD_ARCHIVES, ids=[b.name for b in BAD_ARCHIVES])
@pytest.mark.parametrize("mode", ["new", "as_new"])
def test_bad_archive_is_refused_and_writes_nothing(
    install: Install, good: bytes, bad: BadArchive, mode: str
) -> None:
    before, files = catalog_rows(install), data_files(install)
    with pytest.raises(DomainError) as caught:
        restore_book_archive(
            install.sessions,
            bad.make(good),
            settings=install.settings,
            mode=mode,  # type: ignore[arg-type]
        )
    assert caught.value.status_code == bad.status, caught.value.message
    assert bad.says in caught.value.message
    assert catalog_rows(install) == before
    assert data_files(install) == files


def test_randomly_damaged_archives_are_always_a_4xx(install: Install, good: bytes) -> None:
    """Bytes flipped, cut out or slipped in anywhere (seeded): a 4xx or, when the damage misses
    every member's content, the book itself; never another exception."""
    rng = random.Random(17)
    limits = ArchiveLimits.from_settings(install.settings)
    statuses: set[int] = set()
    for _ in range(1500):
        data = bytearray(good)
        for _ in range(rng.randint(1, 8)):
            at = rng.randrange(len(data))
            roll = rng.random()
            if roll < 0.6:
                data[at] = rng.randrange(256)
            elif roll < 0.8:
                del data[at : at + rng.randint(1, 50)]
            else:
                data[at:at] = rng.randbytes(rng.randint(1, 20))
        try:
            read_book_archive(bytes(data), limits, install.settings.max_text_chars)
        except DomainError as exc:
            statuses.add(exc.status_code)
    assert statuses <= {413, 422} and 422 in statuses
