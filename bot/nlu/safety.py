"""Phrase-based safety net: notices messages that suggest danger, harm or crisis.

It runs on every member message before any other understanding, so it must be
fast, dependable and generous: for real danger we prefer a false alarm (staff
read it and move on) over a missed cry for help. It copes with capitals,
punctuation, repeated letters, common misspellings and text-speak, and it
leaves everyday talk alone ("i cut the grass", "i kill time playing games").
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

__all__ = ["detect_distress", "distress_reason", "normalise"]

# ----------------------------------------------------------------- normalising

#: Whole-word text-speak and spelling fixes, applied after lowercasing.
_WORD_FIXES: dict[str, str] = {
    "u": "you",
    "ya": "you",
    "ur": "your",
    "r": "are",
    "im": "i am",
    "ive": "i have",
    "dont": "do not",
    "dnt": "do not",
    "doesnt": "does not",
    "didnt": "did not",
    "cant": "can not",
    "cannot": "can not",
    "carnt": "can not",
    "wont": "will not",
    "wouldnt": "would not",
    "isnt": "is not",
    "couldnt": "could not",
    "shouldnt": "should not",
    "havent": "have not",
    "hasnt": "has not",
    "aint": "is not",
    "arent": "are not",
    "wasnt": "was not",
    "hes": "he is",
    "shes": "she is",
    "theyre": "they are",
    "thay": "they",
    "dey": "they",
    "der": "they",
    "wanna": "want to",
    "wana": "want to",
    "wan": "want to",
    "wnt": "want",
    "gonna": "going to",
    "gona": "going to",
    "gunna": "going to",
    "gotta": "got to",
    "2": "to",
    "4": "for",
    "ppl": "people",
    "pple": "people",
    "sum1": "someone",
    "some1": "someone",
    "sumone": "someone",
    "sumbody": "somebody",
    "ne1": "anyone",
    "no1": "no one",
    "noone": "no one",
    "nobodys": "nobody is",
    "pls": "please",
    "hlp": "help",
    "halp": "help",
    "plz": "please",
    "plez": "please",
    "m8": "mate",
    "m8s": "mates",
    "mi": "my",
    "mah": "my",
    "munny": "money",
    "mony": "money",
    "muney": "money",
    "monies": "money",
    "dosh": "money",
    "cash": "money",
    "scard": "scared",
    "skared": "scared",
    "scaird": "scared",
    "scaired": "scared",
    "scaerd": "scared",
    "scarred": "scared",
    "skeered": "scared",
    "frighten": "frightened",
    "frightend": "frightened",
    "fritened": "frightened",
    "frited": "frightened",
    "frighted": "frightened",
    "freightened": "frightened",
    "afriad": "afraid",
    "afaid": "afraid",
    "afrade": "afraid",
    "terified": "terrified",
    "terrifed": "terrified",
    "terrfied": "terrified",
    "hurted": "hurt",
    "hert": "hurt",
    "hurtin": "hurting",
    "hurtting": "hurting",
    "hitted": "hit",
    "hittin": "hitting",
    "hiting": "hitting",
    "kickin": "kicking",
    "bulling": "bullying",
    "bulying": "bullying",
    "bullyin": "bullying",
    "bullyed": "bullied",
    "bulied": "bullied",
    "bullie": "bully",
    "buly": "bully",
    "abuce": "abuse",
    "abuze": "abuse",
    "abbuse": "abuse",
    "abussed": "abused",
    "abuced": "abused",
    "abusd": "abused",
    "stoled": "stole",
    "stolen": "stole",
    "stealin": "stealing",
    "robd": "robbed",
    "robed": "robbed",
    "nicked": "stole",
    "pinched": "stole",
    "sucide": "suicide",
    "suicde": "suicide",
    "suiside": "suicide",
    "suicid": "suicide",
    "sewerslide": "suicide",
    "sucidal": "suicidal",
    "suicidial": "suicidal",
    "myslef": "myself",
    "myslf": "myself",
    "mysef": "myself",
    "mysel": "myself",
    "meself": "myself",
    "miself": "myself",
    "maself": "myself",
    "muself": "myself",
    "usafe": "unsafe",
    "unsave": "unsafe",
    "saf": "safe",
    "saif": "safe",
    "kil": "kill",
    "kms": "kill myself",
    "kys": "kill yourself",
    "unalive": "kill",
    "ded": "dead",
    "dieing": "die",
    "threatend": "threatened",
    "threatned": "threatened",
    "threathened": "threatened",
    "theatened": "threatened",
    "atacked": "attacked",
    "attcked": "attacked",
    "harrassed": "harassed",
    "harrased": "harassed",
    "harased": "harassed",
    "harrass": "harass",
    "tuch": "touch",
    "tuched": "touched",
    "toches": "touches",
    "anymore": "any more",
    "nomore": "no more",
    "wiv": "with",
    "wid": "with",
    "coz": "because",
    "cos": "because",
    "cuz": "because",
}

#: Keywords whose one-letter slips we also catch (checked only on unknown words).
_FUZZY_KEYWORDS: tuple[str, ...] = (
    "scared",
    "frightened",
    "terrified",
    "bullied",
    "bullying",
    "abused",
    "abusive",
    "suicide",
    "suicidal",
    "harassed",
    "threatened",
    "myself",
)

#: Real words one slip away from a keyword: never "corrected".
# fmt: off
_REAL_NEAR_WORDS: frozenset[str] = frozenset(
    {
        "cared", "sacred", "scaled", "scare", "scarer", "scares", "scarfed", "scored",
        "seared", "shared", "snared", "soared", "spared", "stared", "scarey", "scaredy",
        "brightened", "terrifies", "bellied", "bulled", "bullies", "sullied", "bellying",
        "bullring", "abased", "abuse", "abuser", "abuses", "amused", "bused", "accused",
        "abusives", "suicides", "harasses", "harasser", "threatener", "treatened",
        "myselfs", "scarred",
    }
)
# fmt: on

_APOSTROPHES = str.maketrans({"’": "", "‘": "", "`": "", "´": "", "'": ""})
_NON_WORD = re.compile(r"[^a-z0-9£]+")
_REPEATS = re.compile(r"(.)\1{2,}")


def _one_slip(a: str, b: str) -> bool:
    """True when ``a`` and ``b`` differ by one edit (insert, delete, change, swap)."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        if len(diff) == 1:
            return True
        return (
            len(diff) == 2
            and diff[1] == diff[0] + 1
            and a[diff[0]] == b[diff[1]]
            and a[diff[1]] == b[diff[0]]
        )
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    return any(long_[:i] + long_[i + 1 :] == short for i in range(len(long_)))


@lru_cache(maxsize=4096)
def _fix_word(word: str) -> str:
    """Map one lowercase word to its canonical spelling."""
    if word in _WORD_FIXES:
        return _WORD_FIXES[word]
    if len(word) >= 5 and word not in _REAL_NEAR_WORDS:
        for keyword in _FUZZY_KEYWORDS:
            if _one_slip(word, keyword):
                return keyword
    return word


def _canonical_words(text: str) -> str:
    """Lowercase, drop accents/apostrophes/punctuation, fix words; space separated."""
    folded = unicodedata.normalize("NFKD", text.lower())
    folded = "".join(ch for ch in folded if not unicodedata.combining(ch))
    folded = folded.translate(_APOSTROPHES)
    folded = _NON_WORD.sub(" ", folded)
    return " ".join(_fix_word(word) for word in folded.split())


def normalise(text: str) -> list[str]:
    """Canonical forms of ``text`` to match against (repeats squeezed two ways)."""
    squeezed_one = _REPEATS.sub(r"\1", text)
    squeezed_two = _REPEATS.sub(r"\1\1", text)
    forms: list[str] = []
    for candidate in (squeezed_two, squeezed_one):
        form = _canonical_words(candidate)
        if form not in forms:
            forms.append(form)
    return forms


# -------------------------------------------------------------------- patterns

#: Someone other than the member (the subject of a harmful act).
_PEOPLE = (
    r"(he|she|they|someone|somebody|people|person|staff|carer|carers|worker|"
    r"mate|mates|friend|friends|boyfriend|girlfriend|partner|husband|wife|neighbour|"
    r"neighbours|brother|sister|dad|mum|uncle|auntie|cousin|man|woman|lad|lads|"
    r"guy|guys|boss|landlord|flatmate|housemate|him|her|them|everyone|kids|gang|girls|boys)"
)
_AUX = (
    r"( (has|have|had|keeps|keep|kept|is|are|was|were|always|still|tried to|try to|"
    r"tries to|wants to|want to|will|going to|used to|keeps on|just|did|does))*"
)
#: Acts done *to me* by someone else.
_HARM_ME = (
    r"(hurt|hurts|hurting|hit|hits|hitting|kick|kicks|kicked|kicking|punch|punches|"
    r"punched|punching|slap|slaps|slapped|slapping|push|pushes|pushed|pushing|shove|"
    r"shoves|shoved|beat|beats|beaten|beating|bash|bashes|bashed|strangle|strangled|"
    r"choke|chokes|choked|choking|grab|grabs|grabbed|grabbing|pinch|pinches|bit|"
    r"bite|bites|spit at|spat at|spits at|burn|burns|burned|burnt|smack|smacks|"
    r"smacked|batter|battered|attack|attacks|attacked|attacking|stab|stabbed|stabs|"
    r"threaten|threatens|threatened|threatening|touch|touches|touched|touching|"
    r"harass|harasses|harassed|harassing|stalk|stalks|stalked|stalking|"
    r"lock|locks|locked|tie|tied|trap|trapped|throw|throws|threw|thrown|"
    r"force|forces|forced|forcing|scare|scares|scaring|frighten|frightens|"
    r"frightening|bully|bullies|bullied|bullying|blackmail|blackmails|blackmailed|"
    r"rob|robs|robbed|mug|mugged|use|uses|used|using|con|conned|scam|scammed|"
    r"hate|hates|abuse|abuses|abused)"
)
#: Acts done to *my* body or belongings by someone else.
_HARM_MY = (
    r"(hurt|hurts|hurting|hit|hits|hitting|kick|kicks|kicked|punch|punches|punched|"
    r"slap|slaps|slapped|burn|burns|burned|burnt|touch|touches|touched|touching|grab|"
    r"grabs|grabbed|bit|bite|bites|stab|stabbed|smack|smacks|smacked|break|breaks|"
    r"broke|broken|smash|smashes|smashed|wreck|wrecks|wrecked)"
)
_TAKE = (
    r"(take|takes|took|taken|taking|steal|steals|stole|stealing|keep|keeps|kept|"
    r"spend|spends|spent|spending|use|uses|used|using|have|has|had|grab|grabs|grabbed|"
    r"snatch|snatches|snatched|borrow|borrows|borrowed|want|wants|control|controls)"
)
_MONEY = (
    r"(money|benefits|wages|pay|savings|card|cards|bank card|debit card|bank|pin|"
    r"pin number|phone|purse|wallet|bag|stuff|things|food|shopping|keys|tablets|"
    r"pills|meds|medication|£\s?\d+|\d+\s?(quid|pounds))"
)

_PATTERNS: dict[str, tuple[str, ...]] = {
    "fear": (
        r"\b(scared|frightened|terrified|petrified|panicking|panic attack|panic attacks)\b",
        r"\b(feel|feeling|felt|so|really|very|too|am|is|are|was|get|getting)\s+afraid\b"
        r"(?!\s+(i|that|it|so|we|you|not)\b)",
        r"\bafraid (of|to go|to be|for my life)\b",
        r"\b(scares|frightens|terrifies) me\b",
        r"\bin fear\b",
        r"\bfear for my\b",
    ),
    "unsafe": (
        r"\bunsafe\b",
        r"\b(not|never|no longer|no more|nowhere) (feel |feeling |felt |feels |is |am )?safe\b",
        r"\bnot (feel|feeling|felt) (very |really |so )?safe\b",
        r"\bin danger\b",
        r"\b(danger|dangerous) (at|in) (home|my (flat|house|home|room))\b",
        r"\b(emergency|sos|999)\b",
        r"\b(call|ring|phone|get|calling|ringing|need|needs) (the |an )?(police|cops|999|"
        r"ambulance)\b",
        r"\b(locked|locks|lock|shut|shuts) me (in|out|up)\b",
        r"\b(will not|does not|do not|did not|would not|not) let me (out|leave|go)\b",
        r"\b(following|followed|follows|stalking|stalked|stalks|watching) me\b",
        r"\b(will not|do not|does not|would not) (leave|go from|get out of) my "
        r"(flat|house|home|room|place)\b",
        r"\b(took|taken|take|takes|taking) over my (flat|house|home|place)\b",
        r"\b(someone|somebody|anyone|anybody) (please )?help( me)?\b",
        r"\bhelp me (someone|somebody|anyone|anybody)\b",
        r"\bhelp help\b",
        r"\b(held|hold|holds|pinned|pin) me down\b",
        r"\b(man|men|someone|somebody|people|person|they|he|she|gang|lads)( is| are| keeps?)? "
        r"(outside|waiting outside|hanging around outside|banging on|kicking) "
        r"(my|for me|the door)",
        r"\b(waiting|standing|hanging around) outside (for me|my)\b",
        r"\b(use|uses|using|used|taken|take|takes) (over )?my (flat|house|home|place)"
        r"( for| to| and|$)",
        r"\bmy (flat|house|home|place)\b.*\b(will not|would not|refuse to|refuses to|"
        r"do not|does not) (leave|go|go home|get out)\b",
    ),
    "harm": (
        rf"\b{_PEOPLE}{_AUX} {_HARM_ME} me\b",
        rf"\b{_PEOPLE}{_AUX} {_HARM_MY} my\b",
        r"\b(hurt|hurts|hurting|hurted) me\b",
        r"\b(hit|hits|hitting|smack|smacks|smacked|slap|slaps|slapped|punch|punches|punched|"
        r"kick|kicks|kicked|push|pushes|pushed|shove|shoved|strangle|strangled|choke|"
        r"choked|grab|grabs|grabbed|pinch|pinches|pinched|bite|bites|bit|spat on|spit on|"
        r"stab|stabbed|batter|battered|threw|throws) me\b(?! up\b| with (a|the) (ball|question|"
        r"joke))",
        r"\bbeat(s|en|ing)? me\b(?! (at|in|to|by|on|with)\b)",
        r"\bbeat(s|en|ing)? me up\b",
        r"\b(attacked|assaulted|mugged|stabbed|beaten up|beat up|jumped|battered) (me|by)\b",
        r"\b(i|we) (was|were|got|have been|been|get) (attacked|assaulted|mugged|stabbed|"
        r"beaten|battered|hurt|hit|kicked|punched|threatened|jumped|robbed|raped|touched)\b",
        r"\b(kill|kills|murder|murders|stab|shoot) (me|you|him|her|them|someone)\b",
        r"\b(going to|want to|wants to|will|tried to|try to|threatened to|threatens to|"
        r"said he would|said she would|said they would) (kill|hurt|hit|beat|stab|get) "
        r"(me|you|him|her|them)\b",
        r"\b(threat|threats|threaten|threatens|threatened|threatening)\b",
        r"\b(violence|violent)\b",
        r"\b(touch|touches|touched|touching) me\b",
        r"\b(touch|touches|touched|touching) my (private|privates|bum|body|chest|boobs|"
        r"breasts|willy|bits|legs|leg)\b",
        r"\b(nudes|naked (pictures|pics|photos)|rude (pictures|pics|photos|messages|texts)|"
        r"dirty (pictures|pics|photos|messages|texts)|sexting)\b",
        r"\b(shout|shouts|shouted|shouting|yell|yells|yelled|yelling|scream|screams|"
        r"screamed|screaming|swear|swears|swore|swearing) at me\b",
        r"\b(force|forces|forced|forcing) me\b",
        r"\b(being|been|getting|get) used\b",
        r"\bsend (him|her|them|photos|pictures|pics|videos|nudes)\b.*\b(of my body|"
        r"of me naked|naked|my private|my body)\b",
        r"\b(make|makes|made|making) me (do (things|stuff|it|what|bad|sex)|have sex|"
        r"take (drugs|pills)|drink|steal|sell)\b",
        r"\bagainst my will\b",
        r"\bblackmail",
    ),
    "abuse": (
        r"\b(abuse|abused|abusing|abusive|abuser|abusers)\b",
        r"\b(rape|raped|raping|rapist|molest|molested|molesting)\b",
        r"\b(sexual assault|sexually assaulted|assault|assaulted|domestic violence)\b",
        r"\b(exploit|exploited|exploiting|exploitation|trafficked|trafficking)\b",
        r"\b(harass|harassed|harassing|harassment)\b",
        r"\b(neglect|neglected|neglecting) me\b",
        r"\b(grooming|groomed) (me|by)\b",
    ),
    "bullying": (
        r"\b(bully|bullies|bullied|bullying|bullys)\b(?! (breed|dog|dogs|xl))",
        r"\b(pick|picks|picked|picking) on me\b",
        r"\b(call|calls|called|calling) me (names|horrible|nasty|stupid|thick|a retard|"
        r"retard|spastic|spaz|ugly|fat|a freak|freak|weirdo|a weirdo|mong)\b",
        r"\b(laugh|laughs|laughed|laughing|mock|mocks|mocked|mocking) at me\b",
        r"\b(make|makes|made|making) fun of me\b",
        r"\b(mock|mocks|mocked|mocking|tease|teases|teased|teasing) me\b",
        r"\b(leave|leaves|left|leaving) me out (on purpose|all the time|every time|"
        r"of everything)\b",
        r"\b(nasty|horrible|mean|cruel) (to me|messages|comments|texts)\b",
        r"\bkill yourself\b",
    ),
    "money": (
        rf"\b{_PEOPLE}{_AUX} {_TAKE} (all )?(of )?my {_MONEY}\b",
        rf"^(keeps? |always )?{_TAKE} (all )?(of )?my {_MONEY}\b",
        rf"\b(took|taken|takes|taking|snatched|grabbed|stole|steals|stealing) (all )?(of )?"
        rf"my {_MONEY}\b",
        r"\b(keeps|keep|kept|always) (taking|stealing|using|spending|borrowing|having) my\b",
        r"\b(steal|steals|stole|stealing|rob|robs|robbed|robbing|mug|mugs|mugged|"
        r"scam|scams|scammed|con|cons|conned|fleece|fleeced|swindle|swindled|diddle|"
        r"diddled|rip|ripped|ripping) (me|from me|off me|my)\b",
        r"\b(robbed|scammed|conned|fleeced|swindled|ripped off)\b",
        r"\b(my )?(money|benefits|wages|savings|card|pin|purse|wallet)( has| have)? "
        r"(gone missing|been taken|went missing|goes missing|is missing|keeps going missing|"
        r"keeps disappearing|disappears|disappeared|been stole|got stole|was stole)\b",
        r"\b(ask|asks|asked|asking|beg|begs|begged|begging|pester|pesters|pestering) me "
        r"(for )?(my )?(money|benefits|bank card|card|pin|pin number|£\s?\d+|lend|to lend|"
        r"to borrow|loans?)\b",
        r"\b(want|wants|wanted|after|only after|only wants|only want) my (money|benefits|"
        r"card|pin|bank card|wages|savings)\b",
        r"\b(make|makes|made|making|force|forces|forced) me (pay|buy|give|lend|hand over|"
        r"withdraw|take out|transfer|send money)\b",
        r"\bhave to (pay|give|lend|hand over) (him|her|them|my mate|my mates|my friend|"
        r"my friends|he|she|they) (money|my|£|all|cash|\d)",
        r"\bhave to (pay|buy) for (him|her|them|everything|everyone|all of them)\b",
        r"\bgive (him|her|them|my mate|my mates|my friend|my friends) (all )?(my )?"
        r"(money|benefits|card|pin|wages|£\s?\d+)\b",
        r"\b(never|not|does not|do not|did not|will not|would not|refuses to|refuse to) "
        r"(pay|pays|paid|give|gives|gave) me (it |the money |my money )?back\b",
        r"\b(never|not|will not|does not) (pay|pays|paid) (it |the money )?back\b",
        r"\bonly (my )?(friend|mate|mates|friends|likes me|like me|comes round|come round|"
        r"comes over|come over|visits|talks to me|talk to me|nice to me)[a-z ]{0,30}"
        r"(money|pay|benefits|buy|card)\b",
        r"\b(say|says|said|tell|tells|told) (me )?i owe\b",
        r"\b(owe|owes|owed) (them|him|her|people) money\b",
        r"\bi owe money\b",
        r"\bin debt\b",
        r"\b(make|makes|made|making|force|forces|forced) me (get|take|draw) (money|cash|"
        r"my money)( out)?\b",
        r"\b(gave|give|given|told|tell|tells) (\w+ ){0,3}my (pin|pin number|bank card|"
        r"card details|password)\b",
        r"\b(never|not|will not|does not|did not) (gives?|gave|pays?|paid) (it|the money|them|"
        r"my money|my card|my stuff) back\b",
        r"\bonly (come|comes|came|visit|visits|ring|rings|text|texts|talk|talks)\b"
        r"[a-z ]{0,30}\b(paid|pay day|payday|benefits|money|get my money)\b",
    ),
    "self_harm": (
        r"\b(cut|cuts|cutting|hurt|hurts|hurting|harm|harms|harming|burn|burns|burning|"
        r"burnt|burned|scratch|scratching|starve|starving|punish|punishing|hit|hitting|"
        r"kill|killing|hang|hanging|poison|poisoning|stab|stabbing) myself\b",
        r"\b(cut|cuts|cutting) my (wrist|wrists|arm|arms|leg|legs|skin|thigh|thighs|self)\b",
        r"\bself ?harm",
        r"\b(overdose|overdosed|overdosing|od)\b",
        r"\b(take|taking|took|swallow|swallowed|swallowing) (all|all of|too many|the whole|"
        r"a whole box of|a bottle of|a packet of|all my) ?(my |the )?(pills|tablets|meds|"
        r"medication|medicine|paracetamol)\b",
        r"\b(suicide|suicidal)\b",
        r"\bjump (off|from|in front of) (a|the) (bridge|building|roof|train|cliff|car)\b",
        r"\b(end|ending) (it all|my life|everything|things|my own life)\b",
        r"\bfinish (it all|my life|myself off)\b",
        r"\b(hurt|hurts|cut|cuts|burn|burns|burnt|hit|scratch|scratched|bite|bit|bang|"
        r"banged|punch|punched)\b[a-z ]{0,25}\bon purpose\b",
        r"\b(pills|tablets|meds|medication|paracetamol)\b.*\b(take|swallow|have) "
        r"(them|it|the lot) all\b",
        r"\b(pills|tablets|meds|medication|paracetamol)\b.*\btake all of them\b",
    ),
    "want_to_die": (
        r"\b(want|wants|wanted|wanting|would like|wish|need) to (die|be dead|dead|not be here|"
        r"disappear|not exist|not wake up|go to sleep forever|sleep forever)\b",
        r"\b(i|i am|i will|going to) (die|dying)\b(?! (of|laughing|for|to)\b)",
        r"\bwish (i|i was|i were|i had) (was |were )?(dead|never born|not born|not here|gone)\b",
        r"\bbetter off (dead|without me|gone)\b",
        r"\b(do not|not|never) (want|wanna|wish) to (live|be alive|be here|wake up|exist)\b",
        r"\bno (point|reason) (in )?(living|to live|being alive|going on|to go on|in life|"
        r"to be here)\b",
        r"\b(can not|could not) (go on|carry on|cope|do this any more|take (it|this) "
        r"any more|live like this)\b",
        r"\b(give|giving|given|gave) up on (life|living|everything|myself)\b",
        r"\b(hate|hates) (my life|myself|being alive)\b",
        r"\blife is not worth\b",
        r"\bnot worth living\b",
        r"\bkill me\b(?! (with|at))",
        r"\b(and|to|just|never) (not|never) wake up\b",
        r"\bnever wake up\b",
        r"\b(nobody|no one|noone|no body) (would|will|would even|will even) (miss|care about|"
        r"notice) me\b",
        r"\bif i (died|was dead|were dead|was gone|were gone|killed myself)\b",
        r"\bwish (i|i was|i were) not (alive|here|born)\b",
    ),
}

_COMPILED: dict[str, tuple[re.Pattern[str], ...]] = {
    name: tuple(re.compile(pattern) for pattern in patterns) for name, patterns in _PATTERNS.items()
}

#: Phrases that look alarming but are everyday talk; removed before matching.
_EVERYDAY = re.compile(
    r"\b(kill(ing|ed|s)? (time|the time|an hour|a few hours|the boredom)|"
    r"(cut|cuts|cutting) (the |my |his |her |their |our |some |up |up the )?(grass|hair|hedge|"
    r"lawn|nails|bread|veg|vegetables|cake|paper|onions?|carrots?|potatoes|wood|fringe|"
    r"toenails|fingernails|costs|back|down|finger|meat|pizza|sandwich(es)?|fruit|apples?|"
    r"coupons|out)|"
    r"(my|your|his|her|the|this|it) ?(feet|legs|back|head|knees|knee|tummy|belly|arm|arms|"
    r"heat|wait|suspense)? (are|is) killing me|"
    r"(scared|frightened|afraid|terrified) of (spiders|heights|flying|clowns|snakes|"
    r"the dentist|needles|wasps|mice|rats)|"
    r"(not|never|no longer|nothing to be|was not|am not|is not) (scared|frightened|afraid|"
    r"terrified)|"
    r"hit (me )?up|hit the (gym|shops|road|sack|hay|bar|town|pub|ball|target|button|jackpot)|"
    r"dying (to|for|of laughter|laughing)|to die for|"
    r"(beat|beats|beaten) (me|us|them|him|her) (at|in) [a-z]+|"
    r"(groom|grooms|grooming|groomed) (the|my|his|her|a) (dog|dogs|cat|cats|horse|horses|"
    r"pony|ponies|pet|pets|rabbit|hair|beard)|"
    r"follow(s|ed|ing)? me (on|back)|"
    r"pick(s|ed|ing)? me up|"
    r"lock(s|ed|ing)? (the|my) (door|doors)|"
    r"(the|a|my|our) (safe|emergency) (word|exit|number|contact)|"
    r"i (have |had |always |usually |often |sometimes |just |then )?(take|took|taken|"
    r"am taking|keep|use|spend|have|grab|grabbed|grabs) my)\b"
)


@lru_cache(maxsize=1024)
def distress_reason(text: str) -> str | None:
    """The kind of danger the text suggests (``fear``, ``money``...), or ``None``.

    Cached: the engine and the NLU client both check each message.
    """
    if not text or not text.strip():
        return None
    for form in normalise(text):
        cleaned = _EVERYDAY.sub(" ", form)
        for name, patterns in _COMPILED.items():
            if any(pattern.search(cleaned) for pattern in patterns):
                return name
    return None


def detect_distress(text: str) -> bool:
    """True when the message suggests fear, harm, abuse, exploitation or crisis."""
    return distress_reason(text) is not None
