"""G.711 mu-law, the telephone network's 8 kHz codec, to and from 16-bit PCM."""

from __future__ import annotations

import struct

_BIAS = 0x84


def _decode(byte: int) -> int:
    byte = ~byte & 0xFF
    sign = byte & 0x80
    exponent = (byte >> 4) & 0x07
    mantissa = byte & 0x0F
    magnitude = ((mantissa << 3) + _BIAS) << exponent
    return _BIAS - magnitude if sign else magnitude - _BIAS


# Segment ends of the G.711 reference encoder, on 14-bit magnitudes.
_SEGMENT_ENDS = (0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF)
_CLIP_14 = 8159
_BIAS_14 = 0x21


def _encode(sample: int) -> int:
    value = sample >> 2
    mask = 0xFF
    if value < 0:
        value, mask = -value, 0x7F
    value = min(value, _CLIP_14) + _BIAS_14
    for segment, end in enumerate(_SEGMENT_ENDS):
        if value <= end:
            return ((segment << 4) | ((value >> (segment + 1)) & 0x0F)) ^ mask
    return 0x7F ^ mask


_DECODE_TABLE = [struct.pack("<h", _decode(b)) for b in range(256)]
_ENCODE_TABLE = bytes(_encode(s) for s in range(-32768, 32768))


def ulaw_to_pcm16(data: bytes) -> bytes:
    return b"".join(_DECODE_TABLE[b] for b in data)


def pcm16_to_ulaw(pcm: bytes) -> bytes:
    samples = struct.unpack(f"<{len(pcm) // 2}h", pcm[: len(pcm) - len(pcm) % 2])
    return bytes(_ENCODE_TABLE[s + 32768] for s in samples)
