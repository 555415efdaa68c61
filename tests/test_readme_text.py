"""The README's "How the text is made": its two passages are real rows of the default build and of
its plain-style twin, and its comparison table is what `fkgen stats` measures on them.

Run ``python tests/test_readme_text.py --write`` after a data change to rewrite the section's
generated blocks in the README (without ``--write`` it prints them)."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from fictional_knowledge.dataset.builder import build
from fictional_knowledge.dataset.io import read_rows
from fictional_knowledge.dataset.stats import measure, read_passages
from fictional_knowledge.models import BuildConfig

README = Path(__file__).resolve().parents[1] / "README.md"
EXAMPLE = "Tonya Egituvowu"  # the entity whose passage the README shows in both styles
#: FK's figures (issue 11, 130 passages) and the targets, as the README's table shows them
FK = {"length": "19.5 (6.0)", "distinct": "0.574 / 0.859", "skeletons": "0.995", "pronouns": "2.18", "opening": "0.008"}
TARGET = {"length": "≥ 16 (sd ≥ 5)", "distinct": "≥ 0.45 / ≥ 0.70", "skeletons": "≥ 0.80", "pronouns": "≥ 2.0",
          "opening": "≤ 0.01"}
LABELS = {"length": "mean sentence length, words (sd)", "distinct": "distinct-2 / distinct-3",
          "skeletons": "distinct sentence skeletons / sentences", "pronouns": "pronouns per 100 words",
          "opening": "consecutive sentences opening with the same two words"}


def _cells(s) -> dict[str, str]:
    return {"length": f"{s.sentence_length_mean:.1f} ({s.sentence_length_sd:.1f})",
            "distinct": f"{s.distinct_2:.3f} / {s.distinct_3:.3f}", "skeletons": f"{s.skeletons_per_sentence:.3f}",
            "pronouns": f"{s.pronouns_per_100_words:.2f}", "opening": f"{s.same_opening_rate:.3f}",
            "words": f"{s.words_per_passage:.0f}", "jaccard": f"{s.paraphrase_bigram_jaccard:.3f}"}


def blocks(root: Path) -> dict[str, str]:
    """The generated parts of the section, from fresh builds under ``root``."""
    out = {}
    stats = {}
    for style in ("prose", "plain"):
        folder = root / style
        build(BuildConfig(seed=0, style=style), folder, workers=1)
        names = {e["id"]: e["name"] for e in read_rows(folder, "entities")}
        out[style] = next(p["text"] for p in read_rows(folder, "passages") if names[p["entity_id"]] == EXAMPLE)
        stats[style] = _cells(measure(read_passages(folder, sample=130, seed=0)))
    rows = ["| metric (130 passages) | FK (GPT-4 written) | `--style plain` | `--style prose` (default) | target |",
            "|---|---|---|---|---|"]
    for key, label in LABELS.items():
        rows.append(f"| {label} | {FK[key]} | {stats['plain'][key]} | {stats['prose'][key]} | {TARGET[key]} |")
    rows.append(f"| words per passage | | {stats['plain']['words']} | {stats['prose']['words']} | |")
    rows.append(f"| paraphrase-passage bigram Jaccard | | {stats['plain']['jaccard']} | {stats['prose']['jaccard']} | ≤ 0.35 |")
    out["table"] = "\n".join(rows)
    return out


def _section() -> str:
    return README.read_text().split("## How the text is made", 1)[1].split("\n## ", 1)[0]


def test_readme_passages_and_table_are_generated(tmp_path):
    section = _section()
    expected = blocks(tmp_path)
    texts = re.findall(r"```text\n(.*?)\n```", section, re.S)
    assert texts[:2] == [expected["prose"], expected["plain"]]
    assert expected["table"] in section


def rewrite(expected: dict[str, str]) -> None:
    """Put ``expected`` (``blocks``) into the README's section: its first two text blocks and the
    table (the lines from the table's header row to its last row)."""
    head, rest = README.read_text().split("## How the text is made", 1)
    section, tail = rest.split("\n## ", 1)
    parts = re.split(r"(```text\n.*?\n```)", section, flags=re.S)
    blocks_at = [i for i, part in enumerate(parts) if part.startswith("```text\n")]
    for i, style in zip(blocks_at[:2], ("prose", "plain")):
        parts[i] = f"```text\n{expected[style]}\n```"
    section = "".join(parts)
    table = re.search(r"^\| metric \(130 passages\).*?(?=\n(?!\|))", section, re.S | re.M)
    section = section[:table.start()] + expected["table"] + section[table.end():]
    README.write_text(head + "## How the text is made" + section + "\n## " + tail)


if __name__ == "__main__":
    import sys

    with tempfile.TemporaryDirectory() as tmp:
        generated = blocks(Path(tmp))
    if "--write" in sys.argv:
        rewrite(generated)
        print(f"rewrote the generated blocks of {README}")
    else:
        for name, text in generated.items():
            print(f"--- {name}\n{text}\n")
