"""Former home of the prefill engine; it is now :mod:`.engine` (names kept importable from here)."""

from .engine import STAGES, Batch, PrefillEngine, ReqState, ServingEngine
from .transport import Join

__all__ = ["STAGES", "Batch", "Join", "PrefillEngine", "ReqState", "ServingEngine"]
