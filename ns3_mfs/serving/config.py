"""The serving system's configuration (``[serving]`` of a run config): every default and limit in one place.

The hardware keys (model, GPU, TP/EP, utilisation, calibration) are declared
once in :data:`.compute.HARDWARE_KEYS`; :meth:`ServingConfig.compute` builds
the compute model from them, with errors naming ``serving.<key>``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Optional

from ..config import ConfigError, spec
from . import dispatch, placement, queueing, routing
from .compute import ComputeConfig, ComputeModel, hardware_field
from .decode import DecodeConfig


@dataclass(frozen=True)
class ServingConfig:
    """The serving system on the fabric."""

    model: str = hardware_field("model")
    gpu: str = hardware_field("gpu")
    tp: int = hardware_field("tp")
    ep: int = hardware_field("ep")
    instance_gpus: Literal["max", "tp_x_ep"] = hardware_field("instance_gpus")
    prefill_gpus: int = spec(16, min=1, doc="GPUs running prefill (a multiple of the instance size, max(tp, ep) "
                             "or tp x ep)")
    decode_gpus: int = spec(4, min=1, doc="GPUs of the decode side (P2D destinations)")
    kv_pool: Literal["prefill", "dedicated"] = spec(
        "prefill", doc="where reusable KV blocks live: on the prefill instances that computed them (Mooncake "
        "Store, the MFS testbed) or on dedicated KV-store servers")
    kv_store_servers: int = spec(1, min=1, doc="kv_pool = dedicated: servers holding the KV store (the last ones)")
    kv_prefetch_layers: int = spec(
        1, min=1, max=1024, doc="stage-1 lookahead: the KV fetch of layer l + K starts with layer l's attention "
        "(the first K layers' at batch start); a fetch that is late stalls the layer that needs it")
    p2d_history: Literal["full", "new"] = spec(
        "full", doc="P2D carries the request's full KV history (reused prefix + new tokens, as the MFS paper) "
        "or only the new tokens (the decode side already holds the prefix)")
    gpus_per_nic: int = spec(2, min=1, max=64, doc="GPUs sharing one NIC port")
    max_batched_tokens: int = spec(8192, min=1, doc="vLLM max_num_batched_tokens (chunked prefill), per "
                                   "batch_scope")
    batch_scope: Literal["instance", "dp_rank"] = spec(
        "instance", doc="what max_batched_tokens bounds: one batch per instance, or one per data-parallel "
        "attention rank (vLLM DP + EP: each rank schedules its own batch, MoE layers in lock step)")
    kv_block_tokens: Optional[int] = spec(
        None, min=1, max=1_000_000, doc="tokens per reusable KV block; default: the trace's (Mooncake 512, "
        "Qwen-Bailian 16, generated sessions their own), else 512")
    kv_store_capacity_blocks: Optional[int] = spec(
        None, min=1, doc="kv_pool = dedicated: KV-store capacity in blocks (LRU); default unlimited")
    kv_placement: Literal["block_hash", "session"] = spec(
        "block_hash", doc="kv_pool = dedicated: KV-store server of a block: by block id, or one server per session"
    )
    traffic: list[Literal["kv_fetch", "collectives", "p2d", "kv_upload"]] = spec(
        ["kv_fetch", "collectives", "p2d", "kv_upload"], doc="the traffic that crosses the fabric; a group left "
        "out arrives at once and is not recorded (to measure what contention costs, e.g. the MFS paper's Fig. 5); "
        "kv_upload: new blocks to a dedicated KV store")
    kv_prefetch_queued: bool = spec(
        False, doc="a queued request's reused blocks are fetched (all layers, one flow per source) while it waits, "
        "so its batch finds them local; off: fetched layer by layer when its batch runs")
    ep_collective: Literal["all_to_all", "allgather_reducescatter"] = spec(
        "all_to_all", doc="expert-parallel dispatch/combine: direct all-to-all of top-k routed tokens (DeepEP, "
        "pplx) or vLLM's default all-gather of hidden states + reduce-scatter of outputs")
    ep_algorithm: Literal["direct", "ring"] = spec(
        "direct", doc="allgather_reducescatter: NCCL's direct (every pair) or ring algorithm")
    routing: str = spec("uniform", doc="token routing model (ns3_mfs.serving.routing)")
    routing_params: dict = spec({}, doc="parameters of an expert-level routing model ([serving.routing_params])")
    placement: str = spec("contiguous", doc="expert placement: contiguous, balanced, affinity")
    placement_params: dict = spec({}, doc="placement parameters ([serving.placement_params])")
    queue_policy: str = spec("fcfs", doc="prefill queue order: fcfs, kairos, sjf_aging (ns3_mfs.serving.queueing)")
    queue_params: dict = spec({}, doc="queue policy parameters ([serving.queue_params])")
    dispatch: str = spec("round_robin", doc="prefill instance of a request: round_robin, load_aware")
    dispatch_params: dict = spec({}, doc="dispatcher parameters ([serving.dispatch_params])")
    local_prefix_cache: bool = spec(
        False, doc="kv_pool = dedicated: prefix blocks an instance holds are not fetched from the KV store "
        "(with kv_pool = prefill they never are)")
    decode: Optional[DecodeConfig] = spec(None, doc="decode instances and batching ([serving.decode]); absent: off")
    tpot_slo_s: Optional[float] = spec(None, gt=0.0, doc="absolute TPOT SLO (s); else a multiple of unloaded TPOT")
    tpot_slo_factor: float = spec(3.0, gt=0.0, doc="TPOT SLO = factor x unloaded TPOT")
    e2e_slo_s: Optional[float] = spec(None, gt=0.0, doc="absolute end-to-end SLO (s); else TTFT SLO + (n-1) TPOT SLO")
    calibration_csv: Optional[str] = hardware_field("calibration_csv")
    intra_server_gb_per_s: Optional[float] = spec(
        None, min=0.1, max=1e5, doc="GPU-to-GPU bandwidth inside a server (GB/s); default: the GPU profile's PCIe/NVLink"
    )
    mfu: Optional[float] = hardware_field("mfu")
    mbu: Optional[float] = hardware_field("mbu")
    ttft_slo_s: Optional[float] = spec(None, gt=0.0, doc="absolute TTFT SLO (s); else a multiple of unloaded TTFT")
    ttft_slo_factor: float = spec(3.0, gt=0.0, doc="TTFT SLO = factor x unloaded TTFT")
    ttft_slo_baseline: Literal["length", "replay"] = spec(
        "length", doc="unloaded TTFT: of the request's prompt length alone with no cache (length), or of the "
        "request itself in the same workload replayed at a low rate, with its cache state (replay, the MFS paper)")
    ttft_slo_scope: Literal["request", "global"] = spec(
        "request", doc="one SLO per request (factor x its unloaded TTFT) or one for all (factor x the mean)")
    max_sim_s: Optional[float] = spec(None, gt=0.0, doc="stop the simulation at this time (s)")

    def scheduler_params(self, path: str = "serving") -> dict[str, Any]:
        """Validated parameters of the pluggable schedulers, by table name (errors name the key path)."""
        return {
            "routing_params": routing.check_params(self.routing, self.routing_params, path),
            "placement_params": placement.check_params(self.placement, self.placement_params, path),
            "queue_params": queueing.check_params(self.queue_policy, self.queue_params, path),
            "dispatch_params": dispatch.check_params(self.dispatch, self.dispatch_params, path),
        }

    def validate(self, path: str = "serving") -> None:
        if self.ep_algorithm == "ring" and self.ep_collective == "all_to_all":
            raise ConfigError(f"{path}.ep_algorithm: 'ring' applies to ep_collective = 'allgather_reducescatter'; "
                              "an all-to-all is direct")
        self.scheduler_params(path or "serving")
        ComputeConfig.of(self).validate(path or "serving")

    def compute(self) -> ComputeModel:
        """The compute model of the prefill instances (errors name ``serving.<key>``)."""
        return ComputeConfig.of(self).build(path="serving")
