"""Periodic indicator extracts for the health commission, read from the published marts.

``periods`` parses 2026-03 / 2026Q1 / 2026, ``schedule`` says what is due when, ``query`` reads one
publication's marts, ``tables`` shapes them into bilingual tables, ``restatement`` lists what changed since an
earlier revision, ``workbook`` (with ``charts`` and ``layout``, the text widths) and ``csv_files`` write them (``render`` both, from ``inputs``, the stored
inputs of a revision), ``manifest`` records what they were computed from, ``revisions`` keeps every revision,
``create`` puts it together and ``reproduce`` writes an earlier revision again from its inputs.
"""
