"""The Telegram channel: a thin adapter between the Bot API and the conversation engine.

``bot.telegram.app.run_telegram(settings)`` starts it (long polling, or a webhook
when ``SKILLSPARK_WEBHOOK_URL`` is set). Nothing outside this package imports
``telegram``.
"""
