"""Mixture-of-experts model architectures and the sizes the network moves.

A :class:`ModelSpec` holds the published architecture of one MoE LLM (the
values of its Hugging Face ``config.json``) and derives from it the byte
counts that become network flows (KV cache per token, EP all-to-all dispatch
and combine, TP all-reduce) and the parameter counts that the compute model
(:mod:`ns3_mfs.serving.compute`) turns into FLOPs and memory traffic.

The catalogue is data, not code: one TOML file per model in ``model_data/``,
each citing its source. :func:`load_model` takes a catalogue name
(case-insensitive, e.g. ``"mixtral-8x7b"``) or the path of a user TOML file
with the same keys; :func:`list_models` lists the catalogue.

Conventions:

* Sizes are in bytes and assume ``bytes_per_element`` bytes per weight,
  activation and KV element (2 for FP16/BF16).
* Feed-forward blocks (dense FFN and every expert) are gated (SwiGLU/GeGLU):
  three ``hidden x intermediate`` matrices, as in every catalogue model.
* The first ``layers - moe_layers`` layers are dense and the rest are MoE
  (DeepSeek-V3's ``first_k_dense_replace``).
* Attention is MHA/GQA (``num_heads`` query heads of ``head_dim``,
  ``kv_heads`` key/value heads) unless ``kv_lora_rank`` and
  ``qk_rope_head_dim`` are given: then it is MLA (Multi-head Latent
  Attention) and ``head_dim`` is the non-rotary query/key head dimension
  (``qk_nope_head_dim``).

Nothing here touches ns-3 or the file system except :func:`load_model`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from ..config import ConfigError, from_dict, load_toml, spec

#: Folder holding the catalogue, one ``<name>.toml`` per model.
MODEL_DATA = Path(__file__).resolve().parent / "model_data"

#: Matrices in a gated feed-forward block (gate, up, down).
FFN_MATRICES = 3


@dataclass(frozen=True)
class ModelSpec:
    """Architecture of one (MoE) transformer, as in its ``config.json``.

    Upper bounds are generous physical limits (several times today's largest
    models: hidden 131,072, 4,096 experts, 100 T parameters) so that a typo
    cannot make a run simulate for days.
    """

    name: str = spec(doc="model name shown in results")
    layers: int = spec(min=1, max=1024, doc="transformer layers (num_hidden_layers)")
    moe_layers: int = spec(min=0, max=1024, doc="how many of the layers are MoE (the last ones)")
    hidden_size: int = spec(min=1, max=131072, doc="model (residual stream) width")
    intermediate_size: int = spec(min=1, max=1048576, doc="dense FFN width (used by the dense layers)")
    moe_intermediate_size: int = spec(min=1, max=1048576, doc="FFN width of one expert")
    experts: int = spec(min=1, max=4096, doc="routed experts per MoE layer")
    top_k: int = spec(min=1, max=256, doc="routed experts activated per token")
    num_heads: int = spec(min=1, max=4096, doc="query heads")
    kv_heads: int = spec(min=1, max=4096, doc="key/value heads (= num_heads for MHA and MLA)")
    head_dim: int = spec(min=1, max=4096, doc="per-head dim (MLA: qk_nope_head_dim)")
    vocab_size: int = spec(min=1, max=10_000_000, doc="vocabulary size")
    total_params: float = spec(gt=0.0, max=100_000.0, doc="total parameters in billions (model card)")
    active_params: float = spec(gt=0.0, max=100_000.0, doc="parameters active per token in billions (model card)")
    shared_experts: int = spec(0, min=0, max=256, doc="always-active shared experts per MoE layer")
    kv_lora_rank: Optional[int] = spec(None, min=1, max=131072, doc="MLA: compressed KV latent width")
    qk_rope_head_dim: Optional[int] = spec(None, min=1, max=4096, doc="MLA: decoupled RoPE key width")
    q_lora_rank: Optional[int] = spec(None, min=1, max=131072, doc="MLA: compressed query width (absent: none)")
    v_head_dim: Optional[int] = spec(None, min=1, max=4096, doc="value head dim (absent: head_dim)")
    tie_word_embeddings: bool = spec(False, doc="output layer shares the embedding matrix")
    bytes_per_element: int = spec(2, choices=(1, 2, 4), doc="bytes per element: 2 FP16/BF16, 1 FP8, 4 FP32")

    def validate(self, path: str = "") -> None:
        """Cross-field checks (called by :func:`~ns3_mfs.config.from_dict`)."""
        p = f"{path}." if path else ""
        if self.moe_layers > self.layers:
            raise ConfigError(f"{p}moe_layers: {self.moe_layers} is more than layers ({self.layers})")
        if self.top_k > self.experts:
            raise ConfigError(f"{p}top_k: {self.top_k} is more than experts ({self.experts})")
        if self.num_heads % self.kv_heads:
            raise ConfigError(
                f"{p}kv_heads: {self.kv_heads} does not divide num_heads ({self.num_heads})"
            )
        if (self.kv_lora_rank is None) != (self.qk_rope_head_dim is None):
            raise ConfigError(
                f"{p}kv_lora_rank: MLA needs both kv_lora_rank and qk_rope_head_dim "
                f"(got kv_lora_rank={self.kv_lora_rank!r}, qk_rope_head_dim={self.qk_rope_head_dim!r})"
            )
        if self.q_lora_rank is not None and not self.is_mla:
            raise ConfigError(f"{p}q_lora_rank: only meaningful for MLA (set kv_lora_rank and qk_rope_head_dim)")
        if self.active_params > self.total_params:
            raise ConfigError(
                f"{p}active_params: {self.active_params} is more than total_params ({self.total_params})"
            )

    # ----------------------------------------------------------------- shape

    @property
    def is_mla(self) -> bool:
        """True for Multi-head Latent Attention (kv_lora_rank given)."""
        return self.kv_lora_rank is not None

    @property
    def dense_layers(self) -> int:
        """Layers with a dense FFN: ``layers - moe_layers`` (they come first)."""
        return self.layers - self.moe_layers

    def is_moe_layer(self, layer: int) -> bool:
        """Whether 0-based ``layer`` is MoE: ``layer >= layers - moe_layers``."""
        if not 0 <= layer < self.layers:
            raise IndexError(f"layer {layer} out of range 0..{self.layers - 1} for {self.name}")
        return layer >= self.dense_layers

    @property
    def qk_head_dim(self) -> int:
        """Query/key dim per head: ``head_dim`` (+ ``qk_rope_head_dim`` for MLA)."""
        return self.head_dim + (self.qk_rope_head_dim or 0)

    @property
    def value_head_dim(self) -> int:
        """Value dim per head: ``v_head_dim`` or else ``head_dim``."""
        return self.v_head_dim or self.head_dim

    # ------------------------------------------------------ network payloads

    def kv_bytes_per_token_per_layer(self) -> int:
        """KV-cache bytes one token adds in one layer.

        MHA/GQA: ``2 * kv_heads * head_dim * bytes`` (a key and a value per KV
        head). MLA: ``(kv_lora_rank + qk_rope_head_dim) * bytes`` (the
        compressed latent plus the shared RoPE key, the same for all heads).
        """
        if self.is_mla:
            return (self.kv_lora_rank + self.qk_rope_head_dim) * self.bytes_per_element
        return 2 * self.kv_heads * self.head_dim * self.bytes_per_element

    def kv_bytes_per_token(self) -> int:
        """KV-cache bytes of one token over all layers: ``layers * per layer``."""
        return self.layers * self.kv_bytes_per_token_per_layer()

    def dispatch_bytes_per_token(self) -> int:
        """EP all-to-all dispatch bytes per token and MoE layer.

        ``top_k * hidden_size * bytes``: the token's hidden state is sent to
        each of its ``top_k`` routed experts (copies to experts on the sender's
        own GPU never reach the network; the traffic layer subtracts them).
        """
        return self.top_k * self.hidden_size * self.bytes_per_element

    def combine_bytes_per_token(self) -> int:
        """EP all-to-all combine bytes per token and MoE layer.

        ``top_k * hidden_size * bytes``: each routed expert returns one
        hidden-size output, the mirror image of the dispatch.
        """
        return self.top_k * self.hidden_size * self.bytes_per_element

    def tp_allreduce_bytes_per_token(self) -> int:
        """Buffer bytes per token of one TP all-reduce: ``hidden_size * bytes``.

        A layer does two (after attention and after the FFN). A ring
        all-reduce over T ranks sends and receives ``2 (T - 1) / T`` times
        this buffer per rank.
        """
        return self.hidden_size * self.bytes_per_element

    # ------------------------------------------------------------ parameters

    def attention_params_per_layer(self) -> int:
        """Weights of one attention block (projections only, no norms).

        MHA/GQA: ``hidden * H * d`` (Q) + ``2 * hidden * kv_heads * d`` (K, V)
        + ``H * d_v * hidden`` (O), with H = num_heads, d = head_dim.

        MLA: Q = ``hidden * q_lora + q_lora * H * d_qk`` (or ``hidden * H *
        d_qk`` without q_lora_rank), KV down-projection ``hidden *
        (kv_lora_rank + rope)``, KV up-projection ``kv_lora_rank * H * (d +
        d_v)``, O = ``H * d_v * hidden``; d_qk = head_dim + rope.
        """
        h, H, dv = self.hidden_size, self.num_heads, self.value_head_dim
        out = H * dv * h
        if not self.is_mla:
            return h * H * self.head_dim + 2 * h * self.kv_heads * self.head_dim + out
        if self.q_lora_rank:
            q = h * self.q_lora_rank + self.q_lora_rank * H * self.qk_head_dim
        else:
            q = h * H * self.qk_head_dim
        kv = h * (self.kv_lora_rank + self.qk_rope_head_dim) + self.kv_lora_rank * H * (self.head_dim + dv)
        return q + kv + out

    def expert_params(self) -> int:
        """Weights of one expert: ``3 * hidden * moe_intermediate`` (gated FFN)."""
        return FFN_MATRICES * self.hidden_size * self.moe_intermediate_size

    def dense_ffn_params(self) -> int:
        """Weights of one dense FFN: ``3 * hidden * intermediate`` (gated FFN)."""
        return FFN_MATRICES * self.hidden_size * self.intermediate_size

    def router_params(self) -> int:
        """Weights of one MoE router (gate): ``hidden * experts``."""
        return self.hidden_size * self.experts

    def embedding_params(self) -> int:
        """Input embedding plus output layer: ``vocab * hidden * (1 or 2)``."""
        return self.vocab_size * self.hidden_size * (1 if self.tie_word_embeddings else 2)

    def routed_expert_params(self) -> int:
        """All routed-expert weights: ``moe_layers * experts * expert_params``."""
        return self.moe_layers * self.experts * self.expert_params()

    def estimated_params(self) -> int:
        """Total weights from the architecture (norms and biases left out).

        ``layers * attention + dense_layers * dense_ffn + moe_layers *
        ((experts + shared) * expert + router) + embeddings``. Agrees with
        the model card's ``total_params`` within a few percent; a sanity check
        of the data, the card value is what sizes use.
        """
        moe = (self.experts + self.shared_experts) * self.expert_params() + self.router_params()
        return (
            self.layers * self.attention_params_per_layer()
            + self.dense_layers * self.dense_ffn_params()
            + self.moe_layers * moe
            + self.embedding_params()
        )

    def estimated_active_params(self) -> int:
        """Weights one token touches: as :meth:`estimated_params` with only
        ``top_k + shared`` experts per MoE layer."""
        moe = (self.top_k + self.shared_experts) * self.expert_params() + self.router_params()
        return (
            self.layers * self.attention_params_per_layer()
            + self.dense_layers * self.dense_ffn_params()
            + self.moe_layers * moe
            + self.embedding_params()
        )

    def expert_weight_fraction(self) -> float:
        """Share of the weights held by routed experts (estimated from the
        architecture): ``routed_expert_params / estimated_params``. Used to
        split the model card's total between EP- and TP-sharded weights."""
        return self.routed_expert_params() / self.estimated_params()

    # ----------------------------------------------------------- weight bytes

    def weight_bytes(self) -> int:
        """All weights in memory: ``total_params * 1e9 * bytes``."""
        return int(round(self.total_params * 1e9 * self.bytes_per_element))

    def active_weight_bytes_per_token_layer(self) -> int:
        """Weight bytes one token touches in one MoE layer:
        ``(attention + (top_k + shared) * expert + router) * bytes``."""
        params = (
            self.attention_params_per_layer()
            + (self.top_k + self.shared_experts) * self.expert_params()
            + self.router_params()
        )
        return params * self.bytes_per_element

    def expert_weight_bytes(self) -> int:
        """Bytes of one expert: ``expert_params * bytes``."""
        return self.expert_params() * self.bytes_per_element


# ---------------------------------------------------------------- catalogue


def list_models() -> list[str]:
    """Catalogue names (lower case, the TOML file stems), sorted."""
    return sorted(p.stem for p in MODEL_DATA.glob("*.toml"))


def _from_file(path: Path) -> ModelSpec:
    data = load_toml(path)
    try:
        return from_dict(ModelSpec, data)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def load_model(name_or_path: str | Path | ModelSpec) -> ModelSpec:
    """A catalogue model by name (case-insensitive) or a user TOML file.

    A value that names an existing file, ends in ``.toml`` or contains a path
    separator is read as a file with the keys of :class:`ModelSpec`; anything
    else is looked up in the catalogue (:func:`list_models`). Errors are
    :class:`~ns3_mfs.config.ConfigError` naming the file and key, or listing
    the catalogue for an unknown name. A :class:`ModelSpec` is returned as is.
    """
    if isinstance(name_or_path, ModelSpec):
        return name_or_path
    text = str(name_or_path)
    path = Path(text).expanduser()
    if isinstance(name_or_path, Path) or text.endswith(".toml") or "/" in text or path.is_file():
        return _from_file(path)
    key = text.strip().lower()
    if key in list_models():
        return _from_file(MODEL_DATA / f"{key}.toml")
    raise ConfigError(
        f"model {text!r}: unknown model; available: {', '.join(list_models())} "
        f"(or the path of a TOML file with the ModelSpec keys)"
    )


def ring_allreduce_bytes_per_rank(buffer_bytes: float, ranks: int) -> float:
    """Bytes each rank sends (and receives) in a ring all-reduce of a buffer:
    ``2 * (ranks - 1) / ranks * buffer_bytes`` (reduce-scatter + all-gather)."""
    if ranks < 1:
        raise ValueError(f"ranks must be >= 1, got {ranks}")
    return 2.0 * (ranks - 1) / ranks * buffer_bytes


__all__ = [
    "FFN_MATRICES",
    "MODEL_DATA",
    "ModelSpec",
    "list_models",
    "load_model",
    "ring_allreduce_bytes_per_rank",
]
