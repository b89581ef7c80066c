"""Staff tools: roles, profile exports (CSV, XLSX, PDF) and their audit trail.

Nothing here imports a channel library: the CLI (:mod:`bot.staff.cli`) and the
Telegram channel (through :mod:`bot.staff.desk`) both call the same functions.
"""
