"""``fkgen eval``: score a causal LM on a build and write a ``Results`` JSON (and per-probe rows)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

_DTYPES = ("float32", "bfloat16", "float16")


def _looks_like_path(name: str) -> bool:
    """True for strings that can only mean a local folder (not a Hub id like ``org/model``)."""
    p = Path(name).expanduser()
    return p.is_absolute() or name.startswith((".", "~")) or name.count("/") > 1 or "\\" in name or p.exists()


def load_model(name: str, *, device: str = "cpu", dtype: str = "float32", revision: Optional[str] = None) -> tuple[Any, Any]:
    """Load a causal LM and its tokenizer from a local folder or a Hub id, on ``device`` in ``dtype``,
    in eval mode. Raises ``typer.BadParameter`` with a one-line message on a bad name/device/dtype."""
    import torch
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if dtype not in _DTYPES:
        raise typer.BadParameter(f"dtype must be one of {', '.join(_DTYPES)}, got {dtype!r}", param_hint="--dtype")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise typer.BadParameter("CUDA was requested but torch sees no GPU", param_hint="--device")
    if _looks_like_path(name):
        folder = Path(name).expanduser()
        if not folder.is_dir():
            raise typer.BadParameter(f"model folder {name} does not exist", param_hint="--model")
        if not (folder / "config.json").is_file():
            raise typer.BadParameter(f"{name} has no config.json: not a Hugging Face model folder", param_hint="--model")
    dtype_key = "dtype" if int(transformers.__version__.split(".")[0]) >= 5 else "torch_dtype"
    try:
        tokenizer = AutoTokenizer.from_pretrained(name, revision=revision)
        model = AutoModelForCausalLM.from_pretrained(name, revision=revision, **{dtype_key: getattr(torch, dtype)})
    except OSError as exc:
        raise typer.BadParameter(f"cannot load model {name!r}: {str(exc).splitlines()[0]}", param_hint="--model")
    return model.to(device).eval(), tokenizer


def register(app: typer.Typer) -> None:
    @app.command("eval")
    def eval_command(
        model: str = typer.Option(..., "--model", help="Local model folder or Hugging Face Hub id."),
        data: str = typer.Option(..., "--data", help="A build folder; or FK-schema data (kaist-ai/fictional-knowledge's fields): a .json/.jsonl/.parquet file, a folder of them, or a Hub dataset id."),
        data_revision: Optional[str] = typer.Option(None, "--data-revision", help="Hub revision (tag, branch, commit) of a --data Hub id."),
        data_config: Optional[str] = typer.Option(None, "--data-config", help="Config of a --data Hub id (e.g. fictional_knowledge for one of our releases)."),
        data_split: Optional[str] = typer.Option(None, "--data-split", help="Split of a --data Hub id (default: its only split)."),
        out: Path = typer.Option(..., "--out", help="Results JSON to write."),
        per_probe: Optional[Path] = typer.Option(None, "--per-probe", help="Also write one row per probe/QA (.parquet or .jsonl)."),
        device: Optional[str] = typer.Option(None, "--device", help="cpu or cuda (default: cuda when available)."),
        batch_size: int = typer.Option(16, "--batch-size", min=1),
        dtype: str = typer.Option("float32", "--dtype", help="float32, bfloat16 or float16."),
        kinds: Optional[list[str]] = typer.Option(None, "--kinds", help="Subset of memorization, semantic, compositional, qa (repeat or comma-separate)."),
        limit: Optional[int] = typer.Option(None, "--limit", min=1, help="Score only the first N rows of each kind."),
        max_new_tokens: int = typer.Option(16, "--max-new-tokens", min=1, help="Generation budget for QA exact match."),
        revision: Optional[str] = typer.Option(None, "--revision", help="Hub revision of the model."),
        threads: Optional[int] = typer.Option(None, "--threads", min=1, help="Torch CPU threads (default: the CPUs this process may use)."),
        progress: bool = typer.Option(True, "--progress/--no-progress", " /--quiet", help="Progress bars on stderr; --quiet (or --no-progress) hides them."),
    ) -> None:
        """Score a causal LM on a build: per-kind cloze losses and exact match, QA accuracy."""
        from rich.console import Console
        from rich.table import Table

        from fictional_knowledge.dataset.io import read_manifest
        from fictional_knowledge.evaluate.scoring_qa import ALL_KINDS, evaluate_build, write_rows

        chosen = [k.strip() for item in (kinds or list(ALL_KINDS)) for k in item.split(",") if k.strip()]
        bad = [k for k in chosen if k not in ALL_KINDS]
        if bad:
            raise typer.BadParameter(f"unknown kind(s) {', '.join(bad)}; choose from {', '.join(ALL_KINDS)}", param_hint="--kinds")
        if per_probe is not None and per_probe.suffix not in (".parquet", ".jsonl"):
            raise typer.BadParameter("must end in .parquet or .jsonl", param_hint="--per-probe")
        if device is not None and device != "cpu" and not device.startswith("cuda"):
            raise typer.BadParameter(f"device must be cpu or cuda, got {device!r}", param_hint="--device")
        from fictional_knowledge.atomic import atomic_file, check_out_path, write_text
        from fictional_knowledge.evaluate.fk_schema import FK_FIELDS, FKSchemaError, evaluate_fk, is_build, load_fk_rows
        from fictional_knowledge.dataset.io import check_files

        build_data = is_build(data)
        if build_data:
            try:
                read_manifest(data)
            except (FileNotFoundError, ValueError) as exc:
                raise typer.BadParameter(str(exc).splitlines()[0], param_hint="--data")
            # the parquet files (footer, columns) before loading a model
            check_files(data, (["probes"] if set(chosen) - {"qa"} else []) + (["qa"] if "qa" in chosen else []))
        else:
            if kinds is None:
                chosen = list(FK_FIELDS)
            if "qa" in chosen:
                raise typer.BadParameter("FK-schema data has no QA; choose from " + ", ".join(FK_FIELDS), param_hint="--kinds")
            try:  # read (and check) the data before loading the model
                load_fk_rows(data, revision=data_revision, config=data_config, split=data_split)
            except FKSchemaError as exc:
                raise typer.BadParameter(str(exc), param_hint="--data")
        if not progress:
            from fictional_knowledge.progress import silence_libraries

            silence_libraries()
        check_out_path(out, folder=False)  # before loading and scoring anything
        if per_probe is not None:
            check_out_path(per_probe, flag="--per-probe", folder=False)
        import torch

        from fictional_knowledge.evaluate.scoring import resolve_threads

        threads = resolve_threads(threads)
        torch.set_num_threads(threads)  # before loading: more threads than usable CPUs oversubscribes them
        if device is None:
            device = "cuda" if torch.cuda.is_available() else "cpu"
        lm, tokenizer = load_model(model, device=device, dtype=dtype, revision=revision)
        if build_data:
            evaluation = evaluate_build(lm, tokenizer, data, model_name=model, kinds=chosen, limit=limit,
                                        batch_size=batch_size, max_new_tokens=max_new_tokens, progress=progress,
                                        settings={"device": device, "dtype": dtype}, threads=threads)
        else:
            evaluation, fk = evaluate_fk(lm, tokenizer, data, model_name=model, kinds=chosen, limit=limit,
                                         batch_size=batch_size, revision=data_revision, config=data_config,
                                         split=data_split, progress=progress,
                                         settings={"device": device, "dtype": dtype}, threads=threads)
            for line in fk.report_lines():
                typer.echo(f"note: {line}", err=True)
        if per_probe is not None:
            with atomic_file(per_probe, flag="--per-probe") as tmp:
                write_rows(evaluation.rows, tmp)
        write_text(out, evaluation.results.model_dump_json(indent=2) + "\n")
        table = Table("kind", "n", "loss", "first-token loss", "exact match", "MC accuracy", title=f"{model} on {data}")
        for kind, s in evaluation.results.scores.items():
            if kind == "qa":
                table.add_row(kind, str(s.n), "", "", f"{s.generation_exact_match:.3f}", f"{s.mc_accuracy:.3f}")
            else:
                table.add_row(kind, str(s.n), f"{s.loss:.4f}", f"{s.first_token_loss:.4f}", f"{s.exact_match:.3f}", "")
        Console().print(table)  # results on stdout, progress on stderr
        Console(stderr=True).print(f"wrote {out}" + (f" and {per_probe}" if per_probe else ""))
