"""List a corpus novel's chapters as the product imports it: 1-based position, words, title.

The retrieval question sets (bench/retrieval_questions/*.json) name their gold chapters by these
positions, so they come from the product's own parser, not from the numerals in the file.

    PYTHONPATH=$PWD .venv/bin/python bench/list_chapters.py [dom-casmurro|pride-and-prejudice]
"""

from __future__ import annotations

import sys

from bench.retrieval_set import NOVELS, parse_novel


def main() -> None:
    for name in sys.argv[1:] or list(NOVELS):
        manuscript = parse_novel(name)
        print(f"# {name}: {len(manuscript.chapters)} chapters, split {manuscript.split}")
        for position, chapter in enumerate(manuscript.chapters, start=1):
            print(f"{position:4d}  {chapter.word_count:6d}  {chapter.title}")


if __name__ == "__main__":
    main()
