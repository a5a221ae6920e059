"""A JPEG whose header promises more pixels than its data can hold is refused before decoding.

libjpeg treats an end-of-image marker in the middle of the entropy-coded data as a warning and
fills the rest of the image with grey, so a file whose header claims 7000x7000 but carries
64x64 of data would decode "successfully", padded. Huffman coding spends at least one bit on
every 8x8 block's DC coefficient, so a Huffman-coded JPEG (SOF0, SOF1, SOF2) of W x H pixels
has at least ceil(W/8) * ceil(H/8) / 8 bytes of scan data; fewer means the data is missing.
Pure byte parsing: nothing here decodes.
"""

from __future__ import annotations

HUFFMAN_FRAMES = (0xC0, 0xC1, 0xC2)
STANDALONE = {0x01, 0xD8, 0xD9, *range(0xD0, 0xD8)}  # TEM, SOI, EOI, RST0-7
SOS = 0xDA
EOI = 0xD9


class MissingScanData(ValueError):
    pass


def check_scan_data(data: bytes) -> None:
    """Raise MissingScanData if a Huffman-coded JPEG carries too little data for its size."""
    frame: tuple[int, int, int] | None = None  # (marker, width, height)
    scan_bytes = 0
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            return  # not a well-formed segment: leave it to the decoder
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker == EOI:
            break
        if marker in STANDALONE:
            i += 2
            continue
        length = int.from_bytes(data[i + 2 : i + 4], "big")
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC) and i + 9 <= len(data):
            height = int.from_bytes(data[i + 5 : i + 7], "big")
            width = int.from_bytes(data[i + 7 : i + 9], "big")
            frame = (marker, width, height)
        i += 2 + length
        if marker == SOS:
            end = _end_of_entropy_data(data, i)
            scan_bytes += end - i
            i = end
    _compare(frame, scan_bytes)


def _end_of_entropy_data(data: bytes, start: int) -> int:
    """Index of the first marker after the scan that is not a stuffed byte or a restart."""
    i = start
    while True:
        i = data.find(b"\xff", i)
        if i < 0 or i + 1 >= len(data):
            return len(data)
        following = data[i + 1]
        if following == 0x00 or 0xD0 <= following <= 0xD7:
            i += 2
            continue
        return i


def _compare(frame: tuple[int, int, int] | None, scan_bytes: int) -> None:
    if frame is None or frame[0] not in HUFFMAN_FRAMES:
        return
    _, width, height = frame
    blocks = -(-width // 8) * -(-height // 8)
    needed = blocks // 8
    if scan_bytes < needed:
        raise MissingScanData(
            f"The JPEG header says {width}x{height} pixels, but it carries {scan_bytes} bytes "
            f"of image data; at least {needed} are needed: the file is truncated or damaged."
        )
