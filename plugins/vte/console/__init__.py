"""The data centre console: collection monitoring, indicators, review and lock, alerts, for the commission's staff.

Its own FastAPI app and port (`vte console`), server-rendered, every asset served by itself (a provincial
intranet reaches no CDN). It connects as ``vte_console``; each page is scoped to the signed-in user's region.
"""
