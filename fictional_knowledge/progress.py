"""Progress bars: the package draws its own with tqdm, on stderr; this silences the bars that
libraries draw (transformers' "Loading weights", datasets, huggingface_hub) under ``--quiet``."""

from __future__ import annotations

import os


def silence_libraries() -> None:
    """Turn off the progress bars of transformers, datasets and huggingface_hub in this process."""
    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    for module, names in (("transformers.utils.logging", ("disable_progress_bar",)),
                          ("datasets.utils.logging", ("disable_progress_bar",)),
                          ("huggingface_hub.utils", ("disable_progress_bars",))):
        try:
            import importlib

            mod = importlib.import_module(module)
        except ImportError:
            continue
        for name in names:
            fn = getattr(mod, name, None)
            if fn is not None:
                fn()
