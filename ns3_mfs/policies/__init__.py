"""Flow-scheduling policies, registered by name (see ``base.py`` to add one)."""

from . import edf, fair, karuna, mfs, pias, sjf  # noqa: F401  (registration)
from .base import REGISTRY, BatchPlan, BatchRequest, FlowInfo, Policy, check_params, make_policy, register

__all__ = ["REGISTRY", "BatchPlan", "BatchRequest", "FlowInfo", "Policy", "check_params", "make_policy", "register"]
