"""The hospitals' own report ("我的上报"): after signing in on the upload site, and as a signed JSON API.

- ``source``: where the report comes from (the feedback report the last publication wrote, a file);
- ``assembly``: the report arranged for a person (calendar, problems by what to do first, indicators,
  refused requests by code);
- ``routes``: the page, the downloads, the stylesheet and ``GET /xt/api/my-report``;
- ``templates/`` and ``static/``: the page's template and its stylesheet, served by the intake (no CDN).
"""
