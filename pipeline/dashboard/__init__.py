"""The HR review dashboard: search flagged items, read the evidence, record decisions, audit every access.

Run it with ``ims-monitor dashboard`` (``make demo`` starts it and prints the URL and a login); manage
sign-ins with ``ims-monitor users add|list|disable``.

Layout (each domain module holds its service functions; views are thin):

    app.py        create_app(settings, es_client=...) -> the ASGI app (FastAPI), security headers
    models.py     roles, review statuses and transitions, request/response models of the JSON API
    indices.py    the dashboard's own indices: <prefix>-users, <prefix>-sessions, <prefix>-audit
    auth.py       argon2 password hashing, users, server-side sessions, CSRF tokens, login throttling
    search.py     full-text search over flagged items (simple_query_string), filters, facets, highlights
    items.py      one item with its version; review updates with optimistic concurrency; bulk dismiss
    audit.py      who did what, when (sign-in, search, item view, status change, export)
    overview.py   aggregations over time by label and source, queue sizes, inline SVG charts
    export.py     CSV of a search with spreadsheet formula injection neutralised
    api.py        the JSON API under /api (OpenAPI at /api/openapi.json), used by the pages
    pages.py      the server-rendered HTML pages (Jinja2, autoescaped)
    commands.py   the ``dashboard`` and ``users`` commands
    demo.py       what ``ims-monitor demo`` starts: a demo admin and the dashboard as a child process

Roles: viewer (search, read, overview) < reviewer (+ review changes, bulk dismiss, CSV export) < admin
(+ audit log, user list). Users are managed on the server with ``ims-monitor users``.

Security model, in short:
- everything but ``/login``, ``/healthz`` and ``/static`` needs a session; sessions live server-side
  (``<prefix>-sessions``, only token hashes), cookies are HttpOnly + SameSite=Lax (+ Secure and ``__Host-``
  under TLS or an https base URL);
- every change needs the session's CSRF token and this site's Origin; the API refuses browsers' cross-site
  calls (``Sec-Fetch-Site``);
- what strangers wrote is escaped by Jinja2's autoescape; bidi/invisible characters are shown as markers;
  only http(s) URLs become links (``rel="noopener noreferrer"``); remote media is never loaded;
- a strict Content-Security-Policy (``script-src 'self'``, no inline script or style, ``frame-ancestors
  'none'``) backs all of that up, and every asset is served by the app (no CDN);
- every sign-in (failed ones too), search, item view, review change, export and refused request is in
  ``<prefix>-audit``.
The client address is the socket's peer: behind a reverse proxy, throttling and the audit see the proxy.
"""
