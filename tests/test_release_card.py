"""The release's dataset card is made with huggingface_hub's DatasetCard/DatasetCardData and
checked; croissant.json is made with mlcroissant's own classes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fictional_knowledge.models import CONFIG_NAMES, BuildConfig
from fictional_knowledge.release.core import make_release
from fictional_knowledge.release.card import check_card, make_card


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("card")
    return make_release("v0.0.2", BuildConfig(seed=5, entities=20), releases_dir=root / "releases",
                        data_out=root / "builds" / "v0.0.2", hub_repo="alice/fk", released="2025-02-03")


def test_card_is_a_valid_dataset_card(release):
    from huggingface_hub import DatasetCard, DatasetCardData

    rel, _ = release
    text = (rel / "README.md").read_text()
    card = DatasetCard(text)
    assert isinstance(card.data, DatasetCardData)
    assert card.data.license == "cc-by-4.0" and card.data.pretty_name == "Fictional Knowledge v0.0.2"
    assert [c["config_name"] for c in card.data.configs] == list(CONFIG_NAMES)
    assert [c["config_name"] for c in card.data.dataset_info] == list(CONFIG_NAMES)
    assert card.text.lstrip().startswith("# Fictional Knowledge v0.0.2")
    check_card(text)  # parses back and lists every config


def test_check_card_refuses_a_card_missing_a_config(release):
    from huggingface_hub import DatasetCard

    rel, _ = release
    card = DatasetCard((rel / "README.md").read_text())
    meta = card.data.to_dict()
    meta["configs"] = [c for c in meta["configs"] if c["config_name"] != "qa"]
    with pytest.raises(ValueError, match="configs lists"):
        make_card(meta, "body")
    meta["configs"] = [{**c, "data_files": [{"split": "test", "path": "x"}]} for c in card.data.to_dict()["configs"]]
    with pytest.raises(ValueError, match="one 'train' split"):
        make_card(meta, "body")


def test_croissant_comes_from_mlcroissant_classes(release):
    import mlcroissant as mlc

    rel, data = release
    meta = json.loads((rel / "croissant.json").read_text())
    assert meta["conformsTo"] == "http://mlcommons.org/croissant/1.1"
    assert [r["@id"] for r in meta["recordSet"]] == list(CONFIG_NAMES)
    # mlcroissant reads back exactly what it wrote
    again = mlc.Metadata.from_json(mlc.Context(), meta).to_json()
    assert again == meta
