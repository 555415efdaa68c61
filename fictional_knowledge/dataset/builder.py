"""Building a dataset folder: world -> bundles -> validated rows -> parquet shards + manifest.

The positions of a build are cut into chunks of ``CHUNK_BLOCKS`` blocks; each chunk is built by
one worker process and written as one parquet file per config (``data/<config>/<recipe tag>-part-NNNNN.parquet``, see ``card.recipe_tag``),
so memory does not grow with the build size. ``--shard i/n`` builds the chunks ``c`` with
``c % n == i``: the files of the n shards together are exactly the files of the whole build.
"""

from __future__ import annotations

import gc
import importlib.abc
import json
import multiprocessing as mp
import os
import sys
from contextlib import nullcontext
from pathlib import Path
from typing import Optional

import pyarrow as pa
import pyarrow.parquet as pq

from fictional_knowledge import __version__
from fictional_knowledge.dataset.arrow import schema_of
from fictional_knowledge.generate.bundle import passage_records, world_records
from fictional_knowledge.dataset.card import recipe_tag, write_card
from fictional_knowledge.errors import InputError
from fictional_knowledge.dataset.fingerprint import Accumulator
from fictional_knowledge.kinds import KINDS_BY_NAME, PROBE_KIND_TABLE
from fictional_knowledge.models import CONFIG_NAMES, BuildConfig, ConfigSummary, Manifest, validate_rows
from fictional_knowledge.generate.templates import load_templates, template_hashes
from fictional_knowledge.generate.world import BLOCK, WINDOW, closure, entity_at, pointing_at

CHUNK_BLOCKS = 13  # 260 entities per chunk and parquet file (peak RSS per worker follows a chunk's rows)


class BuildError(InputError):
    """A build cannot start or finish; the message is meant for the user (exit 2)."""


def parse_shard(spec: Optional[str]) -> Optional[tuple[int, int]]:
    """``"i/n"`` -> ``(i, n)`` with ``0 <= i < n``."""
    if spec is None:
        return None
    try:
        i, n = (int(x) for x in spec.split("/"))
    except ValueError:
        raise BuildError(f"bad shard spec {spec!r}: expected i/n, e.g. 0/4") from None
    if n <= 0 or not 0 <= i < n:
        raise BuildError(f"bad shard spec {spec!r}: need 0 <= i < n")
    return i, n


def chunks_of(config: BuildConfig) -> list[tuple[int, list[int], list[int]]]:
    """``(chunk, focal positions, extra positions)`` for every chunk. Extras are the entities that
    the last, partial block links to but that are not focal; the last chunk owns them."""
    per = CHUNK_BLOCKS * BLOCK
    n = config.entities
    out = []
    for c in range((n + per - 1) // per):
        focal = list(range(c * per, min((c + 1) * per, n)))
        out.append((c, focal, []))
    extras = set(p for p in closure(config.seed, range(max(0, n - BLOCK), n)) if p >= n)
    if config.style == "prose":
        # a prose passage states the roles of its entity (world.pointing_at), whose subjects may lie
        # up to WINDOW blocks beyond the last focal entity: they and what they link to join the build
        ahead = [s for p in range(max(0, n - (WINDOW + 1) * BLOCK), n)
                 for s, _ in pointing_at(config.seed, p) if s >= n]
        stack = list(ahead)
        while stack:
            p = stack.pop()
            if p >= n and p not in extras:
                extras.add(p)
                stack.extend(q for q in entity_at(config.seed, p).links.values() if q >= n)
    out[-1][2].extend(sorted(extras))
    return out


class _NoPandas(importlib.abc.MetaPathFinder):
    """Refuses to import pandas. pyarrow imports pandas, when installed, on its first list-to-array
    conversion (about a second of start-up per worker process); a build never needs it."""

    def find_spec(self, name, path=None, target=None):
        if name == "pandas" or name.startswith("pandas."):
            raise ModuleNotFoundError(f"No module named {name!r} (not imported in build workers)", name=name)
        return None


def _init_worker() -> None:
    """Set up a pool worker (a process that only builds chunks and then exits)."""
    _ignore_sigint()
    if "pandas" not in sys.modules:
        sys.meta_path.insert(0, _NoPandas())


def check_capacity(config: BuildConfig, position: int, probes) -> None:
    """BuildError unless the passage at ``position`` got every probe ``config`` asks for (a
    passage holds as many memorization probes as it states facts, fewer with few words), so a
    build that finishes always validates. Every kind of ``kinds.PROBE_KIND_TABLE`` is checked."""
    want = {k.name: getattr(config, k.count_field) for k in PROBE_KIND_TABLE}
    got = dict.fromkeys(want, 0)
    for probe in probes:  # row dicts (bundle.passage_records)
        got[probe["kind"]] += 1
    for kind, n in want.items():
        if got[kind] < n:
            hint = " or raise --min-words" if kind != "compositional" else ""
            flag = "--" + KINDS_BY_NAME[kind].count_field.removesuffix("_probes").replace("_", "-")
            raise BuildError(f"the passage of entity {position} has room for only {got[kind]} {kind} probes with "
                             f"these options, {n} asked: lower {flag} to {got[kind]}{hint}")


def preflight(config: BuildConfig, templates) -> None:
    """Check, before any work, that the first block of entities (one of every type) can hold the
    probes ``config`` asks for; :func:`_build_chunk` checks every other passage as it goes."""
    for position in range(min(config.entities, BLOCK)):
        check_capacity(config, position, passage_records(config.seed, position, config, templates)["probes"])


def _build_chunk(args) -> tuple[int, dict[str, tuple[int, int]]]:
    """Build, validate, fingerprint and write one chunk. The cyclic garbage collector is off
    meanwhile: a chunk makes ~10^6 objects without cycles, which would trigger hundreds of
    collections that find nothing (about 15% of the build's time)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _build_chunk_rows(args)
    finally:
        if enabled:
            gc.enable()


def _build_chunk_rows(args) -> tuple[int, dict[str, tuple[int, int]]]:
    config_json, chunk, focal, extras, data_dir, tag = args
    config = BuildConfig.model_validate_json(config_json)
    templates = load_templates()
    rows: dict[str, list[dict]] = {name: [] for name in CONFIG_NAMES}
    focal_set = set(focal)
    for position in focal + extras:
        parts = world_records(config.seed, position, config, templates)
        if position in focal_set and position < config.entities:
            parts.update(passage_records(config.seed, position, config, templates))
            check_capacity(config, position, parts["probes"])
        for name, records in parts.items():
            rows[name].extend(records)
    sums = {}
    for name, batch in rows.items():
        validate_rows(name, batch)  # every row, strictly, before anything is written
        acc = Accumulator().update_sorted(batch)
        sums[name] = (acc.rows, acc.total)
        table = pa.Table.from_pylist(batch, schema=schema_of(name))
        path = Path(data_dir) / name / f"{tag}-part-{chunk:05d}.parquet"
        pq.write_table(table, path, compression="zstd")
    return len(focal), sums


def check_output_folder(out: Path, overwrite: bool) -> None:
    """Refuse, before any work, an output that is unusable (see ``atomic.check_out_path``), or a
    non-empty folder without ``overwrite``, or one that is not a build/regime/release of ours."""
    from fictional_knowledge.atomic import check_out_path, check_replace

    try:
        check_replace(check_out_path(out), overwrite=overwrite)
    except InputError as exc:
        raise BuildError(str(exc)) from None


def _ignore_sigint() -> None:  # pool workers: Ctrl-C is the main process's to handle
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # Pool.terminate() stops workers with SIGTERM


def build(config: BuildConfig, out: str | Path, *, shard: Optional[str | tuple[int, int]] = None,
          overwrite: bool = False, workers: Optional[int] = None, progress: bool = False) -> Manifest:
    """Build ``config`` into the folder ``out`` and return its manifest.

    The build is written through :func:`fictional_knowledge.atomic.atomic_folder`: into a
    temporary folder beside ``out``, put in place only when complete, under a lock that makes a
    second writer of ``out`` refuse. ``overwrite`` replaces only a folder of ours.
    """
    from fictional_knowledge.atomic import atomic_folder

    out = Path(out)
    shard_t = parse_shard(shard) if isinstance(shard, str) or shard is None else shard
    if workers is not None and workers <= 0:
        raise BuildError(f"workers must be positive, got {workers}")
    check_output_folder(out, overwrite)
    preflight(config, load_templates())  # fail early on a bad template file or too many probes
    chunks = chunks_of(config)
    todo = [c for c in chunks if shard_t is None or c[0] % shard_t[1] == shard_t[0]]
    if not todo:
        # datasets cannot load a config with zero rows (no file: DataFilesNotFoundError; a file
        # of 0 rows: "BatchSize must be greater than 0" or "corresponds to no data"), so an
        # empty shard is refused before any work instead of written as an unloadable folder
        per = CHUNK_BLOCKS * BLOCK
        raise BuildError(f"shard {shard_t[0]}/{shard_t[1]} would hold no data: {config.entities} entities make "
                         f"{len(chunks)} chunk(s) of up to {per}, held by shard(s) "
                         f"{', '.join(f'{c}/{shard_t[1]}' for c in range(min(len(chunks), shard_t[1])))}; "
                         f"use at most {len(chunks)} shard(s)")
    with atomic_folder(out, overwrite=overwrite) as tmp:
        for name in CONFIG_NAMES:
            (tmp / "data" / name).mkdir(parents=True)
        recipe = Manifest(package_version=__version__, config=config, template_hashes=template_hashes(), configs={})
        tag = recipe_tag(recipe)
        jobs = [(config.model_dump_json(), c, focal, extras, str(tmp / "data"), tag) for c, focal, extras in todo]
        totals = {name: Accumulator() for name in CONFIG_NAMES}
        workers = max(1, min(workers or os.cpu_count() or 1, len(jobs)))
        focal_total = sum(len(j[2]) for j in jobs)
        with _progress(progress, focal_total) as bar:
            ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
            pool = ctx.Pool(workers, initializer=_init_worker) if workers > 1 else None
            results = pool.imap_unordered(_build_chunk, jobs) if pool else map(_build_chunk, jobs)
            finished = False
            try:
                for done, sums in results:
                    for name, (rows, total) in sums.items():
                        totals[name] = totals[name] + Accumulator(rows, total)
                    if bar is not None:
                        bar.update(done)
                finished = True
            finally:
                if pool:
                    if finished:
                        pool.close()
                    else:  # Ctrl-C or a failed chunk: stop the workers now, never wait on them
                        pool.terminate()
                    pool.join()
        manifest = recipe.model_copy(update=dict(
            shard=None if shard_t is None else f"{shard_t[0]}/{shard_t[1]}",
            configs={n: ConfigSummary(rows=a.rows, fingerprint=a.fingerprint) for n, a in totals.items()}))
        (tmp / "manifest.json").write_text(json.dumps(manifest.model_dump(mode="json"), indent=2) + "\n")
        write_card(tmp, manifest)
    return manifest


def _progress(enabled: bool, total: int):
    """The progress bar (tqdm, the package's one progress library) on stderr."""
    if not enabled:
        return nullcontext(None)
    from tqdm import tqdm

    # disable=None: no bar when stderr is not a terminal (logs, CI, pipes)
    return tqdm(total=total, desc="building", unit=" entities", file=sys.stderr, dynamic_ncols=True, disable=None)
