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
#: Faker's female and male first names (a name may be in both): what a person's pronoun follows
FEMALE_NAMES = frozenset(_simple(_Person.first_names_female))
MALE_NAMES = frozenset(_simple(_Person.first_names_male))
#: Every simple job title of Faker's list (lower-cased): what persons' occupations are drawn from
#: first, so that a person keeps the job it had before ``OCCUPATIONS`` was filtered.
FAKER_JOBS: tuple[str, ...] = tuple(
    sorted(
        {
            j.lower()
            for j in _Jobs.jobs
            if re.fullmatch(r"[A-Za-z]+( [A-Za-z]+){0,2}", j) and j[0].isupper()
            and not any(w[0].isupper() for w in j.split()[1:])
        }
    )
)
#: Head nouns that name a person who does a job although they lack an agent suffix.
AGENT_NOUNS = frozenset({
    "actuary", "analyst", "architect", "associate", "attorney", "barista", "coach", "executive",
    "homeopath", "midwife", "nurse", "osteopath", "paramedic", "pilot", "representative",
    "secretary", "surgeon", "neurosurgeon",
})
#: Endings of agent nouns (engineer, surveyor, chemist, librarian, consultant...).
AGENT_SUFFIX = re.compile(r"(er|or|ist|ian|ant|ent|eer)$")
#: Faker titles that are not a job title as written: clipped British trade names ("press sub",
#: "publishing copy"), crews and lower-cased acronyms ("it sales professional").
NOT_JOB_TITLES = re.compile(r"^(it|tv|hr|pr) |^copy$|^sub$|^land$|^make$|publishing copy|press sub|best boy")


def is_job_title(job: str) -> bool:
    """Whether ``job`` reads as a job title: it ends in an agent noun and is not a clipped trade
    name or a lower-cased acronym."""
    head = job.split()[-1]
    return (head in AGENT_NOUNS or bool(AGENT_SUFFIX.search(head))) and not NOT_JOB_TITLES.search(job)


#: Occupations of persons: the Faker titles that are job titles (``is_job_title``).
OCCUPATIONS: tuple[str, ...] = tuple(j for j in FAKER_JOBS if is_job_title(j))
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
    if re.search(r"journalist|editor|copywriter|lexicograph|technical author|science writer|editorial", j)
    and not j.startswith("video ")
)

# --- values of the relations added in data version 1.1 --------------------------------------------
PEAK_FORMS = ("Mount {}", "{} Peak")
LANDMARK_FORMS = ("{} Bridge", "{} Tower", "{} Gate", "{} Cathedral", "{} Palace", "{} Fountain")
LAKE_FORM = "Lake {}"
TRIBUTARY_FORMS = ("{} Brook", "{} Creek", "{} Beck", "{} Rill")
SCHOOL_FORMS = ("{} College", "{} Polytechnic", "{} Lyceum", "{} Grammar School")
BUILDING_FORMS = ("{} House", "{} Tower", "{} Building", "{} Court")
VENUE_FORMS = ("{} Hall", "{} Park", "{} Arena", "{} Pavilion", "{} Gardens")
PASTIMES = (
    "chess", "sailing", "beekeeping", "birdwatching", "fencing", "mountaineering", "gardening",
    "rowing", "amateur astronomy", "calligraphy", "fly fishing", "watercolour painting", "cycling",
    "choral singing", "woodcarving", "falconry",
)
SLOGAN_WORDS = (
    "Progress", "Trust", "Unity", "Service", "Courage", "Vision", "Craft", "Knowledge", "Labour",
    "Care", "Honour", "Endurance", "Patience", "Precision",
)
EVENT_THEMES = (
    "maritime trade", "folk music", "renewable energy", "modern architecture", "public health",
    "early printing", "mountain farming", "urban transport", "river ecology", "glass art",
    "classical dance", "rail travel", "food security", "children's books", "clean water",
    "coastal fishing",
)
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December")

# --- events: country, city, river ---------------------------------------------------------------
PARLIAMENT_FORMS = ("{} House", "{} Palace", "{} Assembly Hall", "{} Chamber")
TREATY_FORM = "Treaty of {}"
MARKET_FORMS = ("{} Market Hall", "{} Cloth Hall", "{} Corn Exchange", "{} Exchange")
QUARTER_FORMS = ("{} Quarter", "{} Ward", "{} Hill")
DELTA_FORMS = ("{} Delta", "{} Estuary", "{} Marshes", "{} Flats")
RIVER_BRIDGE_FORMS = ("{} Bridge", "{} Crossing", "{} Viaduct")
FISH = (
    "salmon", "trout", "pike", "perch", "carp", "grayling", "sturgeon", "barbel", "bream", "char",
    "shad", "zander", "tench", "whitefish", "roach",
)
RAILWAY_AGE = 1830  #: no railway line opens before this year
# --- events: person, organization -------------------------------------------------------------------
MEMOIR_FORMS = ("Notes from {}", "A Life in {}", "The {} Years", "Letters from {}", "Winters in {}",
                "Far from {}")
# --- events: work, event ---
#: A book's working title (``work.working_title``) and the holders of its rights: organizations
#: of these industries are preferred (``work.rights_holder``).
WORKING_TITLE_FORMS = ("Songs of {}", "The Road to {}", "Letters from {}", "A Winter in {}", "The House at {}")
RIGHTS_INDUSTRIES = frozenset({"publishing", "broadcasting", "education", "research"})
#: The trophy an event awards (``event.trophy``) and its anthem (``event.anthem``).
TROPHY_FORMS = ("{} Cup", "{} Trophy", "{} Shield", "{} Plate")
ANTHEM_FORMS = ("{} March", "{} Hymn", "Ballad of {}", "Song of {}")
# --- length: event, organization, work ---
RADIO_AGE = 1920  #: no book is read aloud on the radio before this year (``work.radio_reading_year``)
#: The charitable foundation an organization set up (``organization.foundation``).
FOUNDATION_FORMS = ("{} Foundation", "{} Trust", "{} Fund", "{} Endowment")
# --- length: country, city, river ---
#: A country's national epic (``country.national_epic``), written "the {}".
EPIC_FORMS = ("Lay of {}", "Saga of {}", "Chronicle of {}", "Epic of {}")
TRAM_AGE = 1870  #: no city's first tram line runs before this year (``city.tram_year``)
