"""The conversation engine, by concern.

* :mod:`~bot.conversation.state`: the typed conversation state (status, prompt
  kind, interrupt, the ``data`` keys).
* :mod:`~bot.conversation.words`: pure text helpers (cleaning, names, feelings).
* :mod:`~bot.conversation.context`: a turn, and what an extension may use of it.
* :mod:`~bot.conversation.tables`: buttons and answer maps of each prompt kind.
* :mod:`~bot.conversation.prompts`: saying, asking, interrupts, stored answers.
* :mod:`~bot.conversation.onboarding`, :mod:`~bot.conversation.topics`,
  :mod:`~bot.conversation.confirm`, :mod:`~bot.conversation.session`,
  :mod:`~bot.conversation.rights`: the pieces of the conversation.
* :mod:`~bot.conversation.engine`: :class:`Engine`, the one façade channels call.

Nothing is imported here, so ``bot.content`` may read the step table without
loading the engine.
"""
