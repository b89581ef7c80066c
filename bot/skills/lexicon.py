"""Word lists the skill finder relies on (not member-facing text).

Everything here is lower case and compared with the normalised words or their
lemmas. Sets are written as space-separated words to keep them readable.
"""

from __future__ import annotations


def _words(text: str) -> frozenset[str]:
    """A set of the space-separated words in ``text``."""
    return frozenset(text.split())


def _pairs(text: str) -> dict[str, str]:
    """A mapping from lines "word = replacement words" (several per line, ";" between)."""
    out: dict[str, str] = {}
    for item in text.replace("\n", ";").split(";"):
        if "=" in item:
            key, value = item.split("=", 1)
            out[key.strip()] = value.strip()
    return out


#: Words for a person other than the member.
PEOPLE = _words("""
    mum mam mom mother mummy dad father daddy parent brother sister bro sis
    nan nana nanna nanny gran granny grandma grandmother grandad granddad grandpa
    grandfather grandparent grandchild grandson granddaughter son daughter child
    children kid baby niece nephew cousin uncle aunt auntie aunty family relative
    friend mate pal buddy bestie neighbour neighbor flatmate housemate roommate
    partner boyfriend girlfriend husband wife fiance fiancee carer worker staff
    member people person everyone everybody someone somebody anyone anybody other
    others lady man woman gentleman guy girl boy resident tenant colleague visitor
    group team class folk elderly
""")

#: Object pronouns for other people ("i cook for them").
OTHER_PRONOUNS = _words("them him her us")

#: Pets and other animals.
ANIMALS = _words("""
    cat kitten dog puppy pup rabbit bunny hamster guinea pig gerbil mouse rat fish
    goldfish budgie bird parrot tortoise turtle lizard snake horse pony donkey chicken
    hen duck goat sheep pet ferret animal
""")

#: Languages: in a phrase any language matches any other ("speak polish", "speak urdu").
LANGUAGES = _words("""
    polish welsh urdu punjabi bengali arabic somali tigrinya farsi persian kurdish romanian
    spanish french german italian portuguese chinese mandarin cantonese hindi gujarati tamil
    turkish greek russian ukrainian lithuanian latvian czech slovak hungarian bulgarian dutch
    swahili yoruba igbo shona amharic pashto dari tagalog thai vietnamese japanese korean
    gaelic irish cornish albanian serbian croatian
""")

#: Generic phrase words that stand for any word of a class ("help people" finds
#: "help my mum"); specific words ("neighbour", "cat") match only themselves.
GENERIC_WORDS: dict[str, frozenset[str]] = {
    **dict.fromkeys(
        _words("people person someone somebody everyone everybody anyone anybody others"),
        PEOPLE | _words("them him her"),
    ),
    **dict.fromkeys(_words("pet animal"), ANIMALS),
}

#: Classes whose members all stand for each other in phrases.
WORD_CLASSES: tuple[frozenset[str], ...] = (LANGUAGES,)

#: Words a phrase may leave out or the member may add ("walk the dog" finds "walk my dog").
OPTIONAL_WORDS = _words("the a an my your his her our their some of its this")

#: How many extra words may sit between two words of a phrase.
MAX_GAP = 3

#: Words that end a clause: negation and wishes do not reach past them.
CLAUSE_BREAKS = _words(
    "but though although however except whereas because while whilst unless if when then until"
)

#: Characters that end a clause when a token is made only of them.
CLAUSE_PUNCT = frozenset('.,;:!?()[]\n"…—–/')

#: "and" ends a clause only when a new subject follows it ("i cook and i clean").
SUBJECT_WORDS = _words("i we he she they my me it")

#: Words that negate what follows in the clause.
NEGATIONS = _words("""
    not never no nothing nobody neither nor none hate hates hated dislike detest loathe
    rubbish useless terrible awful bad hopeless scared afraid frightened
""")

#: After a negation these words make it positive again ("i do not mind cooking").
NEGATION_UNDO = _words("mind stop miss only just forget problem worries doubt matter")

#: Someone other than the member doing the thing ("she cooks my tea").
OTHER_SUBJECTS = _words("he she they someone somebody")

#: The member themself.
FIRST_PERSON = _words("i we me myself us ourselves")

#: Words said about oneself that make the rest of the clause a wish ("i want to").
WISH_WORDS = _words("want wants wanted wish wishing hope hoping learn learning interested dream")

#: "would like", "could try": a wish only after one of these ("i like cooking" is a habit).
MODAL_WISH = _words("would could might will")

#: The verbs that make a wish after a word of :data:`MODAL_WISH`.
MODAL_WISH_VERBS = _words("like love try enjoy learn start")

#: Words that may sit between "i" and a wish word ("i have always wanted").
WISH_FILLERS = _words("""
    really also still just do am be have always actually definitely quite so very would
    could might will maybe like love to go going get better at how in more need try trying
    start starting able too now soon one day some
""")

#: A clause that opens with one of these is a wish on its own ("learn to swim").
FRAGMENT_WISH_START = _words("learn learning try trying want wanted would hope hoping wish")

#: Words the member may open with before the real answer ("yes i cook").
OPENERS = _words(
    "yes no okay well maybe um umm erm er oh and lol haha hmm so also really perhaps probably"
)

#: Someone asked to help the member learn: "teach me", "show me", "help me".
TEACH_ME = _words("teach show help")

#: Text-speak and common misspellings, mapped to everyday words.
SPELLING = _pairs("""
    u = you; ur = your; r = are; ya = you; yu = you; luv = love; lurv = love; lyk = like
    lik = like; liek = like; lk = like; wanna = want to; wana = want to; gonna = going to
    gunna = going to; gotta = got to; wud = would; wd = would; cud = could; cd = could
    shud = should; wiv = with; wif = with; wid = with; da = the; teh = the; tha = the
    th = the; dat = that; dis = this; ppl = people; peeps = people; ppls = people
    evry1 = everyone; every1 = everyone; evry = every; evryone = everyone
    evrybody = everybody; some1 = someone; sum1 = someone; any1 = anyone; no1 = no one
    2day = today; 2nite = tonight; 2moro = tomorrow; 2morrow = tomorrow; gr8 = great
    m8 = mate; m8s = mates; l8r = later; b4 = before; gud = good; gd = good; afta = after
    aftr = after; bout = about; abt = about; cos = because; coz = because; cuz = because
    bcos = because; bcoz = because; bc = because; tho = though; thru = through
    nite = night; nd = and; n = and; & = and; + = and; wot = what; wat = what; wen = when
    av = have; ave = have; hav = have; lern = learn; lernin = learning; lrn = learn
    ov = of; lil = little; ok = okay; yeh = yes; yeah = yes; ye = yes; yea = yes
    yep = yes; yup = yes; yh = yes; nah = no; nope = no; naw = no; dunno = do not know
    dno = do not know; idk = i do not know; dnt = do not; dont = do not; cnt = can not
    cant = can not; cannot = can not; nevr = never; neva = never; nvr = never
    aint = am not; dint = did not; didnt = did not; wasnt = was not; isnt = is not
    wont = will not; doesnt = does not; dosnt = does not; havent = have not
    couldnt = could not; wouldnt = would not; im = i am; ive = i have; iv = i have
    id = i would
    fone = phone; phon = phone; txt = text; txts = texts; msg = message; msgs = messages
    pic = picture; pics = pictures; piccy = picture; piccies = pictures; vid = video
    vids = videos; puter = computer; comp = computer; footy = football; footie = football
    footbal = football; brekkie = breakfast; sarnie = sandwich; sarnies = sandwiches
    butty = sandwich; butties = sandwiches; veg = vegetables; veggies = vegetables
    bday = birthday; xmas = christmas; telly = television; tv = television
    hols = holiday; skool = school; mam = mum; mom = mum; ma = mum; bruv = brother
    bro = brother; sis = sister; granda = grandad; laff = laugh; larf = laugh
    laffs = laughs; lafs = laughs; larfing = laughing; laffing = laughing
    hover = hoover; hovers = hoovers; hovered = hoovered; hovering = hoovering
    hoverin = hoovering; hoovrin = hoovering; x-box = xbox; ps3 = playstation
    ps4 = playstation; ps5 = playstation; utube = youtube; wi-fi = wifi; buss = bus
""")

#: Numbers used as words in text-speak, only before these words ("4 my mum").
NUMBER_WORDS: dict[str, tuple[str, frozenset[str]]] = {
    "4": ("for", _words("my me the everyone everybody you him her them us all people a our his")),
    "2": ("to", _words("the my me you him her them us see learn go be do make cook work school")),
}

#: Lemmas the lookup table gets wrong for this use (or that must stay whole).
LEMMA_FIXES = _pairs("""
    does = do; doe = do; done = do; doing = do; 's = 's; d = would; 'd = would; ca = can
    wo = will; nt = not; n't = not; 'm = be; m = be; 've = have; ve = have; 'll = will
    ll = will; 're = be; re = be; ai = be; i = i; sat = sit; bored = bored; mates = mate
    better = better; leaves = leaf; people = people; learnt = learn; swam = swim
    sang = sing; drew = draw; grew = grow; rode = ride; knitted = knit; fed = feed
    taught = teach; built = build; wrote = write; spoke = speak; lent = lend; sewed = sew
    sewn = sew; ironing = iron; hoovering = hoover; hoovered = hoover; hoovers = hoover
    washing = wash; cycling = cycle; colouring = colour; coloring = colour
    organised = organise; organized = organise; organize = organise
    organizing = organise; organising = organise; neighbor = neighbour
    neighbors = neighbour; volunteering = volunteer; shopping = shop; pets = pet
    animals = animal; shelves = shelf
    boxing = boxing; fishing = fishing; bowling = bowling; camping = camping
    acting = acting; coaching = coaching; signing = signing; gardening = gardening
    parking = parking; sailing = sailing; building = building; running = running
    feed = feed; dive = dive; putting = put; others = others; meeting = meeting
    gamer = gamer; ceiling = ceiling; rent = rent; lay = lay; laid = lay
    fencing = fencing
""")

#: Everyday words the lemma table lacks; they are never "corrected" as misspellings.
EXTRA_KNOWN = (
    _words("""
    telly tv mum mam nan nana nanna gran granny grandad granddad grandma footy xbox
    playstation ps4 wifi ipad iphone tablet laptop whatsapp facebook youtube tiktok
    instagram snapchat zoom facetime google makaton bsl zumba boccia allotment hoover
    hoovering cuppa brew cuppas sarnie flatmate housemate bestie okay yes no lol haha
    hehe omg thanks thank please hiya hey hello bye karaoke crochet ukulele keyboard
    dominoes jigsaw jigsaws bingo darts snooker pool scrabble uno netball rounders
    skateboard scooter ebay amazon tesco asda aldi lidl sainsburys morrisons greggs
    costa starbucks mcdonalds kfc spag bol lasagne curry chippy takeaway
""")
    | LANGUAGES
)

#: Phrases that use a skill word but are not a skill; they win over shorter matches.
NOT_SKILLS: tuple[str, ...] = (
    "listen to music",
    "listen to the radio",
    "listen to songs",
    "listen to podcasts",
    "watch cooking shows",
    "watch football",
    "watch the football",
    "watch sport",
    "watch dancing",
    "watch people dance",
)
