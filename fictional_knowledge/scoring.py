"""Old import path, kept for users: ``fictional_knowledge.scoring`` is ``fictional_knowledge.evaluate.scoring``."""

import sys

from fictional_knowledge.evaluate import scoring as _module

sys.modules[__name__] = _module
