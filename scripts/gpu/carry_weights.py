#!/usr/bin/env python3
"""Makes the VGG weights file the GPU check carries: small enough for the device tool's 64 MiB.

    carry_weights.py SRC DST [--f32-through N] [--last-conv N]

Keeps every `features.N.weight/bias` up to conv index N (default 24: conv5_1, under relu5_1,
the deepest layer the default style layers and the reference read); the convolutions after it
are written as zeros of the right shape, so Atelier still recognizes the architecture (it checks
every convolution's shape) and xz shrinks them to nothing. A run that taps a layer after N is
wrong with this file: only the GPU check uses it. Convolutions up to `--f32-through` (default: all
kept ones) stay f32, exact; later kept ones are rounded to f16 (Atelier and the patched reference
widen them to f32 on load), which moves the losses of the layers after them by ~1e-4 relative.
The safetensors metadata (`preprocess`, `arch`) is kept, with a note of what was done.
Pure Python (no numpy), so it runs anywhere.
"""
import argparse
import json
import struct


def read(path):
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    header = json.loads(b[8:8 + n])
    return header, b[8 + n:]


def to_f16(raw, dtype):
    if dtype != "F32":
        raise SystemExit(f"carry_weights.py: expected F32 tensors, got {dtype}")
    n = len(raw) // 4
    return struct.pack(f"<{n}e", *struct.unpack(f"<{n}f", raw))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("src")
    p.add_argument("dst")
    p.add_argument("--f32-through", type=int, default=None)
    p.add_argument("--last-conv", type=int, default=24)
    a = p.parse_args()
    f32_through = a.last_conv if a.f32_through is None else a.f32_through
    header, data = read(a.src)
    meta = dict(header.pop("__metadata__", None) or {})
    out_header, chunks, offset = {}, [], 0
    for name in sorted(header):
        info = header[name]
        s, e = info["data_offsets"]
        raw = data[s:e]
        index = int(name.split(".")[1]) if name.startswith("features.") else None
        dtype = info["dtype"]
        if index is not None and index > a.last_conv:
            raw = bytes(len(raw))
        elif index is not None and index > f32_through:
            raw, dtype = to_f16(raw, dtype), "F16"
        out_header[name] = {"dtype": dtype, "shape": info["shape"], "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    meta["atelier_gpu_check"] = (f"f32 through features.{f32_through}, f16 after it, zeros after "
                                 f"features.{a.last_conv} (scripts/gpu/carry_weights.py): "
                                 "for the GPU check only")
    out_header["__metadata__"] = meta
    h = json.dumps(out_header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(a.dst, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for c in chunks:
            f.write(c)


if __name__ == "__main__":
    main()
