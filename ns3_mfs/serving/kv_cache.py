"""Reusable prefix KV: the KV store (an LRU of blocks on the KV-store servers) and each prefill instance's cache.

A request's prompt is a chain of blocks of ``kv_block_tokens`` tokens
(``Request.block_hashes``). When a request finishes its prefill its blocks
enter the KV store (LRU, ``kv_store_capacity_blocks``) and the cache of the
instance that computed them (LRU within the instance's free KV memory). A
later request reuses the longest prefix found in the KV store; with
``local_prefix_cache`` the blocks its instance holds are not fetched again.
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
    """The KV store and the prefix blocks each prefill instance holds."""

    def __init__(self, cfg: Any, layout: Layout, capacity_tokens: int):
        self.cfg, self.layout = cfg, layout
        self.block_tokens: int = cfg.kv_block_tokens
        self.capacity_tokens = capacity_tokens  #: KV memory of one instance (tokens)
        self.store_lru: "OrderedDict[int, None]" = OrderedDict()  # LRU of computed prefix blocks
        self.held: list[OrderedDict[int, None]] = [OrderedDict() for _ in layout.prefill]

    def cached_prefix(self, req: Request) -> tuple[int, ...]:
        """The request's leading blocks found in the KV store (a hit refreshes them)."""
        blocks = []
        for b in req.block_hashes:
            if b not in self.store_lru:
                break
            self.store_lru.move_to_end(b)  # a hit refreshes the block
            blocks.append(b)
        # At least one token is always computed (the last one produces the first token).
        max_blocks = max(0, (req.input_tokens - 1) // self.block_tokens)
        return tuple(blocks[:max_blocks])

    def store(self, blocks: tuple[int, ...]) -> None:
        """Keep a request's prefix blocks in the KV store, evicting the least recently used."""
        lru_add(self.store_lru, blocks, self.cfg.kv_store_capacity_blocks)

    def kv_host(self, req: Request, block: int) -> int:
        """KV-store NIC of a block: by block id, or all of a session's blocks together."""
        if self.cfg.kv_placement == "session" and req.block_hashes:
            return self.layout.kv_host_for_block(req.block_hashes[0])
        return self.layout.kv_host_for_block(block)

    def hold(self, inst: int, blocks: tuple[int, ...]) -> None:
        """The instance now holds these prefix blocks (LRU within its KV capacity)."""
        lru_add(self.held[inst], blocks, self.capacity_tokens // self.block_tokens)

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
