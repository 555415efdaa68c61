"""Word lists. Person first names and occupations come from Faker's vocabularies (sampled with
our own RNG, never through Faker's global-state API); the rest are small curated lists."""

from __future__ import annotations

import re

from faker.providers.job.en_US import Provider as _Jobs
from faker.providers.lorem.en_US import Provider as _Lorem
from faker.providers.person.en_US import Provider as _Person


def _simple(words) -> tuple[str, ...]:
    return tuple(sorted({w for w in words if re.fullmatch(r"[A-Z][a-z]{2,}", w)}))


FIRST_NAMES: tuple[str, ...] = _simple(
    list(_Person.first_names_female) + list(_Person.first_names_male)
)
OCCUPATIONS: tuple[str, ...] = tuple(
    sorted(
        {
            j.lower()
            for j in _Jobs.jobs
            if re.fullmatch(r"[A-Za-z]+( [A-Za-z]+){0,2}", j) and j[0].isupper()
            and not any(w[0].isupper() for w in j.split()[1:])
        }
    )
)
#: Plain English words (Faker's lorem list): used for random word sequences, and never as names.
ENGLISH_WORDS: tuple[str, ...] = tuple(sorted({w for w in _Lorem.word_list if w.isalpha()}))

CONTINENTS = ("Aldoria", "Vesmara", "Quorreth", "Talvany", "Ostrelle", "Meridane", "Pelagon", "Cassadel")
CURRENCY_UNITS = ("crown", "mark", "florin", "thaler", "ducat", "shilling", "sol", "dinar")
ANIMALS = (
    "snow leopard", "red fox", "grey heron", "brown bear", "golden eagle", "river otter", "ibex",
    "lynx", "white stork", "wild boar", "peregrine falcon", "barn owl", "elk", "bison", "hare",
    "kingfisher", "badger", "marten", "crane", "wolf", "sea eagle", "chamois", "beaver", "swan",
)
CITY_INDUSTRIES = (
    "glassmaking", "silk weaving", "shipbuilding", "clockmaking", "salt mining", "wine making",
    "printing", "tanning", "ceramics", "copper smelting", "lace making", "brewing", "fishing",
    "paper milling", "textile dyeing", "bell founding", "cheese making", "shipping", "tea trading",
    "coal mining",
)
#: Organization industries, each with the noun that ends the organization's name.
ORG_KINDS = (
    ("publishing", "Press"), ("shipping", "Lines"), ("software", "Systems"), ("banking", "Bank"),
    ("mining", "Minerals"), ("aviation", "Aeronautics"), ("pharmaceuticals", "Laboratories"),
    ("textiles", "Mills"), ("education", "Academy"), ("broadcasting", "Broadcasting"),
    ("agriculture", "Growers"), ("engineering", "Works"), ("insurance", "Assurance"),
    ("retail", "Stores"), ("energy", "Power"), ("research", "Institute"),
)
GENRES = (
    "historical novel", "poetry collection", "memoir", "detective novel", "stage play",
    "essay collection", "short story collection", "travelogue", "epic poem", "satirical novel",
    "science fiction novel", "biography",
)
WORK_NOUNS = (
    "Chronicles", "Letters", "Variations", "Orchard", "Lantern", "Mirror", "Harvest", "Voyage",
    "Archive", "Garden", "Testament", "Threshold", "Requiem", "Almanac", "Compass",
)
EVENT_NOUNS = ("Festival", "Summit", "Games", "Congress", "Exposition", "Regatta", "Fair", "Symposium")
WATER_FORMS = ("Lake {}", "{} Bay", "{} Sound", "{} Gulf", "{} Sea")
AWARD_FORMS = ("{} Prize", "{} Medal", "{} Award")

#: Words that appear inside entity names besides the invented core word.
NAME_WORDS: tuple[str, ...] = (
    ("River", "The") + tuple(k for _, k in ORG_KINDS) + WORK_NOUNS + EVENT_NOUNS
)

#: Occupations whose work is writing text of a kind other than books (journalism, editing,
#: copywriting, dictionaries, manuals). Listed beside a book's authorship they read as a
#: contradiction ("the lexicographer wrote the detective novel"), so no author holds one
#: (``soundness.author_occupation``); plain "writer" fits any book and is not listed.
OTHER_WRITING_JOBS: frozenset[str] = frozenset(
    j for j in OCCUPATIONS
    if re.search(r"journalist|editor|copywriter|lexicograph|technical author|science writer|^copy$|"
                 r"publishing copy|press sub|editorial", j) and not j.startswith("video ")
)
