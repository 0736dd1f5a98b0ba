"""``vte demo``: the whole product on synthetic data (what `make demo` runs)."""

from vte import demo as demo_run


def demo() -> None:
    """Run the whole product on synthetic data on the embedded warehouse and say where to look."""
    demo_run.run()
