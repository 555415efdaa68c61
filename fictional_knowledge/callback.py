"""Old import path, kept for users: ``fictional_knowledge.callback`` is ``fictional_knowledge.evaluate.callback``."""

import sys

from fictional_knowledge.evaluate import callback as _module

sys.modules[__name__] = _module
