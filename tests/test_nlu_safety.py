"""The safety net notices danger in member words and leaves everyday talk alone."""

from __future__ import annotations

import pytest

from bot.nlu.safety import detect_distress, distress_reason

DANGER = [
    # fear
    "i am scared",
    "im so scared",
    "I'm SCARED!!!",
    "i feel scard at home",
    "i am really frightend of him",
    "terrifed to go out",
    "i feel afraid",
    "scaaaared",
    "he scares me",
    "i am afraid to go home",
    "i am afraid of my boyfriend",
    "i keep having panic attacks",
    # harm / someone hurting me
    "someone is hurting me",
    "he hurts me",
    "my boyfriend hit me",
    "she hits me when i am late",
    "my flatmate keeps pushing me",
    "they kicked me",
    "he beat me up",
    "he threatened me",
    "they said they would kill me",
    "he said he would hurt me",
    "a man touched me",
    "he touches my private parts",
    "he wants me to send nudes",
    "my carer shouts at me all the time",
    "they force me to do things",
    "they lock me in my room",
    "he will not let me out",
    "some1 is hurtin me",
    "sum1 hurt me",
    "my brother hit me again",
    "i got attacked on the bus",
    "i was mugged",
    # abuse
    "i am being abused",
    "my uncle abused me",
    "that is abuse",
    "i think its abbuse",
    "he raped me",
    "i am being harrassed at work",
    # bullying
    "they bully me",
    "i am getting bullied at college",
    "bulling at the day centre",
    "ppl r bullyin me",
    "they call me names",
    "they laugh at me on the bus",
    "the lads pick on me",
    "they make fun of me",
    "someone told me to kill yourself",
    # money taken / mate crime
    "my mate takes my money",
    "my m8 takes my munny",
    "they took my money",
    "took my money",
    "someone stole my bank card",
    "he nicked my phone",
    "my friend has my bank card and pin",
    "he keeps taking my benefits",
    "my money keeps going missing",
    "they only come round when i have money",
    "my friend makes me buy him things",
    "they make me pay for everything",
    "he asks me for money all the time",
    "she borrowed money and never pays me back",
    "i got scammed",
    "i have to give them money every week",
    "they will not leave my flat",
    "they have taken over my flat",
    "he is only my friend when i buy him drinks",
    "they say i owe them",
    "they only come round when i get paid",
    "my friend makes me get money out for him",
    "people are staying at my flat and wont leave",
    "they use my flat for drugs",
    "i gave my pin to a man",
    "my mate borrows money and never gives it back",
    "a man is outside my flat",
    "someone is waiting outside for me",
    "he asked me to send photos of my body",
    "i am being used",
    # feeling unsafe
    "i do not feel safe",
    "i dont feel safe",
    "i don't feel safe at home",
    "not safe",
    "i feel unsafe",
    "i'm in danger",
    "someone is following me",
    "someone help me",
    "it is an emergency",
    "call the police",
    # self-harm
    "i cut myself",
    "i want to cut my wrists",
    "i hurt myself again",
    "i keep harming myself",
    "i self harm",
    "self-harm",
    "i want to kill myself",
    "kms",
    "i am going to take all my tablets",
    "i took too many pills",
    "i think about suicide",
    "feeling suicidal",
    "i want to end it all",
    "sucide",
    # wanting to die
    "i want to die",
    "i wanna die",
    "i want 2 die",
    "wana die",
    "i wish i was dead",
    "i do not want to live any more",
    "i dont want to be here anymore",
    "everyone would be better off without me",
    "there is no point living",
    "i cant go on",
    "i can't take it anymore",
    "i hate my life",
    "I HATE MYSELF",
    "kill me now",
    "i hurt my arms on purpose",
    "i have pills and i want to take them all",
    "i wish i was not alive",
    "i want to go to sleep and not wake up",
    "nobody would miss me",
    "nobody would care if i died",
]

EVERYDAY = [
    "i cut the grass",
    "i cut the grass for my neighbour",
    "i kill time playing games",
    "i cut my hair",
    "i cut up the veg for tea",
    "my feet are killing me",
    "yes",
    "yeh",
    "no",
    "dunno",
    "i make tea for everyone",
    "i does the cookin for my mum",
    "i help my friend with her shopping",
    "i look after my cat",
    "i take my tablets every morning",
    "i take my money to the bank",
    "i spend my money on games",
    "i use my phone a lot",
    "i have my own bank card",
    "i shared my lunch with my friend",
    "i scored a goal at football",
    "i was amused by the film",
    "i groom the dog every week",
    "my dad picks me up from work",
    "my brother beat me at chess",
    "i am not scared of cooking",
    "i am afraid i do not know",
    "i'm afraid i can't come today",
    "hit me up later",
    "i am dying to see the new film",
    "that cake is to die for",
    "i want to dye my hair",
    "i like playing football",
    "i go to the gym",
    "i lock the door at night",
    "i fixed my bike",
    "i want to learn to cook",
    "i like films",
    "i helped my mate move house",
    "i feel happy today",
    "thank you",
    "i like bullet journals",
    "hello",
    "i watch crime shows on telly",
    "i lend my mate a hand with his garden",
    "i ended the game early",
    "i want to finish it tomorrow",
    "i need help with the buttons",
    "i am good at sharing",
    "my friends are staying at my flat this weekend",
    "i did not wake up on time",
    "i used to be a cleaner",
    "my mate gave me my card back",
    "i wait outside the shop for my mum",
]


@pytest.mark.parametrize("text", DANGER)
def test_danger_is_noticed(text: str) -> None:
    """Every sentence that suggests danger is flagged."""
    assert detect_distress(text), text


@pytest.mark.parametrize("text", EVERYDAY)
def test_everyday_talk_is_left_alone(text: str) -> None:
    """Ordinary talk about daily life does not raise an alarm."""
    assert not detect_distress(text), (text, distress_reason(text))


def test_reason_names_the_kind_of_danger() -> None:
    """The reason says what kind of danger was noticed (for staff alerts)."""
    assert distress_reason("my mate takes my money") == "money"
    assert distress_reason("i want to die") == "want_to_die"
    assert distress_reason("i like tea") is None


@pytest.mark.parametrize("text", ["", "   ", "👍", "???", "a" * 5000])
def test_odd_input_never_raises(text: str) -> None:
    """Empty, emoji-only or very long input gives a plain answer."""
    assert detect_distress(text) is False
