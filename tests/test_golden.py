"""A small golden snapshot: a change to generated content shows up here as a readable diff.

After an intended change to the generator, regenerate with ``python tests/test_golden.py`` and
review the diff of tests/golden/seed0.json before committing (and cut a new data version).
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

GOLDEN = Path(__file__).parent / "golden" / "seed0.json"


def snapshot(folder: Path) -> dict:
    from fictional_knowledge.dataset.builder import build
    from fictional_knowledge.dataset.io import read_rows
    from fictional_knowledge.models import BuildConfig

    manifest = build(BuildConfig(seed=0, entities=8, paraphrases=2), folder, workers=1)
    person = next(e for e in read_rows(folder, "entities") if e["type"] == "person")
    passage = next(p for p in read_rows(folder, "passages") if p["entity_id"] == person["id"])
    return {
        "fingerprints": {k: [v.rows, v.fingerprint] for k, v in manifest.configs.items()},
        "entity": person,
        "facts": [f for f in read_rows(folder, "facts") if f["subject_id"] == person["id"]],
        "passage": passage,
        "probes": [[p["kind"], p["input"], p["target"]] for p in read_rows(folder, "probes")
                   if p["passage_id"] == passage["id"]],
        "qa": [q for q in read_rows(folder, "qa") if q["entity_id"] == person["id"]][:2],
        "statements": [s["text"] for s in read_rows(folder, "statements") if s["entity_id"] == person["id"]],
    }


def test_golden_snapshot(tmp_path):
    expected = json.loads(GOLDEN.read_text())
    actual = json.loads(json.dumps(snapshot(tmp_path / "b")))
    for key in ("entity", "facts", "passage", "probes", "qa", "statements", "fingerprints"):
        assert actual[key] == expected[key], f"{key} changed: rerun `python tests/test_golden.py` if intended"


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        GOLDEN.write_text(json.dumps(snapshot(Path(tmp) / "b"), indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {GOLDEN}", file=sys.stderr)
