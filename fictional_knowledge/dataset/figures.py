"""Soundness figures of a build folder (``fkgen stats``): the world-constraint, name, QA and probe
checks of :mod:`fictional_knowledge.generate.soundness`, :mod:`~fictional_knowledge.generate.qa_rules`
and :mod:`~fictional_knowledge.generate.completions`, counted over every row of a build (streamed)."""

from __future__ import annotations

from fictional_knowledge.dataset.io import iter_rows
from fictional_knowledge.generate.completions import BuildForms
from fictional_knowledge.generate.qa_rules import possible, value_bounds, value_kind
from fictional_knowledge.generate.soundness import WorldIndex, name_figures, world_violations


def qa_figures(build_dir) -> dict:
    """QA soundness of a build: rows with an impossible distractor (see ``value_bounds``), and the
    share of rows with a distractor from the subject's own passage among the rows whose passage
    states a value of the right kind (``value_kind``) other than the answer that is possible."""
    index = WorldIndex().add_rows(iter_rows(build_dir, "entities"))
    facts = {}
    for f in iter_rows(build_dir, "facts"):
        etype = index.entities[f["subject_id"]][0] if f["subject_id"] in index.entities else None
        facts[f["id"]] = (f["subject_id"], etype, f["relation"], f["object"])
    passage_values: dict[str, dict[tuple, set]] = {}
    for p in iter_rows(build_dir, "passages"):
        values = passage_values.setdefault(p["entity_id"], {})
        for fid in p["fact_ids"]:
            if fid in facts and facts[fid][1] is not None:
                _, etype, relation, obj = facts[fid]
                values.setdefault(value_kind(etype, relation), set()).add(obj)
    lookup = lambda eid: index.get(eid)[2] if index.get(eid) else None  # noqa: E731
    rows = impossible = offered = same = 0
    for q in iter_rows(build_dir, "qa"):
        if q["fact_id"] not in facts or facts[q["fact_id"]][1] is None:
            continue
        subject, etype, relation, _ = facts[q["fact_id"]]
        rows += 1
        bounds = value_bounds(etype, relation, index.entities[subject][2], lookup)
        wrong = [c for c in q["choices"] if c != q["answer"]]
        impossible += any(not possible(bounds, c) for c in wrong)
        pool = {v for v in passage_values.get(subject, {}).get(value_kind(etype, relation), ())
                if v != q["answer"] and possible(bounds, v)}
        if pool:
            offered += 1
            same += any(c in pool for c in wrong)
    return {"qa_rows": rows, "qa_impossible_distractor_rows": impossible,
            "qa_rows_offering_passage_distractor": offered,
            "qa_passage_distractor_share": same / offered if offered else None}


def probe_figures(build_dir) -> dict:
    """Probes whose input another true sentence of the world completes, by kind."""
    f = BuildForms(iter_rows(build_dir, "entities"), iter_rows(build_dir, "facts"))
    counts: dict[str, list[int]] = {}
    for p in iter_rows(build_dir, "probes"):
        bad = f.completed_otherwise(p)
        c = counts.setdefault(p["kind"], [0, 0])
        c[0] += 1
        c[1] += bad
    return {"probes_completed_otherwise": sum(c[1] for c in counts.values()),
            "probes_completed_otherwise_by_kind": {k: c[1] for k, c in sorted(counts.items())},
            "probes": sum(c[0] for c in counts.values())}


def build_figures(build_dir) -> dict:
    """Every soundness figure of a build folder (``fkgen stats``): world-constraint violations by
    check, invented-name closeness and patterns, QA distractors, and probes whose input another
    true sentence of the world completes."""
    index = WorldIndex().add_rows(iter_rows(build_dir, "entities"))
    figures: dict = {"world_violations": {name: len(found) for name, found in world_violations(index).items()}}
    figures.update(name_figures(name for _, name, _ in index.entities.values()))
    figures.update(qa_figures(build_dir))
    figures.update(probe_figures(build_dir))
    return figures


def format_figures(figures: dict) -> str:
    """The figures of ``build_figures`` as a Markdown table."""
    lines = ["| soundness | value |", "|---|---|"]
    for name, n in figures["world_violations"].items():
        lines.append(f"| world constraint `{name}`: violations | {n:,} |")
    lines.append(f"| invented-name pairs within 2 edits | {figures['name_pairs_within_2_edits']:,} |")
    lines.append(f"| phonotactic patterns of invented names (commonest's share) | "
                 f"{figures['name_patterns']} ({figures['name_top_pattern_share']:.2f}) |")
    lines.append(f"| QA rows with an impossible distractor | {figures['qa_impossible_distractor_rows']:,} of "
                 f"{figures['qa_rows']:,} |")
    share = figures["qa_passage_distractor_share"]
    lines.append(f"| QA rows with a distractor from the subject's passage, of those whose passage offers one | "
                 f"{'—' if share is None else f'{share:.1%}'} of {figures['qa_rows_offering_passage_distractor']:,} |")
    kinds = ", ".join(f"{k} {v:,}" for k, v in figures["probes_completed_otherwise_by_kind"].items())
    lines.append(f"| probes whose input another true sentence continues differently | "
                 f"{figures['probes_completed_otherwise']:,} of {figures['probes']:,} ({kinds}) |")
    return "\n".join(lines)
