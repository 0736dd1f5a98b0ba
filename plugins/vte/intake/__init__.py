"""The intake service: the hospital-facing HTTP interface of Appendix A (``POST /xt/api/submit``).

Submodules import FastAPI only where they serve HTTP (``app``, ``server``), so the signing rule and
the audit loader can be used without it.
"""
