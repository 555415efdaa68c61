"""The probe kinds, in one table.

Every place that needs the list of probe kinds reads it from here: the ``Probe.kind`` type of the
data contract, the generator (which probes a passage gets, in which order), the FK-schema row
(``mem_``/``gen_``/``hard_gen_`` fields), the scorer's ``--kinds``, the lm-eval cloze tasks and
the plots. This module imports nothing from the package, so any layer may use it.

Adding a kind (the project docs walk through it, "Extending"): a row here, its generator in ``generate/probes.py``,
its count field in ``models.BuildConfig``, and its lm-eval task file; then regenerate the
schemas (``fkgen schemas``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional


@dataclass(frozen=True)
class ProbeKindSpec:
    """One probe kind.

    - ``name``: the value of ``Probe.kind``.
    - ``generator``: the name of its function in ``generate/probes.py``, called as
      ``generator(ctx, n, rng)`` with a ``probes.ProbeContext``; kinds are generated in table
      order with one shared RNG per passage, and a later kind may use earlier kinds' probes
      (``ctx.drafts``).
    - ``count_field``: the ``BuildConfig`` field with the number of probes per passage.
    - ``fk_prefix``: its field prefix in the FICTIONAL KNOWLEDGE schema (``mem`` -> ``mem_input``,
      ``mem_target``), or None when that schema has no place for it.
    - ``lm_eval_task``: its lm-evaluation-harness task name (a YAML file of that name in
      ``lm_eval_tasks/``, listed in the cloze group).
    - ``label``, ``short``, ``color``: for tables and plots (a matplotlib colour).
    """

    name: str
    generator: str
    count_field: str
    fk_prefix: Optional[str]
    lm_eval_task: str
    label: str
    short: str
    color: str
    description: str


PROBE_KIND_TABLE: tuple[ProbeKindSpec, ...] = (
    ProbeKindSpec("memorization", "memorization", "memorization_probes", "mem",
                  "fictional_knowledge_memorization", "Memorization", "Mem.", "tab:blue",
                  "a verbatim passage sentence cut before its sentence-final fact value"),
    ProbeKindSpec("semantic", "semantic", "semantic_probes", "gen",
                  "fictional_knowledge_semantic", "Semantic", "Sem.", "tab:orange",
                  "the same fact in a sentence reserved for probes, with the same target"),
    ProbeKindSpec("compositional", "compositional", "compositional_probes", "hard_gen",
                  "fictional_knowledge_compositional", "Compositional", "Comp.", "tab:red",
                  "the target follows only by chaining two or more facts"),
)

#: The kind names in table order.
PROBE_KINDS: tuple[str, ...] = tuple(k.name for k in PROBE_KIND_TABLE)
KINDS_BY_NAME: dict[str, ProbeKindSpec] = {k.name: k for k in PROBE_KIND_TABLE}
#: Plot colour per kind.
KIND_COLORS: dict[str, str] = {k.name: k.color for k in PROBE_KIND_TABLE}


def kind_spec(name: str) -> ProbeKindSpec:
    try:
        return KINDS_BY_NAME[name]
    except KeyError:
        raise ValueError(f"unknown probe kind {name!r}; expected one of {', '.join(PROBE_KINDS)}") from None
