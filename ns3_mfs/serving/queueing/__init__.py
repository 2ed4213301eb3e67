"""Prefill queue policies, registered by name (see ``base.py`` to add one)."""

from . import fcfs, kairos, sjf_aging  # noqa: F401  (registration)
from .base import REGISTRY, QueueContext, QueuePolicy, check_params, make, register

__all__ = ["REGISTRY", "QueueContext", "QueuePolicy", "check_params", "make", "register"]
