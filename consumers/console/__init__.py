"""The web console: server-rendered pages (Jinja2) over the read API's own code paths.

``pages.create_console_router`` serves ``/`` (the public register and lead times:
``pages_public``), the sign-in page (``pages_signin``), and for a signed-in person the inbox,
projects, approvals and shipments (``pages_files``), the acting forms (``pages_act``) and the
audit (``pages_audit``); what every page shares is ``page.Page``. Every page is a route of
``consumers.policy.ROUTES`` admitted by the same ``access`` dependency as the JSON API, and
reads through the same functions (``consumers.api.shown_*``, ``consumers.api_public``), so what
a page shows is exactly what the policy lets its reader see. Languages: ``i18n``.
"""
