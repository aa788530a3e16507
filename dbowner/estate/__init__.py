"""Across repositories: per-repository facts files (`dbowner facts`) and their merge (`dbowner merge`)."""
from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..analysis import Analysis
from ..catalog import RuleInfo
from ..manifest import Manifest
from .facts import (FactsDocument, FactsError, RepoFacts, document_to_dict, dump_document, is_facts_file,
                    load_document, repo_facts)
from .merge import Estate, MergedManifest, analyze_estate, combine, estate_of

__all__ = ["Estate", "FactsDocument", "FactsError", "MergedManifest", "RepoFacts", "analyze_document",
           "analyze_files", "combine", "document_to_dict", "dump_document", "estate_of", "is_facts_file",
           "load_document", "merged_document", "repo_facts"]


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Facts of 1,000 repositories are millions of small acyclic objects; the cyclic collector
    would re-scan them again and again while they are built (about 15% of a merge's time)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def merged_document(paths: list[Path], org: Manifest | None = None) -> FactsDocument:
    """Facts files -> one document; a single file stays as it is (unless an org manifest is given)."""
    with _gc_paused():
        docs = [(str(p), load_document(p)) for p in paths]
        return docs[0][1] if len(docs) == 1 and org is None else combine(docs, org)


def analyze_document(doc: FactsDocument, rules: list[RuleInfo], org: Manifest | None = None) -> Analysis:
    with _gc_paused():
        return analyze_estate(estate_of(doc, rules, org), rules)


def analyze_files(paths: list[Path], rules: list[RuleInfo], org: Manifest | None = None) -> Analysis:
    """Analyse one facts file as it is, or several merged (with an org manifest over them)."""
    return analyze_document(merged_document(paths, org), rules, org)
