"""The easy-read checker catches each kind of hard text, and all of dialogues/ passes it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot import easyread
from bot.easyread import Finding, check_dialogues, check_text, run_check

DIALOGUES = Path(__file__).resolve().parent.parent / "dialogues"


def rules(
    text: str, *, key: str = "test.key", is_button: bool = False, house_style: bool = False
) -> set[str]:
    """The rule ids a text breaks."""
    return {f.rule for f in check_text(key, text, is_button=is_button, house_style=house_style)}


def sentence_of(n: int) -> str:
    """A plain sentence of exactly ``n`` short words, ending with an emoji."""
    return " ".join(["cat"] * n) + " 🐱."


# ------------------------------------------------------------------ each rule

CASES = [
    # (rule, bad text, good text)
    (easyread.RULE_SENTENCE_MAX, sentence_of(21), sentence_of(20)),
    (
        easyread.RULE_SENTENCE_AVERAGE,
        sentence_of(16) + " " + sentence_of(17),
        sentence_of(17) + " " + sentence_of(5) + " " + sentence_of(5),
    ),
    (easyread.RULE_CONTRACTION, "Don't worry about it 🙂.", "Your friend's dog is happy 🐕."),
    (easyread.RULE_CONTRACTION, "You’re doing great 🌟.", "You are doing great 🌟."),
    (easyread.RULE_CONTRACTION, "Let's start now 🚀.", "We can start now 🚀."),
    (easyread.RULE_CONTRACTION, "I’m here to help 🙂.", "I am here to help 🙂."),
    (easyread.RULE_JARGON, "We will utilise your answers 📝.", "We will use your answers 📝."),
    (easyread.RULE_JARGON, "Bring a coat, a hat etc 🧥.", "Bring a coat and a hat 🧥."),
    (easyread.RULE_JARGON, "Bring a drink, e.g. water 💧.", "Bring a drink, like water 💧."),
    (easyread.RULE_JARGON, "Tell us regarding your week 📅.", "Tell us about your week 📅."),
    (easyread.RULE_INITIALS, "Read the FAQ to learn more ❓.", "Do you watch TV with friends? 📺"),
    (easyread.RULE_INITIALS, "Ask your GP for help 🩺.", "Is that OK? 🙂"),
    (easyread.RULE_METAPHOR, "Baking is a piece of cake 🍰.", "Baking a cake is fun 🍰."),
    (easyread.RULE_METAPHOR, "You were over the moon 🌙.", "You were very happy 😀."),
    (easyread.RULE_NUMBER_WORD, "You have two cats 🐱.", "You have 2 cats 🐱."),
    (easyread.RULE_NUMBER_WORD, "Pick one of these 3 buttons 👇.", "Someone will help you 🙂."),
    (
        easyread.RULE_NUMBER_WORD,
        "We have twelve questions ❓.",
        "Here is the one we are on now 👇.",
    ),
    (easyread.RULE_EMOJI, "Hello there.", "Hello there 👋."),
    (easyread.RULE_EMOJI, "You are good at {label}.", "You are good at {label} {emoji}."),
    (
        easyread.RULE_GRADE,
        "Organisational responsibilities necessitate considerable communication capability "
        "and professional determination 🏢.",
        "You make tea for your friends 🍵. That means you are good at looking after people 🤗.",
    ),
    (easyread.RULE_LENGTH, "🙂 " + "Tea is nice. " * 40, "🙂 " + "Tea is nice. " * 3),
    (easyread.RULE_NEGATIVE, "Do not press the red button 🔴.", "Press the green button 🟢."),
    (easyread.RULE_NEGATIVE, "Never type your password here 🔒.", "Keep your password safe 🔒."),
    (
        easyread.RULE_NEGATIVE,
        "You should not send photos 📷.",
        "If you do not want to answer, tap Skip ⏭️.",
    ),
    (
        easyread.RULE_DOUBLE_NEGATIVE,
        "There is no skill you cannot learn 🌱.",
        "You can learn new skills 🌱.",
    ),
    (
        easyread.RULE_DOUBLE_NEGATIVE,
        "It is not true that you have nothing to share 🤝.",
        "No, that is fine. I have not kept anything 👍.",  # an answering "No," is not one
    ),
    (easyread.RULE_PLACEHOLDER, "Hello {nmae} 👋.", "Hello {name} 👋."),
    (easyread.RULE_PLACEHOLDER, "Hello {name 👋.", "Hello {name}, you can talk to {staff} 👋."),
    (easyread.RULE_EMPTY, "   ", "🙂"),
]


@pytest.mark.parametrize(("rule", "bad", "good"), CASES, ids=[f"{c[0]}:{c[1][:20]}" for c in CASES])
def test_each_rule_catches_bad_text_and_passes_good_text(rule: str, bad: str, good: str) -> None:
    """The bad example breaks the rule; the good example does not."""
    assert rule in rules(bad), f"{rule} should catch: {bad!r}"
    assert rule not in rules(good), f"{rule} should pass: {good!r}"


# ------------------------------------------------------------------ house style

HOUSE_CASES = [
    # (rule, bad text, good text), checked with house_style=True
    (easyread.RULE_PICTURE_FIRST, "Do you make tea? ☕", "☕ Do you make tea?"),
    (easyread.RULE_PICTURE_FIRST, "You may be good at {label} {emoji}.", "{emoji} You cook."),
    (
        easyread.RULE_PICTURES_SCATTERED,
        "👋 Hello. I am SkillSpark ✨. I help you 🌟.",
        "👋 Hello. I am SkillSpark. I help you.",
    ),
    (
        easyread.RULE_PICTURES_SCATTERED,
        "💡 Here is how to use me.\n👇 Tap a button ✅.",
        "💡 Here is how to use me.\n👇 Tap a button.\n⏸️ pause: stop for now.",
    ),
    (
        easyread.RULE_PICTURES_SCATTERED,
        "⏸️ We are taking a break. Carry on ▶️.",
        "⏸️ We are taking a break. Send /start to carry on.",
    ),
    (
        easyread.RULE_CHILDISH_PRAISE,
        "👏 Well done. We have finished talking about food.",
        "✅ We have finished talking about food.",
    ),
    (easyread.RULE_CHILDISH_PRAISE, "🌟 Good job on the bins.", "🗑️ You sort the recycling."),
    (easyread.RULE_CHILDISH_PRAISE, "🌟 You are so clever.", "🍳 You cook for your friends."),
    (easyread.RULE_CHILDISH_PRAISE, "🎉 You did it.", "🎉 You have answered all the questions."),
    (easyread.RULE_CHILDISH_PRAISE, "🐕 Good boy.", "🐕 You walk the dog every day."),
    (
        easyread.RULE_CHILDISH_PRAISE,
        "🌟 Amazing effort. Keep it up.",
        "🧽 You keep your home clean. That helps everyone who lives there.",
    ),
    (easyread.RULE_CHILDISH_PRAISE, "⭐ I am proud of you.", "📚 I have saved it."),
    (easyread.RULE_EXCLAMATIONS, "👋 Hello! Nice to meet you!", "👋 Hello! Nice to meet you."),
    (easyread.RULE_QUESTIONS, "☕ Do you make tea? Do you make coffee?", "☕ Do you make tea?"),
]


@pytest.mark.parametrize(
    ("rule", "bad", "good"), HOUSE_CASES, ids=[f"{c[0]}:{c[1][:20]}" for c in HOUSE_CASES]
)
def test_each_house_rule_catches_bad_text_and_passes_good_text(
    rule: str, bad: str, good: str
) -> None:
    """With house style on, the bad example breaks the rule and the good example passes all."""
    assert rule in rules(bad, house_style=True), f"{rule} should catch: {bad!r}"
    assert rules(good, house_style=True) == set(), f"should pass: {good!r}"


def test_house_rules_are_off_unless_asked_and_on_for_the_dialogues(tmp_path: Path) -> None:
    """check_text keeps house style off by default; check_dialogues turns it on."""
    text = "👏 Well done, you make tea ☕."
    assert rules(text) == set()
    assert {f.rule for f in easyread.check_house_style("k", text)} == {
        easyread.RULE_CHILDISH_PRAISE,
        easyread.RULE_PICTURES_SCATTERED,
    }
    found = {f.rule for f in check_dialogues(write_tree(tmp_path / "d", {"k": text}))}
    assert found == {easyread.RULE_CHILDISH_PRAISE, easyread.RULE_PICTURES_SCATTERED}
    assert set(easyread.HOUSE_RULES) <= set(easyread.RULES)


def test_whole_pictures_count_once_and_list_lines_keep_their_picture() -> None:
    """A joined picture or a keycap is 1 picture; each list line may start with 1."""
    assert rules("🧑\u200d🏫 You show people how to do things.", house_style=True) == set()
    assert rules("📅 How many days?\n1️⃣ 1 day\n2️⃣ 2 days", house_style=True) == set()
    assert easyread.RULE_PICTURES_SCATTERED in rules("📅 Days 1️⃣ 2️⃣", house_style=True)


def test_every_rule_id_is_exercised() -> None:
    """Each rule the checker reports has at least one example above."""
    tested = {c[0] for c in CASES} | {c[0] for c in HOUSE_CASES} | {easyread.RULE_FILE}
    assert set(easyread.RULES) <= tested


def test_good_sentences_pass_every_rule() -> None:
    """Typical SkillSpark messages pass with no findings at all."""
    for text in (
        "Do you make tea or coffee for other people? ☕",
        "You make drinks for other people ☕. That means you are good at looking after people 🤗.",
        "Nice to meet you, {name} 😊.",
        "It sounds like you are good at {label} {emoji}. Is that right? 🤔",
    ):
        assert check_text("q.example", text) == [], text


def test_placeholder_counts_as_one_word() -> None:
    """A 20-word sentence with placeholders passes; with 1 more word it fails."""
    twenty = "{name} " + " ".join(["cat"] * 18) + " {label} 🐱."
    assert easyread.RULE_SENTENCE_MAX not in rules(twenty)
    assert easyread.RULE_SENTENCE_MAX in rules("cat " + twenty)


def test_one_long_sentence_is_fine_when_the_average_stays_short() -> None:
    """A 17-word sentence alone is too long on average; with short ones it is allowed."""
    assert easyread.RULE_SENTENCE_AVERAGE in rules(sentence_of(17))
    assert rules(sentence_of(17) + " " + sentence_of(4) + " " + sentence_of(4)) == set()


def test_short_messages_skip_the_reading_grade() -> None:
    """Below 8 words the grade formula is not used (it is unstable there)."""
    assert easyread.RULE_GRADE not in rules("Unbelievable responsibilities 🙂")
    assert easyread.RULE_GRADE in rules(
        "Unbelievable organisational responsibilities necessitate considerable "
        "communication capability and determination 🙂"
    )


def test_buttons_skip_sentence_rules_but_keep_word_rules() -> None:
    """A button may be a short phrase, yet still needs an emoji and plain words."""
    assert rules("📚 I want to learn", is_button=True) == set()
    assert rules("Yes", is_button=True) == {easyread.RULE_EMOJI}
    assert easyread.RULE_CONTRACTION in rules("✅ Let's go", is_button=True)
    long_label = "✅ " + " ".join(["yes"] * 22)
    assert easyread.RULE_SENTENCE_MAX not in rules(long_label, is_button=True)


def test_safety_message_may_say_do_not() -> None:
    """The safety text is on the small allowlist for negative instructions."""
    text = "Do not stay alone if you feel in danger ☎️."
    assert easyread.RULE_NEGATIVE in rules(text, key="help.text")
    assert easyread.RULE_NEGATIVE not in rules(text, key="safety.distress")


def test_harder_text_gets_a_higher_grade() -> None:
    """The grade goes up with long words and long sentences."""
    easy = "You make tea. You are kind."
    hard = "Organisational responsibilities necessitate considerable communication."
    assert easyread.reading_grade(hard) > easyread.reading_grade(easy) + 5


# ------------------------------------------------------------------ whole folders


def write_tree(
    root: Path, messages: dict[str, str], skills: dict[str, object] | None = None
) -> Path:
    """Write a small dialogues folder with one message file (and maybe a taxonomy)."""
    (root / "en").mkdir(parents=True)
    (root / "flows").mkdir()
    (root / "flows" / "food.yml").write_text("id: food\nkind: topic\n", encoding="utf-8")
    (root / "en" / "messages.yml").write_text(
        yaml.safe_dump(messages, allow_unicode=True), encoding="utf-8"
    )
    if skills is not None:
        (root / "skills.yml").write_text(yaml.safe_dump(skills, allow_unicode=True), "utf-8")
    return root


def test_check_dialogues_reports_bad_messages_by_key(tmp_path: Path) -> None:
    """Each bad message is reported with its key; buttons are checked as buttons."""
    root = write_tree(
        tmp_path / "dialogues",
        {
            "q.food.tea": "☕ Don't you make tea?",
            "button.yes": "✅ Yes",
            "button.no": "No",
            "r.food.tea": "🍵 You make tea for your friends.",
        },
    )
    found = check_dialogues(root)
    assert (
        Finding("q.food.tea", easyread.RULE_CONTRACTION, "'Don't': write the words in full")
        in found
    )
    assert {(f.key, f.rule) for f in found} == {
        ("q.food.tea", easyread.RULE_CONTRACTION),
        ("q.food.tea", easyread.RULE_NEGATIVE),
        ("button.no", easyread.RULE_EMOJI),
    }


def test_check_dialogues_reports_broken_files_and_skill_labels(tmp_path: Path) -> None:
    """A message file that is not key: text, and a skill label with initials, are reported."""
    root = write_tree(
        tmp_path / "dialogues",
        {"ok": "👋 Hello."},
        skills={
            "categories": {"fixing": {"label": "making and fixing things", "emoji": "🔧"}},
            "skills": [
                {"id": "diy", "category": "fixing", "label": "DIY", "emoji": "🔨"},
                {
                    "id": "fixing_things",
                    "category": "fixing",
                    "label": "fixing things",
                    "emoji": "",
                },
            ],
        },
    )
    (root / "en" / "broken.yml").write_text("- just\n- a list\n", encoding="utf-8")
    found = {(f.key, f.rule) for f in check_dialogues(root)}
    assert found == {
        ("en/broken.yml", easyread.RULE_FILE),
        ("skill.diy", easyread.RULE_INITIALS),
        ("skill.fixing_things", easyread.RULE_EMOJI),
    }


def test_run_check_prints_findings_and_returns_exit_code(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Exit code 1 with the key and rule printed; 0 when everything passes."""
    bad = write_tree(tmp_path / "bad", {"q.food.tea": "Do you make tea?"})
    assert run_check(bad) == 1
    out = capsys.readouterr().out
    assert "q.food.tea" in out and easyread.RULE_EMOJI in out

    good = write_tree(tmp_path / "good", {"q.food.tea": "☕ Do you make tea?"})
    assert run_check(good) == 0


# ------------------------------------------------------------------ the real content


def test_all_dialogues_pass_the_easy_read_rules() -> None:
    """Every message in dialogues/ (and every skill label) passes every rule."""
    assert list((DIALOGUES / "en").glob("*.yml")), "no message files found"
    found = check_dialogues(DIALOGUES)
    assert found == [], "\n".join(f"{f.key}  {f.rule}  {f.message}" for f in found)


def _topic_flows() -> list[dict[str, object]]:
    """Every topic flow in dialogues/flows/."""
    flows = [
        yaml.safe_load(p.read_text(encoding="utf-8"))
        for p in sorted((DIALOGUES / "flows").glob("*.yml"))
    ]
    return [f for f in flows if isinstance(f, dict) and f.get("kind") == "topic"]


def test_reflections_name_the_first_skill_of_their_question() -> None:
    """Each reflection names the first listed skill, the one confirmed next, beside its picture."""
    messages: dict[str, str] = {}
    for path in (DIALOGUES / "en").glob("*.yml"):
        messages.update(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
    taxonomy = yaml.safe_load((DIALOGUES / "skills.yml").read_text(encoding="utf-8"))
    skills = {s["id"]: s for s in taxonomy["skills"]}
    topics = _topic_flows()
    assert len(topics) >= 12
    problems = []
    for flow in topics:
        questions = flow["questions"]
        assert isinstance(questions, list) and len(questions) >= 4, flow["id"]
        for q in questions:
            first = skills[q["skills"][0]]
            reflection = messages[q["reflect"]]
            if first["label"] not in reflection:
                problems.append(f"{q['reflect']}: should name '{first['label']}'")
            if not reflection.startswith(first["emoji"]):
                problems.append(f"{q['reflect']}: should start with {first['emoji']}")
            if "?" not in messages[q["text"]]:
                problems.append(f"{q['text']}: a question needs a question mark")
    assert problems == []


def test_fewer_pictures_keeps_only_the_first_whole_picture_and_every_word() -> None:
    from bot.easyread import fewer_pictures, pictures

    text = "👋 Hello Sam! 🍳 Do you cook? 👩‍🍳 Yes.\n🌱 Garden 1️⃣ day"
    assert pictures(text) == ["👋", "🍳", "👩\u200d🍳", "🌱", "1\ufe0f\u20e3"]
    fewer = fewer_pictures(text)
    assert fewer == "👋 Hello Sam! Do you cook? Yes.\nGarden day"
    assert pictures(fewer) == ["👋"]


# ------------------------------------------------------------------ consent, one idea a message


def _messages() -> dict[str, str]:
    """Every member-facing message, by key."""
    messages: dict[str, str] = {}
    for path in (DIALOGUES / "en").glob("*.yml"):
        messages.update(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
    return messages


def _consent_sequence() -> list[str]:
    """The say messages just before the consent question, then the question, in order."""
    flow = yaml.safe_load((DIALOGUES / "flows" / "onboarding.yml").read_text(encoding="utf-8"))
    steps = {s["id"]: s for s in flow["steps"]}
    step, said = steps[flow["start"]], []
    while step["type"] != "consent":
        said = [*said, step["text"]] if step["type"] == "say" else []
        target = step["next"] if "next" in step else step["buttons"][0]["next"]
        step = steps[target]
    explained = [key for key in said if key.startswith("onboarding.consent_")]
    return [*explained, step["text"]]


#: The ideas issue 13 asks the consent sequence to name, each in its own message.
CONSENT_IDEAS = {
    "onboarding.consent_kept": ("keep", "support staff"),
    "onboarding.consent_worries": ("worry", "support staff"),
    "onboarding.consent_nudges": ("now and then", "settings", "stop"),
    "onboarding.consent_share": ("share a skill", "support staff"),
    "onboarding.consent_swaps": ("swap skills", "only your support staff"),
    "onboarding.consent_how_long": ("{kept_for}", "delete"),
    "onboarding.consent_choice": ("stop", "delete"),
}


def test_consent_is_said_in_short_messages_one_idea_each() -> None:
    """Each message before the consent question is at most 2 short sentences, 1 picture first."""
    from bot.easyread import pictures, sentences, words

    messages = _messages()
    sequence = _consent_sequence()
    explained, question = sequence[:-1], sequence[-1]
    assert question == "onboarding.consent"
    assert explained == list(CONSENT_IDEAS), "one message per idea, in this order"
    for key in explained:
        text = messages[key]
        assert len(sentences(text)) <= 2, key
        assert len(words(text)) <= 25, key
        assert all(len(words(s)) <= 15 for s in sentences(text)), key
        assert len(pictures(text)) == 1 and text.startswith(pictures(text)[0]), key
        assert "?" not in text, f"{key}: only the last message asks"
        lowered = text.lower()
        missing = [idea for idea in CONSENT_IDEAS[key] if idea not in lowered]
        assert missing == [], f"{key} should name {missing}"
    # The last message stays the question, short and whole on its own (it is shown
    # again by itself after "repeat" or a break).
    assert messages[question].count("?") == 1 and len(words(messages[question])) <= 12


def test_the_period_is_said_in_plain_words() -> None:
    from bot.conversation.prompts import period_words

    assert [period_words(m) for m in (24, 12, 18, 1, 36)] == [
        "2 years", "1 year", "18 months", "1 month", "3 years",
    ]  # fmt: skip


# ------------------------------------------------------------------ lists and command words


def test_a_long_list_of_short_lines_passes_and_long_prose_does_not() -> None:
    """Over 400 characters: a list of short picture lines passes, sentences do not."""
    items = [f"🐱 cat {n}: a cat that sits on a mat" for n in range(14)]
    listed = "\n".join(["💡 Here are the cats.", *items])
    assert len(listed) > easyread.MESSAGE_MAX_CHARS
    assert easyread.is_list(listed)
    assert easyread.RULE_LENGTH not in rules(listed, house_style=True)
    prose = "💡 " + " ".join(item[2:] + "." for item in items)
    assert len(prose) > easyread.MESSAGE_MAX_CHARS
    assert not easyread.is_list(prose)
    assert easyread.RULE_LENGTH in rules(prose)


def test_a_list_is_still_measured_by_its_lines() -> None:
    """Too many lines, or one line too long for the phone, is reported."""
    too_many = "\n".join(["💡 Cats."] + [f"🐱 cat {n} on a mat" for n in range(20)])
    assert easyread.RULE_LENGTH in rules(too_many)
    long_line = "🐱 " + "a cat that sits on the mat " * 2
    wide = "\n".join(["💡 Cats."] + ["🐱 a cat on a mat, at home"] * 14 + [long_line])
    assert len(wide) > easyread.MESSAGE_MAX_CHARS
    assert easyread.RULE_LENGTH in rules(wide)
    assert easyread.RULE_LENGTH in rules("💡 Cats.\nNo picture here " * 30)


def test_command_words_are_not_jargon_but_the_word_still_is() -> None:
    """ "my data" is what a member types; "your data" is still jargon."""
    assert easyread.RULE_JARGON not in rules("📋 Type my data to see what I keep.")
    assert easyread.RULE_JARGON in rules("📋 Here is your data.")


def test_help_lists_every_word_a_member_can_use() -> None:
    """Each command the engine knows, and each word coming in this release, is in the help lists."""
    from bot.engine import COMMAND_WORDS

    help_text = (_messages()["help.text"] + "\n" + _messages()["help.more"]).lower()
    by_command: dict[str, list[str]] = {}
    for word, command in COMMAND_WORDS.items():
        by_command.setdefault(command, []).append(word)
    missing = [c for c, ws in by_command.items() if not any(w in help_text for w in ws)]
    assert missing == [], f"help.text does not name {missing}"
    coming = ["/settings", "read to me", "fewer pictures", "i can also", "ask staff"]
    assert [w for w in coming if w not in help_text] == []
    assert easyread.is_list(_messages()["help.text"])
    assert easyread.is_list(_messages()["help.more"])


def test_a_topic_title_at_the_start_is_the_picture() -> None:
    """{topic} first counts as the picture (every title starts with one); a later one adds one."""
    assert rules("{topic}: we have finished this topic.", house_style=True) == set()
    assert easyread.RULE_EMOJI in rules("We have finished {topic} now.", house_style=True)
    assert easyread.RULE_PICTURES_SCATTERED in rules("{topic}: done 🎉.", house_style=True)
    messages = _messages()
    for flow in _topic_flows():
        title = messages[str(flow["title"])]
        assert easyread.pictures(title) and title.startswith(easyread.pictures(title)[0]), title


def test_no_cheering_after_each_topic_or_answer() -> None:
    """Adult tone: no "Great" or "!" in what is said after a topic, an answer or a choice."""
    messages = _messages()
    for key in ("topic.done", "learn.saved", "nudge.yes", "nudges.turned_on", "all.done"):
        text = messages[key]
        assert "!" not in text and "great" not in text.lower(), key
