"""The suites, by name, in the order a full run takes them (cheap and broad first, timing last)."""

from __future__ import annotations

from . import suite_block_sparse, suite_dropout, suite_gqa, suite_paged, suite_plain, suite_timing, suite_tma, suite_upstream

SUITES = {module.NAME: module for module in (
    suite_plain, suite_gqa, suite_tma, suite_paged, suite_dropout, suite_block_sparse, suite_upstream, suite_timing,
)}
