"""The build's fast paths produce exactly what the slow, obvious code would.

The build writes bundle rows as plain dicts, validates them a chunk at a time and fingerprints
them with ``sorted_row_digest``; these tests pin each shortcut to its reference: the row equals
its record model's ``model_dump()`` (same keys, same order, same values), and the fast digest
equals ``row_digest`` of ``canonical_json``.
"""

from __future__ import annotations

import random

import pytest
from pydantic import ValidationError

from fictional_knowledge.generate.bundle import passage_records, world_records
from fictional_knowledge.dataset.fingerprint import Accumulator, row_digest, sorted_row_digest
from fictional_knowledge.models import RECORD_MODELS, BuildConfig, validate_rows
from fictional_knowledge.generate.templates import load_templates


@pytest.fixture(scope="module")
def rows():
    config = BuildConfig(seed=3, entities=40, paraphrases=3)
    templates = load_templates()
    out: dict[str, list[dict]] = {name: [] for name in RECORD_MODELS}
    for position in range(config.entities):
        parts = world_records(config.seed, position, config, templates)
        parts.update(passage_records(config.seed, position, config, templates))
        for name, batch in parts.items():
            out[name].extend(batch)
    return out


def test_every_config_gets_rows(rows):
    assert all(rows[name] for name in RECORD_MODELS), {k: len(v) for k, v in rows.items()}


def test_rows_equal_their_models_dump_in_sorted_key_order(rows):
    for name, batch in rows.items():
        model = RECORD_MODELS[name]
        for row in batch:
            dumped = model.model_validate(row, strict=True).model_dump()
            assert row == dumped, name
            assert list(row) == sorted(row), name
            for value in row.values():
                if isinstance(value, dict):
                    assert list(value) == sorted(value), name


def test_fast_digest_equals_the_canonical_json_digest(rows):
    for name, batch in rows.items():
        assert [sorted_row_digest(r) for r in batch] == [row_digest(r) for r in batch], name
        assert Accumulator().update_sorted(batch) == Accumulator().update(batch)


@pytest.mark.parametrize("text", ['quote " backslash \\ slash /', "control \x00\x01\x1f\x7f tab\t nl\n cr\r \b \f",
                                  "unicode é ß 北京 \u2028 \u2029 \U0001F600", ""])
def test_fast_digest_escapes_like_json(text):
    row = {"a": text, "b": [text, None, 12, True], "c": {"x": text, "y": -3}}
    assert sorted_row_digest(row) == row_digest(row)


def test_fast_digest_on_random_strings():
    rng = random.Random(0)
    alphabet = [chr(c) for c in range(0, 0x250)] + ["\u201c", "\u2028", "\ud7ff", "\ue000", "\U00010000"]
    for _ in range(300):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))
        assert sorted_row_digest({"k": text}) == row_digest({"k": text})


def test_batch_validation_rejects_a_bad_row_and_names_it(rows):
    probes = [dict(r) for r in rows["probes"][:5]]
    probes[3]["target"] = " padded"
    with pytest.raises(ValidationError, match=r"3\.target"):
        validate_rows("probes", probes)
    facts = [dict(r) for r in rows["facts"][:2]]
    facts[1]["object_id"] = 7  # strict: no coercion of an int to str
    with pytest.raises(ValidationError):
        validate_rows("facts", facts)
    entity = dict(rows["entities"][0], attributes={**rows["entities"][0]["attributes"], "motto": "x"})
    with pytest.raises(ValidationError, match="motto"):
        validate_rows("entities", [entity])
