"""Freed image buffers go back to the operating system at once.

glibc's malloc raises its mmap threshold each time a large mmapped block is freed (up to
32 MB), after which decoded images (Pillow allocates them in blocks of up to 16 MB) come from
the per-thread heaps and stay in the process when freed: 32 decoding threads kept a worker
~460 MB above what the pixel budget let them hold at once. A fixed threshold keeps every large
block mmapped, so the worker's RSS follows what it really holds.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger(__name__)

M_MMAP_THRESHOLD = -3  # <malloc.h>
LARGE_BLOCK_BYTES = 1024 * 1024


def return_large_blocks_to_os(threshold_bytes: int = LARGE_BLOCK_BYTES) -> bool:
    """Fix malloc's mmap threshold (glibc only); False where that is not possible."""
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        done = bool(libc.mallopt(M_MMAP_THRESHOLD, threshold_bytes))
    except (OSError, AttributeError):
        done = False
    if not done:
        log.info("malloc's mmap threshold stays dynamic (not glibc)")
    return done
