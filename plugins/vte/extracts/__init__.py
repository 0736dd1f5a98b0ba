"""Periodic indicator extracts for the health commission, read from the published marts.

``periods`` parses 2026-03 / 2026Q1 / 2026, ``schedule`` says what is due when, ``query`` reads one
publication's marts, ``tables`` shapes them into bilingual tables, ``workbook`` and ``csv_files`` write them,
``manifest`` records what they were computed from, and ``create`` puts it together.
"""
