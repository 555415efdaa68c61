"""The Hugging Face Hub ``eval.yaml`` that makes a dataset repo a *benchmark* with leaderboards.

What the Hub expects, from its documentation "Evaluation Results"
(https://huggingface.co/docs/hub/eval-results, source ``docs/hub/eval-results.md`` in
``huggingface/hub-docs``, section "Eval.yaml specification"; a work-in-progress feature):

- ``eval.yaml`` sits at the root of the dataset repo and is validated at push time; the dataset
  then has to be allow-listed by the Hub team (beta) before it shows the "Benchmark" tag.
- Top-level fields: ``name`` (display name), ``description``, ``evaluation_framework`` and
  ``tasks``. ``evaluation_framework`` is an enumeration the Hub maintains in ``huggingface.js``
  (``packages/tasks/src/eval.ts``); a value outside it is rejected at push time ("Invalid input
  at evaluation_framework"). :data:`EVALUATION_FRAMEWORKS` is a snapshot of that list.
- Each ``tasks[]`` item is one sub-leaderboard: ``id`` (required), optional ``config`` (defaults to
  the dataset's default config) and ``split`` (defaults to ``test``; our builds have one split,
  ``train``, so we always write it).
- With ``evaluation_framework: inspect-ai`` each task also needs ``field_spec`` (``input``,
  ``target``, ``choices``), ``solvers`` and ``scorers``. Inspect AI reads the file in
  ``inspect_ai/_eval/task/hf.py`` (``inspect eval hf/ORG/NAME``): a task accepts exactly the keys
  in :data:`INSPECT_TASK_KEYS`; an integer ``target`` is turned into a choice letter (so
  ``answer_index`` works with the ``multiple_choice`` solver and the ``choice`` scorer).

Models then report scores in their own repo as ``.eval_results/*.yaml`` entries (``dataset.id``,
``dataset.task_id`` = one of our task ids, ``value``); :func:`eval_results_entries` writes those
from a :class:`~fictional_knowledge.evaluate.results.Results`.

**The Hub does not compute what ``fkgen eval`` computes.** lm-evaluation-harness is not in the
Hub's framework list, so the tasks are Inspect AI tasks, and each one generates text and matches it (see :data:`SCORING_DIFFERENCES`). The file's description says so,
and every entry :func:`eval_results_entries` writes is marked *self-reported* with the difference
in its ``notes``: a score from ``fkgen eval`` is never presented as the Inspect task's score.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

from fictional_knowledge.errors import InputError
from fictional_knowledge.models import PROBE_KINDS
from fictional_knowledge.evaluate.results import ProbeKindScore, QAScore, Results

EVALUATION_FRAMEWORKS: tuple[str, ...] = (
    "exgentic", "inspect-ai", "math-arena", "mteb", "olmocr-bench", "harbor", "archipelago",
    "apex-evals", "screenspot-pro", "swe-bench", "swe-bench-pro", "nemo-evaluator", "yc-bench",
    "open-asr-leaderboard", "mdpbench", "parsebench", "video-mme-v2", "claw-eval", "wildclawbench",
)
"""Snapshot of ``EVALUATION_FRAMEWORKS`` in huggingface.js ``packages/tasks/src/eval.ts``. There is
no ``lm-evaluation-harness`` entry, so our tasks are described for Inspect AI."""

REQUIRED_TOP_LEVEL = ("name", "description", "evaluation_framework", "tasks")
INSPECT_REQUIRED_TASK_KEYS = ("id", "field_spec", "solvers", "scorers")
INSPECT_TASK_KEYS = frozenset({"id", "config", "split", "field_spec", "shuffle_choices", "epochs",
                               "epoch_reducer", "solvers", "scorers"})
FIELD_SPEC_KEYS = frozenset({"input", "target", "choices", "input_image"})  # the keys the Hub docs list

# task id -> (config, field_spec, solvers, scorers)
_TASKS: dict[str, tuple[str, dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]] = {
    "probes": ("probes", {"input": "input", "target": "target"},
               [{"name": "generate"}], [{"name": "match", "args": {"location": "begin"}}]),
    "qa_mc": ("qa", {"input": "question", "target": "answer_index", "choices": "choices"},
              [{"name": "multiple_choice"}], [{"name": "choice"}]),
    "qa_generation": ("qa", {"input": "question", "target": "answer"},
                      [{"name": "generate"}], [{"name": "match", "args": {"location": "exact"}}]),
}


#: task id -> how the Inspect AI task scores, against how ``fkgen eval`` scores the same rows
SCORING_DIFFERENCES: dict[str, str] = {
    "probes": ("Inspect generates from the input and counts an output that begins with the target "
               "(case-insensitive); fkgen eval counts greedy decoding that reproduces exactly the tokens "
               "of ' ' + target (log-likelihood exact match, lm-eval's is_greedy)"),
    "qa_mc": ("Inspect shows lettered choices and reads the answer letter the model generates; fkgen eval "
              "picks the choice with the highest log-likelihood after 'Question: ...\nAnswer:'"),
    "qa_generation": ("Inspect generates from the bare question and compares exactly (case-insensitive); "
                      "fkgen eval generates greedily after 'Question: ...\nAnswer:', cuts at the first "
                      "newline and compares case-sensitively"),
}
SELF_REPORTED = ("Scores computed by these Inspect AI tasks differ from fkgen eval's log-likelihood "
                 "scoring; scores that model repos report from fkgen eval are self-reported and are "
                 "marked as such in their notes.")


class HubEvalError(InputError, ValueError):
    """An eval.yaml that the Hub would reject, or a folder we cannot describe."""


def _folder_configs(folder: Path) -> Optional[set[str]]:
    """Config names listed in ``folder/manifest.json`` (None when there is no manifest)."""
    path = folder / "manifest.json"
    if not path.is_file():
        return None
    try:
        configs = json.loads(path.read_text(encoding="utf-8")).get("configs", {})
    except (json.JSONDecodeError, AttributeError) as exc:
        raise HubEvalError(f"{path}: cannot read the config list: {exc}") from None
    if isinstance(configs, dict):
        return set(configs)
    if isinstance(configs, list):  # [{"config_name": ...}] as in a dataset card, or plain names
        return {c if isinstance(c, str) else str(c.get("config_name") or c.get("name")) for c in configs
                if isinstance(c, (str, dict))}
    raise HubEvalError(f"{path}: 'configs' is neither a mapping nor a list")


def eval_config(*, name: str = "Fictional Knowledge", split: str = "train", framework: str = "inspect-ai",
                version: Optional[str] = None, folder: Optional[str | Path] = None) -> dict[str, Any]:
    """The eval.yaml content as a dict: one task for all cloze probes, one for QA multiple choice
    and one for QA generation. With ``folder``, tasks whose config the build lacks are left out."""
    if framework not in EVALUATION_FRAMEWORKS:
        raise HubEvalError(f"evaluation_framework {framework!r} is not one the Hub accepts; "
                           f"expected one of {', '.join(EVALUATION_FRAMEWORKS)}")
    available = _folder_configs(Path(folder)) if folder is not None else None
    tasks = []
    for task_id, (config, field_spec, solvers, scorers) in _TASKS.items():
        if available is not None and config not in available:
            continue
        task: dict[str, Any] = {"id": task_id, "config": config, "split": split}
        if framework == "inspect-ai":
            task.update(field_spec=dict(field_spec), solvers=[dict(s) for s in solvers],
                        scorers=[dict(s) for s in scorers])
        tasks.append(task)
    if not tasks:
        raise HubEvalError(f"{folder}: the build has neither a 'probes' nor a 'qa' config to evaluate")
    tag = f" {version}" if version else ""
    description = (
        f"Fictional knowledge{tag} - Wikipedia-style passages about seeded fictional entities, with "
        f"cloze probes ({', '.join(PROBE_KINDS)}; Chang et al. 2024) and question answering. "
        "Task probes scores the greedy completion of every cloze probe (correct when it begins with "
        "the target); qa_mc scores multiple-choice accuracy; qa_generation scores exact-match answers. "
        + SELF_REPORTED
    )
    cfg = {"name": name, "description": description, "evaluation_framework": framework, "tasks": tasks}
    validate_eval_config(cfg)
    return cfg


def validate_eval_config(cfg: Any) -> None:
    """Raise HubEvalError where ``cfg`` breaks the documented eval.yaml rules (see module docstring)."""
    if not isinstance(cfg, dict):
        raise HubEvalError("eval.yaml must be a mapping")
    for key in REQUIRED_TOP_LEVEL:
        if not cfg.get(key):
            raise HubEvalError(f"eval.yaml: missing required field '{key}'")
    if cfg["evaluation_framework"] not in EVALUATION_FRAMEWORKS:
        raise HubEvalError(f"eval.yaml: unknown evaluation_framework {cfg['evaluation_framework']!r}")
    if not isinstance(cfg["tasks"], list):
        raise HubEvalError("eval.yaml: 'tasks' must be a list")
    seen: set[str] = set()
    for i, task in enumerate(cfg["tasks"]):
        if not isinstance(task, dict) or not task.get("id"):
            raise HubEvalError(f"eval.yaml: tasks[{i}] needs an 'id'")
        if task["id"] in seen:
            raise HubEvalError(f"eval.yaml: duplicate task id {task['id']!r}")
        seen.add(task["id"])
        if cfg["evaluation_framework"] != "inspect-ai":
            continue
        for key in INSPECT_REQUIRED_TASK_KEYS:
            if not task.get(key):
                raise HubEvalError(f"eval.yaml: tasks[{i}] ({task['id']}) needs '{key}' for inspect-ai")
        unknown = set(task) - INSPECT_TASK_KEYS
        if unknown:
            raise HubEvalError(f"eval.yaml: tasks[{i}] has keys Inspect AI rejects: {', '.join(sorted(unknown))}")
        spec = task["field_spec"]
        if not isinstance(spec, dict) or "input" not in spec or set(spec) - FIELD_SPEC_KEYS:
            raise HubEvalError(f"eval.yaml: tasks[{i}].field_spec needs 'input' and only {sorted(FIELD_SPEC_KEYS)}")
        for key in ("solvers", "scorers"):
            if not all(isinstance(s, dict) and s.get("name") and set(s) <= {"name", "args"} for s in task[key]):
                raise HubEvalError(f"eval.yaml: tasks[{i}].{key} items need a 'name' (and optional 'args')")


def render_eval_yaml(cfg: dict[str, Any]) -> str:
    """YAML text for an eval.yaml dict (keys in the documented order)."""
    import yaml

    validate_eval_config(cfg)
    header = "# Hugging Face Hub benchmark definition: https://huggingface.co/docs/hub/eval-results\n"
    return header + yaml.safe_dump(cfg, sort_keys=False, allow_unicode=True, width=100)


def write_eval_yaml(folder: str | Path, **kwargs: Any) -> Path:
    """Write ``folder/eval.yaml`` for a build or release folder (see :func:`eval_config`)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise HubEvalError(f"{folder}: not a folder")
    from fictional_knowledge.atomic import write_text

    return write_text(folder / "eval.yaml", render_eval_yaml(eval_config(folder=folder, **kwargs)), flag="FOLDER")


def eval_results_entries(results: Results, dataset_id: str, *, revision: Optional[str] = None) -> list[dict[str, Any]]:
    """``.eval_results/*.yaml`` entries (for a model repo) reporting ``results`` against the
    benchmark ``dataset_id``. 'probes' is the exact-match rate over all probes (kinds weighted by
    their probe counts), matching a task that scores every row of the probes config."""
    kinds = [s for k, s in results.scores.items() if k in PROBE_KINDS and isinstance(s, ProbeKindScore)]
    values: dict[str, float] = {}
    total = sum(s.n for s in kinds)
    if total:
        values["probes"] = sum(s.exact_match * s.n for s in kinds) / total
    qa = results.scores.get("qa")
    if isinstance(qa, QAScore) and qa.n:
        values["qa_mc"] = qa.mc_accuracy
        values["qa_generation"] = qa.generation_exact_match
    entries = []
    for task_id, value in values.items():
        dataset: dict[str, Any] = {"id": dataset_id, "task_id": task_id}
        if revision:
            dataset["revision"] = revision
        entries.append({"dataset": dataset, "value": round(value, 6), "date": results.created_at,
                        "notes": (f"self-reported with fictional-knowledge {results.package_version} (fkgen eval), "
                                  f"not computed by this benchmark's Inspect AI task: {SCORING_DIFFERENCES[task_id]}")})
    return entries
