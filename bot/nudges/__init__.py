"""Peer opportunities and gentle nudges (see docs/nudges.md).

* :mod:`bot.nudges.extension`: the engine extension (nudge buttons, ``/nudges``).
* :mod:`bot.nudges.planner`: the planning sweep (due members -> outbox rows).
* :mod:`bot.nudges.sender`: the send sweep and the channel's ``NudgeSender`` protocol.
* :mod:`bot.nudges.matches`: skill swaps proposed to staff, approved or declined.
* :mod:`bot.nudges.opportunities`: adding, importing, listing and closing opportunities.
* :mod:`bot.nudges.jobs`: the APScheduler wiring; :mod:`bot.nudges.cli`: staff commands.
"""
