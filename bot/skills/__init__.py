"""Surfacing skills from what members say: taxonomy, finder, picture card, CLI.

``load_taxonomy(path)`` reads ``dialogues/skills.yml``; ``SpacySkillFinder(taxonomy)``
finds skills in free text; ``render_card(...)`` draws a member's skills as a PNG.
This package never imports the engine, the channels or storage.
"""
