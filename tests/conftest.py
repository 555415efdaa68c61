"""Shared fixtures: a tiny build made once per test session."""

from __future__ import annotations

import os
import sys
from pathlib import Path

# Tiny models run faster on one thread, and CI's two vCPUs give no parallel speed-up; several
# torch threads contending with other processes made training steps up to 75x slower here.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # tests/tinymodel.py and other helpers

TINY_ENTITIES = 60


@pytest.fixture(scope="session")
def tiny_build(tmp_path_factory) -> Path:
    """A build of 60 focal entities, seed 0 (read-only: copy it before changing it)."""
    from fictional_knowledge.dataset.builder import build
    from fictional_knowledge.models import BuildConfig

    out = tmp_path_factory.mktemp("builds") / "tiny"
    build(BuildConfig(seed=0, entities=TINY_ENTITIES), out, workers=1)
    return out


@pytest.fixture(scope="module")
def one_torch_thread():
    """One torch thread for a test module (restored after): tiny models gain nothing from more
    threads, and OpenMP spin-waits badly on a busy 2-core box."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
