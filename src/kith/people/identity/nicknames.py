"""Common English given-name variants, folded to one canonical form.

Data, not logic: ``canonical("bill") == canonical("william") == "william"``. The table is
deliberately small (the usual diminutives of frequent names); a name not in it is its
own canonical form, so a missing entry only costs the "nickname" comparison level.
"""

from __future__ import annotations

# canonical: variants
_GROUPS: dict[str, tuple[str, ...]] = {
    "abigail": ("abby", "abbie", "gail"),
    "albert": ("al", "bert", "bertie"),
    "alexander": ("alex", "alec", "sandy", "xander", "alexandre", "alejandro", "sasha"),
    "alexandra": ("alexa", "lexi", "sandra", "sasha", "alessandra"),
    "alfred": ("alf", "alfie", "fred"),
    "andrew": ("andy", "drew", "andreas", "andre", "andrea"),
    "angela": ("angie",),
    "anthony": ("tony", "antony", "anton", "antonio"),
    "barbara": ("barb", "babs", "barbie"),
    "benjamin": ("ben", "benny", "benji"),
    "catherine": (
        "cathy",
        "kate",
        "katie",
        "kathy",
        "katherine",
        "kathryn",
        "cat",
        "katharina",
        "caterina",
        "kat",
    ),
    "charles": ("charlie", "chuck", "chas", "carl", "karl", "carlos"),
    "charlotte": ("lottie", "charly"),
    "christina": ("chris", "christine", "tina", "kristina", "kristin", "christy"),
    "christopher": ("chris", "kit", "topher", "cristobal"),
    "daniel": ("dan", "danny", "dani"),
    "david": ("dave", "davey", "davy"),
    "deborah": ("deb", "debbie", "debby", "debra"),
    "donald": ("don", "donnie"),
    "dorothy": ("dot", "dottie", "dora"),
    "edward": ("ed", "eddie", "ted", "teddy", "ned", "eduardo"),
    "elizabeth": (
        "liz",
        "lizzie",
        "beth",
        "betty",
        "eliza",
        "elisa",
        "libby",
        "elsa",
        "elise",
        "isabel",
        "lisa",
        "betsy",
    ),
    "emily": ("em", "emmy", "emilie", "emilia"),
    "eugene": ("gene",),
    "frances": ("fran", "frannie", "francesca"),
    "francis": ("frank", "frankie", "francisco", "franz", "francois"),
    "frederick": ("fred", "freddie", "freddy", "fritz"),
    "gabriel": ("gabe", "gabby"),
    "gregory": ("greg",),
    "harold": ("hal", "harry"),
    "henry": ("hank", "harry", "hal", "heinrich", "henri", "enrique"),
    "jacob": ("jake", "jaco", "jakob"),
    "james": ("jim", "jimmy", "jamie", "jaime", "jem", "diego"),
    "jane": ("janie", "jenny", "jean"),
    "jennifer": ("jen", "jenn", "jenny", "jenni"),
    "jessica": ("jess", "jessie"),
    "john": (
        "jack",
        "johnny",
        "jon",
        "jonny",
        "juan",
        "johann",
        "johannes",
        "hans",
        "ivan",
        "jean",
        "giovanni",
    ),
    "jonathan": ("jon", "jonny", "nathan"),
    "joseph": ("joe", "joey", "jose", "giuseppe", "josef"),
    "joshua": ("josh",),
    "judith": ("judy", "jude"),
    "katherine": ("kate", "katie", "kathy", "kath"),
    "kenneth": ("ken", "kenny"),
    "lawrence": ("larry", "laurie", "laurence", "lorenzo"),
    "leonard": ("leo", "len", "lenny", "leon"),
    "margaret": (
        "maggie",
        "meg",
        "peggy",
        "marge",
        "margie",
        "greta",
        "gretchen",
        "margarita",
        "marguerite",
        "madge",
    ),
    "mary": ("molly", "polly", "mae", "maria", "marie", "mia", "mimi"),
    "matthew": ("matt", "matty", "mateo", "matthias", "mathieu"),
    "michael": ("mike", "mikey", "mick", "mickey", "miguel", "michel", "mikhail", "mich"),
    "nathaniel": ("nate", "nat", "nathan"),
    "nicholas": ("nick", "nicky", "nico", "nicolas", "nikolai", "klaus"),
    "olivia": ("liv", "livvy", "ollie"),
    "patricia": ("pat", "patty", "patsy", "tricia", "trish"),
    "patrick": ("pat", "paddy", "patricio"),
    "peter": ("pete", "pedro", "pierre", "piet", "pietro"),
    "philip": ("phil", "pip", "felipe", "philippe", "phillip"),
    "rebecca": ("becky", "becca", "reba"),
    "richard": ("rick", "ricky", "dick", "rich", "richie", "ricardo"),
    "robert": ("bob", "bobby", "rob", "robbie", "robby", "bert", "roberto"),
    "ronald": ("ron", "ronnie"),
    "samuel": ("sam", "sammy"),
    "samantha": ("sam", "sammie"),
    "sarah": ("sara", "sally", "sadie"),
    "stephen": ("steve", "stevie", "steven", "stefan", "stephan", "esteban", "etienne"),
    "susan": ("sue", "susie", "suzy", "susanne", "suzanne", "susanna"),
    "theodore": ("theo", "ted", "teddy"),
    "thomas": ("tom", "tommy", "thom", "tomas", "tommaso"),
    "timothy": ("tim", "timmy"),
    "victoria": ("vicky", "vicki", "tori"),
    "vincent": ("vince", "vinny", "vincenzo"),
    "walter": ("walt", "wally"),
    "william": (
        "will",
        "bill",
        "billy",
        "willy",
        "willie",
        "liam",
        "wilhelm",
        "guillermo",
        "guillaume",
    ),
    "zachary": ("zach", "zack", "zak"),
}


def _build() -> dict[str, str]:
    table: dict[str, str] = {}
    for canonical, variants in _GROUPS.items():
        table.setdefault(canonical, canonical)
        for variant in variants:
            # A variant shared by two names (chris, pat, sam) keeps its first group:
            # the level then says "nickname of the same name" for one reading of it.
            table.setdefault(variant, canonical)
    return table


NICKNAMES: dict[str, str] = _build()


def canonical(given_name: str) -> str:
    """The canonical form of a cleaned, lower-case given name ("bill" → "william")."""
    return NICKNAMES.get(given_name, given_name)
