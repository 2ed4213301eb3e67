"""Reusable prefix KV: where each block lives, and each prefill instance's cache.

A request's prompt is a chain of blocks (``Request.block_hashes``) of
``serving.kv_block_tokens`` tokens, by default the trace's block size
(Mooncake 512, Qwen-Bailian 16). When a request finishes its prefill its blocks
enter the cache of the instance that computed them (LRU within the
instance's free KV memory), held by the GPU of the request's attention
group. Where a later request's reused prefix (the longest run of leading
blocks found) is fetched from depends on ``serving.kv_pool``:

* ``prefill`` (default; Mooncake Store, the MFS testbed): the KV pool *is*
  the prefill instances' caches. A block is fetched from the GPU (and so the
  NIC) of the instance holding it, so hot prefixes converge on one "victim"
  instance that is also running its own collectives; a block this
  instance holds itself is not fetched. A block evicted from its holder's
  cache is gone from the pool.
* ``dedicated``: a separate KV store on the topology's last
  ``kv_store_servers`` servers (LRU, ``kv_store_capacity_blocks``); blocks
  are fetched from the store server's NIC (placed by block id or session),
  and with ``local_prefix_cache`` the blocks the instance holds are not
  fetched again. Uploads of new blocks to the store are not simulated.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Optional

from .cluster import Layout
from .requests import Request


def lru_add(lru: "OrderedDict[int, None]", blocks: tuple[int, ...], capacity: Optional[int]) -> None:
    """Add (or refresh) blocks in an LRU set, evicting the least recently used beyond ``capacity``."""
    for b in blocks:
        lru[b] = None
        lru.move_to_end(b)
    while capacity is not None and len(lru) > capacity:
        lru.popitem(last=False)


class KvCache:
    """The KV pool (prefill instances' caches or a dedicated store) and the prefix blocks each instance holds."""

    def __init__(self, cfg: Any, layout: Layout, capacity_tokens: int, block_tokens: Optional[int] = None):
        self.cfg, self.layout = cfg, layout
        self.block_tokens: int = block_tokens or cfg.kv_block_tokens or 512
        self.pooled = getattr(cfg, "kv_pool", "dedicated") == "prefill"
        self.capacity_tokens = capacity_tokens  #: KV memory of one instance (tokens)
        self.store_lru: "OrderedDict[int, None]" = OrderedDict()  # dedicated: LRU of computed prefix blocks
        self.held: list[OrderedDict[int, None]] = [OrderedDict() for _ in layout.prefill]
        #: prefill pool: block -> {instance: GPU} of its holders, the first holder first
        self.holders: dict[int, dict[int, int]] = {}

    def _in_pool(self, block: int) -> bool:
        return block in (self.holders if self.pooled else self.store_lru)

    def cached_prefix(self, req: Request) -> tuple[int, ...]:
        """The request's leading blocks found in the pool (a hit refreshes them)."""
        blocks = []
        for b in req.block_hashes:
            if not self._in_pool(b):
                break
            for inst in (self.holders[b] if self.pooled else ()):
                self.held[inst].move_to_end(b)  # a hit refreshes the block where it lives
            if not self.pooled:
                self.store_lru.move_to_end(b)
            blocks.append(b)
        # At least one token is always computed (the last one produces the first token).
        max_blocks = max(0, (req.input_tokens - 1) // self.block_tokens)
        return tuple(blocks[:max_blocks])

    def store(self, blocks: tuple[int, ...]) -> None:
        """Dedicated pool: keep a request's prefix blocks in the KV store, evicting the least recently used."""
        if not self.pooled:
            lru_add(self.store_lru, blocks, self.cfg.kv_store_capacity_blocks)

    def source(self, req: Request, block: int) -> tuple[str, int]:
        """Where a reused block is fetched from: ``("gpu", holder)`` or ``("host", KV-store NIC)``."""
        if self.pooled:
            return "gpu", next(iter(self.holders[block].values()))  # the first holder: hot prefixes meet there
        if self.cfg.kv_placement == "session" and req.block_hashes:
            return "host", self.layout.kv_host_for_block(req.block_hashes[0])
        return "host", self.layout.kv_host_for_block(block)

    def hold(self, inst: int, blocks: tuple[int, ...], gpu: int) -> None:
        """The instance (its GPU ``gpu``) now holds these prefix blocks (LRU within its KV capacity)."""
        held = self.held[inst]
        for b in blocks:
            held[b] = None
            held.move_to_end(b)
            if self.pooled:
                self.holders.setdefault(b, {}).setdefault(inst, gpu)
        while len(held) > self.capacity_tokens // self.block_tokens:
            b, _ = held.popitem(last=False)
            if self.pooled:
                self.holders[b].pop(inst, None)
                if not self.holders[b]:
                    del self.holders[b]

    def held_prefix(self, inst: int, req: Request) -> int:
        """Leading blocks of the request that the instance holds."""
        held, n = self.held[inst], 0
        for b in req.block_hashes:
            if b not in held:
                break
            n += 1
        return n

    def held_tokens(self, inst: int) -> int:
        return len(self.held[inst]) * self.block_tokens

    def local_blocks(self, inst: int, blocks: tuple[int, ...]) -> frozenset:
        """Those of ``blocks`` the instance holds itself."""
        return frozenset(b for b in blocks if b in self.held[inst])
