"""Soundness figures of a build folder (``fkgen stats``): the world-constraint, name, QA and probe
checks of :mod:`fictional_knowledge.generate.soundness`, :mod:`~fictional_knowledge.generate.qa_rules`
and :mod:`~fictional_knowledge.generate.completions`, counted over every row of a build (streamed)."""

from __future__ import annotations

from fictional_knowledge.dataset.io import iter_rows
from fictional_knowledge.generate.completions import BuildForms
from fictional_knowledge.generate.qa_rules import possible, value_bounds, value_kind
from fictional_knowledge.generate.soundness import WorldIndex, name_figures, world_violations


def world_index(build_dir) -> WorldIndex:
    """The world index of a build's entities, refused (``StatsError``) for a build of an older data
    version, whose entities lack attributes the checks read."""
    index = WorldIndex().add_rows(iter_rows(build_dir, "entities"))
    if index.missing:
        from fictional_knowledge import __version__
        from fictional_knowledge.dataset.io import read_manifest
        from fictional_knowledge.dataset.stats import StatsError

        names = sorted(index.missing)
        raise StatsError(f"{build_dir}: its entities lack {len(names)} attribute(s) that this version's soundness "
                         f"checks read ({', '.join(names[:3])}{', ...' if len(names) > 3 else ''}): it was built "
                         f"by fictional-knowledge {read_manifest(build_dir).package_version}, an older data version; "
                         f"rebuild it with {__version__} to measure its soundness (the text figures above do not "
                         f"depend on it)")
    return index


def qa_figures(build_dir, index: WorldIndex | None = None) -> dict:
    """QA soundness of a build: rows with an impossible distractor (see ``value_bounds``), and the
    share of rows with a distractor from the subject's own passage among the rows whose passage
    states a value of the right kind (``value_kind``) other than the answer that is possible."""
    index = world_index(build_dir) if index is None else index
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
    unnamed = memorization = 0
    for p in iter_rows(build_dir, "probes"):
        bad = f.completed_otherwise(p)
        c = counts.setdefault(p["kind"], [0, 0])
        c[0] += 1
        c[1] += bad
        if p["kind"] == "memorization":
            memorization += 1
            unnamed += not f.names_subject(p)
    return {"probes_completed_otherwise": sum(c[1] for c in counts.values()),
            "probes_completed_otherwise_by_kind": {k: c[1] for k, c in sorted(counts.items())},
            "probes": sum(c[0] for c in counts.values()),
            "memorization_probes": memorization, "memorization_probes_unnamed": unnamed}


def passage_figures(build_dir, index: WorldIndex | None = None) -> dict:
    """What passages state and probes test (issue 11's targets):

    - ``focal_share``: per passage, the share of its facts about its focal entity (the subject,
      or the object of a role such as "head of state of"), averaged over passages;
    - ``probed_facts_in_several_passages``: of the facts memorization and semantic probes test,
      the share that more than one passage of the build states;
    - ``compositional_needing_other_passage``: compositional probes with a fact their passage does
      not state (``in_passage`` false);
    - ``compositional_copyable``: compositional probes whose passage states exactly one value of
      the final relation's kind, and that value is the target (copying it answers the probe
      without the hop)."""
    from fictional_knowledge.generate.qa_rules import value_kind

    index = world_index(build_dir) if index is None else index
    facts = {}
    for f in iter_rows(build_dir, "facts"):
        etype = index.entities[f["subject_id"]][0] if f["subject_id"] in index.entities else None
        facts[f["id"]] = (f["subject_id"], f["object_id"], etype, f["relation"], f["object"])
    shares, stated_by, passage_kinds = [], {}, {}
    for p in iter_rows(build_dir, "passages"):
        ids = [fid for fid in p["fact_ids"] if fid in facts]
        if ids:
            shares.append(sum(p["entity_id"] in facts[fid][:2] for fid in ids) / len(ids))
        kinds: dict = {}
        for fid in ids:
            stated_by[fid] = stated_by.get(fid, 0) + 1
            subject, _, etype, relation, obj = facts[fid]
            if etype is not None:
                kinds.setdefault(value_kind(etype, relation), set()).add(obj)
        passage_kinds[p["id"]] = kinds
    probed, comp, other, copyable = set(), 0, 0, 0
    for q in iter_rows(build_dir, "probes"):
        if q["kind"] in ("memorization", "semantic"):
            probed.update(q["fact_ids"])
        elif q["kind"] == "compositional":
            comp += 1
            other += not q["in_passage"]
            last = facts.get(q["fact_ids"][-1]) if q["fact_ids"] else None
            if last is not None and last[2] is not None:
                values = passage_kinds.get(q["passage_id"], {}).get(value_kind(last[2], last[3]), set())
                copyable += values == {q["target"]}
    several = sum(stated_by.get(fid, 0) > 1 for fid in probed)
    return {"focal_share": sum(shares) / len(shares) if shares else None,
            "probed_facts": len(probed), "probed_facts_in_several_passages": several,
            "compositional_probes": comp, "compositional_needing_other_passage": other,
            "compositional_copyable": copyable}


def build_figures(build_dir) -> dict:
    """Every soundness figure of a build folder (``fkgen stats``): world-constraint violations by
    check, invented-name closeness and patterns, QA distractors, and probes whose input another
    true sentence of the world completes."""
    index = world_index(build_dir)
    figures: dict = {"world_violations": {name: len(found) for name, found in world_violations(index).items()}}
    figures.update(name_figures(name for _, name, _ in index.entities.values()))
    figures.update(qa_figures(build_dir, index))
    figures.update(probe_figures(build_dir))
    figures.update(passage_figures(build_dir, index))
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
    if "memorization_probes_unnamed" in figures:
        lines.append(f"| memorization probes whose input does not name its subject (only a pronoun or description) | "
                     f"{figures['memorization_probes_unnamed']:,} of {figures['memorization_probes']:,} |")
    if figures.get("focal_share") is not None:
        lines.append(f"| share of a passage's facts about its focal entity (mean) | {figures['focal_share']:.1%} |")
    if "probed_facts" in figures:
        n = figures["probed_facts"]
        lines.append(f"| probed facts (memorization, semantic) stated in more than one passage | "
                     f"{figures['probed_facts_in_several_passages'] / n if n else 0:.1%} of {n:,} |")
        c = figures["compositional_probes"]
        lines.append(f"| compositional probes needing a fact from another passage | "
                     f"{figures['compositional_needing_other_passage'] / c if c else 0:.1%} of {c:,} |")
        lines.append(f"| compositional probes answerable by copying the passage's only candidate | "
                     f"{figures['compositional_copyable'] / c if c else 0:.1%} of {c:,} |")
    return "\n".join(lines)
