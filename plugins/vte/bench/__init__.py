"""`vte bench`: measured performance of each stage, every figure beside a baseline taken in the same run.

One module per stage (``intake``, ``ingest``, ``transform``, ``excel``, ``extract``, ``end_to_end``), each a
``run(scale, bench_home) -> StageResult``; ``runner`` runs the chosen stages, prints the table and writes the
JSON. Each stage works in its own scratch VTE_HOME with its own embedded warehouse under
``$VTE_HOME/bench/work/<stage>``, removed afterwards: the user's data is never touched.
"""
