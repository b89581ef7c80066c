"""The staff desk: web pages where staff review profiles, approve skill swaps,
post opportunities and answer alerts (``docs/desk.md``).

Built on Starlette (Jinja2 templates, signed session cookies, WTForms with
session CSRF) and served by uvicorn on the bot's own event loop. Every change
goes through the same service functions as the command line and the staff chat
commands; nothing here imports ``telegram``.
"""
