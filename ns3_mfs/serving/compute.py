"""GPU compute model: roofline times for the compute steps of MoE serving.

The simulator schedules a MoE layer of a prefill batch as *attention compute
-> EP dispatch all-to-all -> expert compute -> EP combine all-to-all*, so the
compute model gives the two compute phases separately
(:meth:`ComputeModel.attention_time_s`, :meth:`ComputeModel.expert_time_s`),
plus whole-layer, whole-prefill and decode-step times. Network time is never
included here: the fabric simulates it.

Every phase is a roofline::

    time = max(FLOPs / (peak_flops * mfu), bytes / (memory_bw * mbu))

with FLOPs and bytes counted *per GPU* (:class:`Cost`), ``mfu`` / ``mbu``
the achieved fraction of peak compute / memory bandwidth
(:class:`Utilization`; fit them to measurements with :func:`calibrate`).

Layout of one serving instance (``tp``, ``ep``): it spans ``G = max(tp, ep)``
GPUs (one of tp, ep divides the other), or with ``instance_gpus = "tp_x_ep"``
``G = tp x ep`` GPUs (the MFS paper's large-scale instances: DBRX TP2/EP16 on
32 GPUs): ``ep`` expert ranks, each a TP group of ``tp`` GPUs holding its
experts tensor-parallel. Attention and dense layers are
tensor-parallel over ``tp`` GPUs, so there are ``G / tp`` data-parallel
attention groups, each running its own batch of ``batch_tokens`` tokens (the
MFS testbed's TP1/EP8: 8 GPUs, each with its own 8192-token batch). Routed
experts are spread over all ``G`` GPUs (``ep`` expert groups, each
tensor-parallel over ``G / ep`` GPUs; with ``ep >= tp`` that is simply
``experts / ep`` experts per GPU). Routing is assumed uniform and all
attention groups equally loaded, so each GPU computes ``batch_tokens * top_k
/ tp`` token-expert pairs per MoE layer.

Conventions: a FLOP is one multiply or add (a matmul of an m x k by a k x n
matrix costs 2mkn); GB is 1e9 bytes and TFLOPS 1e12 FLOP/s. Nothing here
touches ns-3 or the file system except :func:`load_gpu` and
:func:`calibrate`.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Optional

import numpy as np

from ..csvfile import Column, read_table
from .requests import MAX_TOKENS
from ..config import ConfigError, check_rules, from_dict, load_toml, spec
from .models import ModelSpec, load_model

#: Default achieved fraction of peak tensor FLOPs (assumed; calibrate it).
DEFAULT_MFU = 0.5
#: Default achieved fraction of peak memory bandwidth (assumed; calibrate it).
DEFAULT_MBU = 0.7
#: Default share of GPU memory usable for weights and KV cache (vLLM's
#: ``gpu_memory_utilization`` default); the rest is CUDA context, activations.
DEFAULT_MEMORY_UTILIZATION = 0.9


def _check_fields(obj: object, path: str) -> None:
    """Apply the min/max/gt/choices rules of every field (direct construction)."""
    p = f"{path}." if path else ""
    for f in dataclasses.fields(obj):
        check_rules(getattr(obj, f.name), f.metadata, p + f.name)


# ------------------------------------------------------------------- GPUs


@dataclass(frozen=True)
class GpuProfile:
    """Peak capabilities of one GPU model (datasheet figures; bounds keep a typo from making a run
    simulate for days or overflow the simulator's clock)."""

    name: str = spec(doc="GPU name shown in results")
    peak_tflops_fp16: float = spec(min=0.1, max=1e6, doc="dense FP16/BF16 tensor-core TFLOPS (no sparsity)")
    memory_bw_gbps: float = spec(min=1.0, max=1e6, doc="memory bandwidth in GB/s (gigaBYTES per second)")
    memory_gb: float = spec(min=0.5, max=1e5, doc="memory capacity in GB")
    intra_server_bw_gbps: float = spec(
        min=0.1, max=1e5, doc="GPU-to-GPU bandwidth inside a server, GB/s per direction per GPU"
    )
    intra_server_link: Literal["nvlink", "pcie"] = spec("pcie", doc="intra-server GPU interconnect")
    pcie_gen: int = spec(4, choices=(1, 2, 3, 4, 5, 6), doc="the GPU's PCIe generation (the host path runs its "
                         "link at the slower of this and the platform's)")
    pcie_lanes: int = spec(16, choices=(1, 2, 4, 8, 16), doc="the GPU's PCIe lanes")

    @property
    def peak_flops(self) -> float:
        """Peak FLOP/s: ``peak_tflops_fp16 * 1e12``."""
        return self.peak_tflops_fp16 * 1e12

    @property
    def memory_bw_bytes_per_s(self) -> float:
        """Memory bandwidth in bytes/s: ``memory_bw_gbps * 1e9``."""
        return self.memory_bw_gbps * 1e9

    @property
    def memory_bytes(self) -> float:
        """Memory capacity in bytes: ``memory_gb * 1e9``."""
        return self.memory_gb * 1e9

    @property
    def intra_server_bw_bytes_per_s(self) -> float:
        """Intra-server GPU bandwidth in bytes/s per direction."""
        return self.intra_server_bw_gbps * 1e9


#: Built-in GPU profiles. Peak FLOPS are dense (non-sparse) FP16 tensor-core
#: figures with FP32 accumulation, what PyTorch/vLLM FP16 GEMMs use.
GPUS: dict[str, GpuProfile] = {
    "rtx3090": GpuProfile(
        name="RTX 3090",
        # NVIDIA Ampere GA102 GPU Architecture whitepaper, Appendix A (GeForce RTX
        # 3090): peak FP16 tensor TFLOPS with FP32 accumulate 71 dense / 142 sparse
        # (142 / 284 with FP16 accumulate; GeForce halves the FP32-accumulate rate).
        peak_tflops_fp16=71.0,
        # Same table: 24 GB GDDR6X, 936 GB/s.
        memory_bw_gbps=936.0,
        memory_gb=24.0,
        # No NVLink assumed (the MFS testbed: 4 GPUs per server on PCIe 4.0 x16):
        # 16 GT/s x 16 lanes x 128/130 = 31.5 GB/s per direction.
        intra_server_bw_gbps=31.5,
        intra_server_link="pcie",
        # Same whitepaper: PCIe Gen 4 x16 host interface.
        pcie_gen=4,
    ),
    "a100": GpuProfile(
        name="A100 80GB SXM",
        # NVIDIA A100 Tensor Core GPU datasheet: FP16 Tensor Core 312 TFLOPS dense
        # (624 with sparsity).
        peak_tflops_fp16=312.0,
        # Same datasheet, A100 80GB SXM: 80 GB HBM2e, 2,039 GB/s.
        memory_bw_gbps=2039.0,
        memory_gb=80.0,
        # Same datasheet: NVLink 600 GB/s bidirectional = 300 GB/s per direction.
        intra_server_bw_gbps=300.0,
        intra_server_link="nvlink",
        # Same datasheet: PCIe Gen4 x16 (64 GB/s).
        pcie_gen=4,
    ),
    "h100": GpuProfile(
        name="H100 SXM",
        # NVIDIA H100 Tensor Core GPU datasheet, H100 SXM: FP16 Tensor Core 1,979
        # TFLOPS *with sparsity*; dense is half: 989.5 TFLOPS.
        peak_tflops_fp16=989.5,
        # Same datasheet: 80 GB HBM3, 3.35 TB/s.
        memory_bw_gbps=3350.0,
        memory_gb=80.0,
        # Same datasheet: NVLink 900 GB/s bidirectional = 450 GB/s per direction.
        intra_server_bw_gbps=450.0,
        intra_server_link="nvlink",
        # Same datasheet: PCIe Gen5 x16 (128 GB/s).
        pcie_gen=5,
    ),
}

_GPU_ALIASES = {
    "3090": "rtx3090",
    "geforcertx3090": "rtx3090",
    "a10080gb": "a100",
    "a10080gbsxm": "a100",
    "a100sxm": "a100",
    "h100sxm": "h100",
    "h100sxm5": "h100",
}


def list_gpus() -> list[str]:
    """Names of the built-in GPU profiles."""
    return sorted(GPUS)


def load_gpu(name_or_path: str | Path | GpuProfile) -> GpuProfile:
    """A built-in GPU profile by name or a user TOML file with its keys.

    Names are matched ignoring case, spaces and dashes (``"RTX 3090"``,
    ``"rtx-3090"``, ``"H100-SXM"``). A value ending in ``.toml``, containing a
    path separator or naming an existing file is read as a file with the keys
    of :class:`GpuProfile`. Unknown names raise ConfigError listing the
    profiles.
    """
    if isinstance(name_or_path, GpuProfile):
        return name_or_path
    text = str(name_or_path)
    path = Path(text).expanduser()
    if isinstance(name_or_path, Path) or text.endswith(".toml") or "/" in text or path.is_file():
        data = load_toml(path)
        try:
            return from_dict(GpuProfile, data)
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc}") from None
    key = re.sub(r"[^a-z0-9]", "", text.lower())
    key = _GPU_ALIASES.get(key, key)
    if key in GPUS:
        return GPUS[key]
    raise ConfigError(
        f"gpu {text!r}: unknown GPU; available: {', '.join(list_gpus())} "
        f"(or the path of a TOML file with the GpuProfile keys)"
    )


# ----------------------------------------------------------- roofline parts


@dataclass(frozen=True)
class Utilization:
    """Achieved fractions of peak: ``mfu`` of tensor FLOPs, ``mbu`` of memory
    bandwidth."""

    mfu: float = spec(DEFAULT_MFU, gt=0.0, max=1.0, doc="achieved fraction of peak FLOPs")
    mbu: float = spec(DEFAULT_MBU, gt=0.0, max=1.0, doc="achieved fraction of peak memory bandwidth")

    def __post_init__(self) -> None:
        _check_fields(self, "utilization")


@dataclass(frozen=True)
class Cost:
    """Per-GPU work of one compute phase: FLOPs and bytes of memory traffic."""

    flops: float
    bytes: float

    def compute_time_s(self, gpu: GpuProfile, util: Utilization) -> float:
        """``flops / (peak_flops * mfu)``."""
        return self.flops / (gpu.peak_flops * util.mfu)

    def memory_time_s(self, gpu: GpuProfile, util: Utilization) -> float:
        """``bytes / (memory_bw * mbu)``."""
        return self.bytes / (gpu.memory_bw_bytes_per_s * util.mbu)

    def time_s(self, gpu: GpuProfile, util: Utilization) -> float:
        """Roofline: ``max(compute_time_s, memory_time_s)``."""
        return max(self.compute_time_s(gpu, util), self.memory_time_s(gpu, util))

    def bound(self, gpu: GpuProfile, util: Utilization) -> Literal["compute", "memory"]:
        """Which side of the roofline limits this phase."""
        return "compute" if self.compute_time_s(gpu, util) >= self.memory_time_s(gpu, util) else "memory"

    def __add__(self, other: "Cost") -> "Cost":
        return Cost(self.flops + other.flops, self.bytes + other.bytes)

#: Values of ``instance_gpus``.
INSTANCE_GPUS = ("max", "tp_x_ep")

# ------------------------------------------------------------ compute model


@dataclass(frozen=True)
class ComputeModel:
    """Roofline compute times of one model on one GPU type in a TP/EP layout.

    ``model`` and ``gpu`` may be given as names or TOML paths (resolved with
    :func:`~ns3_mfs.serving.models.load_model` / :func:`load_gpu`). With
    ``enforce_memory`` (the default) a layout whose weights do not fit in
    ``memory_utilization`` of the GPU memory is refused with ConfigError.
    """

    model: ModelSpec
    gpu: GpuProfile
    tp: int = 1
    ep: int = 1
    utilization: Utilization = Utilization()
    #: GPUs of an instance: ``max`` (max(tp, ep)) or ``tp_x_ep`` (tp x ep: ep ranks of tp GPUs each)
    instance_gpus: str = "max"
    memory_utilization: float = DEFAULT_MEMORY_UTILIZATION
    enforce_memory: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "model", load_model(self.model))
        object.__setattr__(self, "gpu", load_gpu(self.gpu))
        m, tp, ep = self.model, self.tp, self.ep
        for key, v in (("tp", tp), ("ep", ep)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ConfigError(f"{key}: expected an integer >= 1, got {v!r}")
        if m.num_heads % tp:
            raise ConfigError(f"tp: {tp} does not divide the {m.num_heads} attention heads of {m.name}")
        if ep > m.experts:
            raise ConfigError(f"ep: {ep} is more than the {m.experts} experts of {m.name}")
        if self.instance_gpus not in INSTANCE_GPUS:
            raise ConfigError(f"instance_gpus: {self.instance_gpus!r}; allowed: {', '.join(INSTANCE_GPUS)}")
        if self.instance_gpus == "max" and max(tp, ep) % min(tp, ep):
            raise ConfigError(f"tp/ep: one of tp={tp} and ep={ep} must divide the other")
        if not 0.0 < self.memory_utilization <= 1.0:
            raise ConfigError(f"memory_utilization: must be in (0, 1], got {self.memory_utilization!r}")
        if self.enforce_memory:
            self.check_memory()

    # ------------------------------------------------------------- layout

    @property
    def mfu(self) -> float:
        return self.utilization.mfu

    @property
    def mbu(self) -> float:
        return self.utilization.mbu

    @property
    def gpus(self) -> int:
        """GPUs in the instance: ``G = max(tp, ep)``, or ``tp x ep`` with ``instance_gpus = "tp_x_ep"``."""
        return self.tp * self.ep if self.instance_gpus == "tp_x_ep" else max(self.tp, self.ep)

    @property
    def dp(self) -> int:
        """Data-parallel attention groups: ``G / tp``."""
        return self.gpus // self.tp

    def kv_bytes_per_token_per_layer_per_gpu(self) -> float:
        """KV bytes one token stores per layer on each GPU of its TP group.

        GQA/MHA: KV heads are split over TP and replicated when tp > kv_heads:
        ``2 * ceil(kv_heads / tp) * head_dim * bytes``. MLA: the latent is
        replicated on every TP rank: ``(kv_lora_rank + rope) * bytes``.
        """
        m = self.model
        if m.is_mla:
            return float(m.kv_bytes_per_token_per_layer())
        return 2.0 * math.ceil(m.kv_heads / self.tp) * m.head_dim * m.bytes_per_element

    # --------------------------------------------------------------- costs

    def attention_cost(
        self, batch_tokens: float, context_tokens: float, kv_tokens: Optional[float] = None
    ) -> Cost:
        """Per-GPU cost of the attention block of one layer.

        ``batch_tokens`` (T) new tokens of one attention group, each attending
        to ``context_tokens`` (C) key/value tokens on average (cached prefix
        plus the new tokens before it: about n/2 for a fresh n-token prompt
        with causal masking); ``kv_tokens`` distinct KV tokens read (default
        ``T + C``: for one request with p cached and n new tokens, C = p + n/2
        and the distinct p + n is over-counted by n/2 tokens, a small term in
        prefill; pass the exact sum when the batch composition is known).

        FLOPs = [2 T P_attn + 2 T C H (d_qk + d_v)] / tp: the Q/K/V/O
        projections (P_attn weights, 2 FLOPs each per token) plus QK^T and PV
        (= 4 T C H d for d_qk = d_v = d).

        bytes = P_attn b / tp (weights, read once) + kv_gpu (T + kv_tokens)
        (KV written for the new tokens, read once: FlashAttention streams K/V)
        + 2 T hidden b (block input and output activations).
        """
        m, T, C = self.model, float(batch_tokens), float(context_tokens)
        kv = T + C if kv_tokens is None else float(kv_tokens)
        b, P = m.bytes_per_element, m.attention_params_per_layer()
        flops = (2.0 * T * P + 2.0 * T * C * m.num_heads * (m.qk_head_dim + m.value_head_dim)) / self.tp
        kv_gpu = self.kv_bytes_per_token_per_layer_per_gpu()
        nbytes = P * b / self.tp + kv_gpu * (T + kv) + 2.0 * T * m.hidden_size * b
        return Cost(flops, nbytes)

    def active_experts(self, batch_tokens: float) -> float:
        """Expected routed experts receiving at least one token in a MoE layer.

        The instance routes ``N = dp * T`` tokens, each to ``top_k`` distinct
        experts chosen uniformly: ``E * (1 - (1 - top_k / E) ** N)``.
        """
        m = self.model
        n = self.dp * float(batch_tokens)
        return m.experts * (1.0 - (1.0 - m.top_k / m.experts) ** n)

    def expert_cost(self, batch_tokens: float) -> Cost:
        """Per-GPU cost of the MoE FFN of one layer (router + experts).

        Each GPU computes ``T * top_k / tp`` token-expert pairs (uniform
        routing, see the module doc); shared experts and the router run
        tensor-parallel on every token of the attention group.

        FLOPs = 2 T / tp * [(top_k + shared) * P_exp + hidden * E] with
        P_exp = 3 hidden moe_intermediate.

        bytes = [active_experts(T) / G + shared / tp] * P_exp b (weights of
        the experts that receive tokens, read once per layer) + hidden E b / tp
        (router) + 2 T (top_k + shared) / tp * hidden b (expert inputs and
        outputs).
        """
        m, T = self.model, float(batch_tokens)
        b, P = m.bytes_per_element, m.expert_params()
        flops = 2.0 * T / self.tp * ((m.top_k + m.shared_experts) * P + m.hidden_size * m.experts)
        weights = (self.active_experts(T) / self.gpus + m.shared_experts / self.tp) * P * b
        weights += m.hidden_size * m.experts * b / self.tp
        acts = 2.0 * T * (m.top_k + m.shared_experts) / self.tp * m.hidden_size * b
        return Cost(flops, weights + acts)

    def dense_ffn_cost(self, batch_tokens: float) -> Cost:
        """Per-GPU cost of a dense FFN layer (DeepSeek-V3's first 3 layers).

        FLOPs = 2 T P_ffn / tp with P_ffn = 3 hidden intermediate;
        bytes = P_ffn b / tp + 2 T hidden b.
        """
        m, T = self.model, float(batch_tokens)
        P, b = m.dense_ffn_params(), m.bytes_per_element
        return Cost(2.0 * T * P / self.tp, P * b / self.tp + 2.0 * T * m.hidden_size * b)

    def lm_head_cost(self, batch_tokens: float) -> Cost:
        """Per-GPU cost of the output layer for T tokens (vocab-parallel):
        FLOPs = 2 T vocab hidden / tp; bytes = vocab hidden b / tp."""
        m, T = self.model, float(batch_tokens)
        P = m.vocab_size * m.hidden_size
        return Cost(2.0 * T * P / self.tp, P * m.bytes_per_element / self.tp + T * m.vocab_size * m.bytes_per_element)

    # --------------------------------------------------------------- times

    def _t(self, cost: Cost) -> float:
        return cost.time_s(self.gpu, self.utilization)

    def attention_time_s(self, batch_tokens: float, context_tokens: float, kv_tokens: Optional[float] = None) -> float:
        """Roofline time of :meth:`attention_cost` (one layer, one GPU)."""
        return self._t(self.attention_cost(batch_tokens, context_tokens, kv_tokens))

    def expert_time_s(self, batch_tokens: float) -> float:
        """Roofline time of :meth:`expert_cost` (one MoE layer, one GPU)."""
        return self._t(self.expert_cost(batch_tokens))

    def dense_ffn_time_s(self, batch_tokens: float) -> float:
        """Roofline time of :meth:`dense_ffn_cost` (one dense layer, one GPU)."""
        return self._t(self.dense_ffn_cost(batch_tokens))

    def ffn_time_s(self, batch_tokens: float, layer: Optional[int] = None) -> float:
        """FFN time of ``layer`` (0-based): experts for MoE layers, the dense
        FFN otherwise; ``None`` means a MoE layer (a dense one if the model
        has no MoE layers)."""
        moe = self.model.moe_layers > 0 if layer is None else self.model.is_moe_layer(layer)
        return self.expert_time_s(batch_tokens) if moe else self.dense_ffn_time_s(batch_tokens)

    def layer_time_s(self, batch_tokens: float, context_tokens: float, layer: Optional[int] = None) -> float:
        """Compute time of one layer: ``attention_time_s + ffn_time_s``
        (no communication). ``layer`` as in :meth:`ffn_time_s`."""
        return self.attention_time_s(batch_tokens, context_tokens) + self.ffn_time_s(batch_tokens, layer)

    def prefill_time_s(self, batch_tokens: float, context_tokens: float) -> float:
        """Compute time of a whole prefill pass: the sum of
        :meth:`layer_time_s` over all layers (no communication, no LM head)."""
        m = self.model
        att = self.attention_time_s(batch_tokens, context_tokens)
        moe = self.expert_time_s(batch_tokens) if m.moe_layers else 0.0
        dense = self.dense_ffn_time_s(batch_tokens) if m.dense_layers else 0.0
        return m.layers * att + m.moe_layers * moe + m.dense_layers * dense

    def decode_step_time_s(self, batch: int, total_context: float) -> float:
        """Compute time of one decode step of ``batch`` sequences (one new
        token each) holding ``total_context`` KV tokens in all.

        Sum over layers of the attention roofline (T = batch, score pairs and
        KV read = total_context) and the FFN roofline, plus the LM head.
        ``batch`` counts the sequences of one attention group, as
        ``batch_tokens`` does in prefill. At small batches every phase is
        memory-bound, so this is about (per-GPU weights touched + KV read) /
        (memory_bw * mbu); with EP the experts of a GPU see ``batch * top_k /
        tp`` tokens and turn compute-bound first. No communication.
        """
        m = self.model
        if batch < 1:
            raise ValueError(f"batch must be >= 1, got {batch}")
        ctx = float(total_context)
        att = self.attention_time_s(batch, ctx / batch, kv_tokens=ctx)
        moe = self.expert_time_s(batch) if m.moe_layers else 0.0
        dense = self.dense_ffn_time_s(batch) if m.dense_layers else 0.0
        head = self._t(self.lm_head_cost(batch))
        return m.layers * att + m.moe_layers * moe + m.dense_layers * dense + head

    # -------------------------------------------------------------- memory

    def weight_bytes_per_gpu(self) -> float:
        """Weight bytes held by each GPU.

        ``W * [(1 - f) / tp + f * ceil(E / ep) / E * ep / G]`` with W =
        :meth:`ModelSpec.weight_bytes` (model card total) and f the routed
        experts' share of the weights (:meth:`ModelSpec.expert_weight_fraction`):
        attention, dense, shared-expert and embedding weights are split over
        TP; routed experts over the ``ep`` expert groups (``ceil(E / ep)``
        experts each), each group split over its ``G / ep`` GPUs.
        """
        m = self.model
        f = m.expert_weight_fraction()
        expert_share = math.ceil(m.experts / self.ep) / m.experts * self.ep / self.gpus
        return m.weight_bytes() * ((1.0 - f) / self.tp + f * expert_share)

    def kv_bytes_per_token_per_gpu(self) -> float:
        """KV bytes one token occupies on each GPU of its TP group, all layers."""
        return self.model.layers * self.kv_bytes_per_token_per_layer_per_gpu()

    def usable_memory_bytes(self) -> float:
        """``memory_gb * 1e9 * memory_utilization``."""
        return self.gpu.memory_bytes * self.memory_utilization

    def memory_needed_bytes(self, kv_tokens: float = 0) -> float:
        """Per-GPU bytes for the weights plus ``kv_tokens`` tokens of KV cache."""
        return self.weight_bytes_per_gpu() + kv_tokens * self.kv_bytes_per_token_per_gpu()

    def fits_in_memory(self, kv_tokens: float = 0) -> bool:
        """Whether weights + ``kv_tokens`` of KV fit in the usable memory."""
        return self.memory_needed_bytes(kv_tokens) <= self.usable_memory_bytes()

    def max_kv_tokens(self) -> int:
        """KV-cache tokens that fit per GPU after the weights (0 if none)."""
        free = self.usable_memory_bytes() - self.weight_bytes_per_gpu()
        return max(0, int(free // self.kv_bytes_per_token_per_gpu()))

    def check_memory(self, kv_tokens: float = 0) -> None:
        """Raise ConfigError unless :meth:`fits_in_memory` (``kv_tokens``)."""
        if self.fits_in_memory(kv_tokens):
            return
        need = self.memory_needed_bytes(kv_tokens) / 1e9
        kv = f" and {kv_tokens:g} KV tokens" if kv_tokens else ""
        raise ConfigError(
            f"model {self.model.name} needs {need:.1f} GB per GPU{kv} with TP={self.tp} EP={self.ep} "
            f"but the GPU ({self.gpu.name}) has {self.gpu.memory_gb:g} GB "
            f"({self.usable_memory_bytes() / 1e9:.1f} GB usable at memory_utilization="
            f"{self.memory_utilization:g}); use more GPUs (larger TP or EP) or a larger GPU"
        )


# ------------------------------------------------------------- calibration


def _read_calibration_csv(path: Path) -> np.ndarray:
    """Rows (tokens, context_tokens, layer_time_s); context defaults to tokens/2."""
    columns = (Column("tokens", gt=0.0, max=MAX_TOKENS), Column("layer_time_s", gt=0.0, max=1e3),
               Column("context_tokens", min=0.0, max=MAX_TOKENS, required=False))
    rows = read_table(path, columns, min_rows=2)
    return np.asarray([(r["tokens"], r.get("context_tokens", r["tokens"] / 2.0), r["layer_time_s"]) for r in rows],
                      dtype=float)


def _fit_utilization(base: ComputeModel, data: np.ndarray) -> tuple[float, float, float]:
    """Least-squares fit of (mfu, mbu) to measured MoE-layer times.

    Each row's phases (attention, FFN) have compute seconds-at-peak ``x =
    FLOPs / peak`` and memory seconds-at-peak ``y = bytes / bw``; with ``a =
    1/mfu`` and ``b = 1/mbu`` the model is ``t = sum_phases max(a x, b y)``.
    For a fixed assignment of each phase to its bound this is linear in (a,
    b), solved by weighted least squares (relative error, ``np.linalg.lstsq``);
    the assignment is then recomputed and the fit repeated until it is stable,
    from several starting points, keeping the smallest relative squared error.
    A parameter that binds no phase in any row keeps its base value.
    Returns (mfu, mbu, rms relative error).
    """
    gpu, m = base.gpu, base.model
    xs, ys = [], []
    for T, C, _ in data:
        ffn = base.expert_cost(T) if m.moe_layers else base.dense_ffn_cost(T)
        phases = (base.attention_cost(T, C), ffn)
        xs.append([p.flops / gpu.peak_flops for p in phases])
        ys.append([p.bytes / gpu.memory_bw_bytes_per_s for p in phases])
    X, Y, t = np.asarray(xs), np.asarray(ys), data[:, 2]

    def err(a: float, b: float) -> float:
        pred = np.maximum(a * X, b * Y).sum(axis=1)
        return float(np.sum(((pred - t) / t) ** 2))

    a0, b0 = 1.0 / base.mfu, 1.0 / base.mbu
    best = (err(a0, b0), a0, b0)
    starts = [(1.0 / u, 1.0 / v) for u in (0.05, 0.2, 0.5, 0.9) for v in (0.05, 0.2, 0.5, 0.9)]
    for a, b in [(a0, b0), *starts]:
        seen = set()
        for _ in range(50):
            comp = a * X >= b * Y
            key = comp.tobytes()
            if key in seen:
                break
            seen.add(key)
            cols = np.stack([(X * comp).sum(axis=1), (Y * ~comp).sum(axis=1)], axis=1) / t[:, None]
            used = cols.any(axis=0)
            if not used.any():
                break
            sol, *_ = np.linalg.lstsq(cols[:, used], np.ones_like(t), rcond=None)
            new = np.array([a, b])
            new[used] = sol
            if np.any(new <= 0):
                break
            a, b = float(new[0]), float(new[1])
            e = err(a, b)
            if e < best[0]:
                best = (e, a, b)
    e, a, b = best
    return 1.0 / a, 1.0 / b, math.sqrt(e / len(t))


def calibrate(
    model: ModelSpec | str,
    gpu: GpuProfile | str,
    csv_path: str | Path,
    *,
    tp: int = 1,
    ep: int = 1,
    memory_utilization: float = DEFAULT_MEMORY_UTILIZATION,
    enforce_memory: bool = True,
) -> ComputeModel:
    """A ComputeModel whose utilisation factors fit measured layer times.

    ``csv_path`` has a header and columns ``tokens`` (batch tokens T of one
    attention group), ``layer_time_s`` (measured compute time of one MoE
    layer, attention + experts, on one GPU of the ``tp``/``ep`` layout, no
    communication) and optionally ``context_tokens`` (mean context C; absent:
    T / 2, one fresh causal prompt). Blank lines and ``#`` comments are
    skipped. ``mfu`` and ``mbu`` are fitted by least squares on the relative
    error (see :func:`_fit_utilization`); rows that are all compute-bound
    leave ``mbu`` at its default, and vice versa.

    Raises ConfigError naming the file and line for a malformed CSV, and
    naming the file when the fit is outside (0, 1] (times faster than the
    GPU's peak: wrong GPU profile, units or layout).
    """
    path = Path(csv_path)
    data = _read_calibration_csv(path)
    base = ComputeModel(
        model, gpu, tp=tp, ep=ep, memory_utilization=memory_utilization, enforce_memory=enforce_memory
    )
    mfu, mbu, _rms = _fit_utilization(base, data)
    for key, v in (("mfu", mfu), ("mbu", mbu)):
        if not 0.0 < v <= 1.0 + 1e-9:
            raise ConfigError(
                f"{path}: fitted {key} = {v:.3g} is outside (0, 1]: the measured times are faster than "
                f"{base.gpu.name} can be at peak for {base.model.name} with TP={tp} EP={ep} "
                f"(wrong GPU profile, time units or layout?)"
            )
    return dataclasses.replace(base, utilization=Utilization(min(mfu, 1.0), min(mbu, 1.0)))


# ---------------------------------------------------------------- config


#: The hardware keys of a serving config, declared once: name -> (type, default, rules).
#: ``ServingConfig`` (``[serving]``) takes its fields from here (:func:`hardware_field`), and
#: :class:`ComputeConfig` is made of them (plus ``memory_utilization``).
HARDWARE_KEYS: dict[str, tuple[Any, object, dict]] = {
    "model": (str, "mixtral-8x7b", dict(doc="catalogue name or path of a model TOML")),
    "gpu": (str, "rtx3090", dict(doc="GPU profile name or path of a GPU TOML")),
    "tp": (int, 1, dict(min=1, max=64, doc="tensor-parallel degree of attention")),
    "ep": (int, 8, dict(min=1, max=1024, doc="expert-parallel degree; an instance has max(tp, ep) GPUs (or tp x "
                                           "ep, see instance_gpus)")),
    "instance_gpus": (Literal["max", "tp_x_ep"], "max", dict(
        doc="GPUs of a prefill instance: max(tp, ep) (vLLM/Megatron: EP over the TP x DP GPUs) or tp x ep (the MFS "
            "paper's large-scale instances: ep expert ranks, each a TP group of tp GPUs; the all-to-all runs "
            "between the GPUs of equal TP index)")),
    "calibration_csv": (Optional[str], None, dict(doc="CSV of measured (tokens, layer_time_s) to fit mfu/mbu")),
    "mfu": (Optional[float], None,
            dict(min=1e-4, max=1.0, doc=f"achieved fraction of peak FLOPs (default {DEFAULT_MFU})")),
    "mbu": (Optional[float], None,
            dict(min=1e-4, max=1.0, doc=f"achieved fraction of memory bandwidth (default {DEFAULT_MBU})")),
}


def hardware_field(name: str) -> Any:
    """A new dataclass field for hardware key ``name`` (see :data:`HARDWARE_KEYS`)."""
    _, default, rules = HARDWARE_KEYS[name]
    return spec(default, **rules)


class _ComputeConfigMethods:
    """Methods of :class:`ComputeConfig` (its fields come from :data:`HARDWARE_KEYS`)."""

    @classmethod
    def of(cls, cfg: object) -> Any:
        """The hardware keys of a config that has them (e.g. ``ServingConfig``)."""
        return cls(**{k: getattr(cfg, k) for k in HARDWARE_KEYS})

    def validate(self, path: str = "") -> None:
        if self.calibration_csv is not None and (self.mfu is not None or self.mbu is not None):
            p = f"{path}." if path else ""
            raise ConfigError(f"{p}calibration_csv: give a calibration CSV or mfu/mbu, not both")

    def build(self, base_dir: str | Path | None = None, path: str = "") -> "ComputeModel":
        """The ComputeModel; relative paths are resolved against ``base_dir``.

        Errors name their key under ``path`` (e.g. ``serving.tp: ...``).
        """
        p = f"{path}." if path else ""

        def resolve(f: str) -> str:
            if base_dir is not None and (f.endswith((".toml", ".csv")) or "/" in f) and not Path(f).is_absolute():
                return str(Path(base_dir) / f)
            return f

        def keyed(key: str, fn, *args, **kwargs):
            # Messages of the model, GPU and layout checks begin with their key ("tp: ...", "model 'x': ...").
            try:
                return fn(*args, **kwargs)
            except ConfigError as exc:
                msg = str(exc)
                raise ConfigError(p + msg if msg.startswith(key) else f"{p}{key}: {msg}") from None

        self.validate(path)
        model = keyed("model", load_model, resolve(self.model))
        gpu = keyed("gpu", load_gpu, resolve(self.gpu))
        util = Utilization(self.mfu if self.mfu is not None else DEFAULT_MFU,
                           self.mbu if self.mbu is not None else DEFAULT_MBU)
        cm = keyed("", ComputeModel, model, gpu, tp=self.tp, ep=self.ep, utilization=util,
                   memory_utilization=self.memory_utilization, instance_gpus=self.instance_gpus)
        if self.calibration_csv:
            cal = keyed("calibration_csv", calibrate, model, gpu, resolve(self.calibration_csv), tp=self.tp,
                        ep=self.ep, memory_utilization=self.memory_utilization)
            return dataclasses.replace(cm, utilization=cal.utilization)
        return cm


ComputeConfig = dataclasses.make_dataclass(
    "ComputeConfig",
    [(k, tp, hardware_field(k)) for k, (tp, _, _) in HARDWARE_KEYS.items()]
    + [("memory_utilization", float,
        spec(DEFAULT_MEMORY_UTILIZATION, gt=0.0, max=1.0, doc="share of GPU memory for weights + KV"))],
    bases=(_ComputeConfigMethods,),
    frozen=True,
    namespace={"__module__": __name__, "__doc__": "TOML form of a ComputeModel (e.g. an experiment's "
               "``[compute]`` table): the hardware keys of ``[serving]`` and ``memory_utilization``."},
)


__all__ = [
    "DEFAULT_MBU",
    "DEFAULT_MEMORY_UTILIZATION",
    "DEFAULT_MFU",
    "GPUS",
    "ComputeConfig",
    "ComputeModel",
    "Cost",
    "GpuProfile",
    "Utilization",
    "calibrate",
    "list_gpus",
    "load_gpu",
]
