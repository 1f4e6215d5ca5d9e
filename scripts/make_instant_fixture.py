#!/usr/bin/env python3
"""Build tests/fixtures/instant/: small inputs and the ONNX graphs' own outputs (onnxruntime),
which tests/instant.rs compares the candle networks against.

The arbitrary transform graph is fixed at 384×384; a copy with symbolic height and width runs it at
the fixture's 128×96 (every op in it is shape-generic), so the test also covers a non-square size.
The predictor runs at its fixed 256×256, as in the product.

Writes content.png (128×96, from assets/samples/chelsea.png, CC0), style.png (256×256 centre crop
of assets/samples/starry_night.jpg, public domain) and expected.safetensors:
  style_vector [100]         predictor(style.png)
  content_vector [100]       predictor(content.png resized to 256×256)
  arbitrary [1,3,96,128]     transform(content.png, style_vector) in 0..1, NCHW (as shipped:
                             int8 activations)
  arbitrary_float [1,3,96,128] the same with activation QDQ pairs turned into Identity (float)
  multistyle [1,3,96,128]    multistyle26(content.png, BLEND) in 0..1
  blend [26]                 the BLEND weights

Usage: /opt/ref-venv/bin/python scripts/make_instant_fixture.py [--models /work/shared/models]
"""
import argparse
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from PIL import Image
from safetensors.numpy import save_file

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "fixtures" / "instant"
BLEND = {3: 0.5, 12: 0.3, 19: 0.2}


def session(model):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.log_severity_level = 3
    return ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])


def shape_generic(model):
    """The same graph with symbolic H and W on the content input and the output."""
    g = model.graph
    for v in (g.input[0], g.output[0]):
        dims = v.type.tensor_type.shape.dim
        dims[1].dim_param, dims[2].dim_param = "h", "w"
    del g.value_info[:]
    return model


def float_activations(model):
    """The same graph computing in float: QuantizeLinear nodes and the DequantizeLinear nodes of
    activations become Identity (weight DequantizeLinear nodes stay). This is the network the
    candle port implements; the shipped graph also rounds every activation to int8."""
    g = model.graph
    inits = {i.name for i in g.initializer}
    for n in g.node:
        if n.op_type == "QuantizeLinear" or (n.op_type == "DequantizeLinear" and n.input[0] not in inits):
            n.op_type = "Identity"
            del n.input[1:]
            del n.attribute[:]
    return model


def rgb01(img):
    return np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default="/work/shared/models", type=Path)
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)

    content = Image.open(ROOT / "assets/samples/chelsea.png").convert("RGB").resize((128, 96), Image.LANCZOS)
    content.save(OUT / "content.png", optimize=True)
    style = Image.open(ROOT / "assets/samples/starry_night.jpg").convert("RGB")
    side = min(style.size)
    left, top = (style.width - side) // 2, (style.height - side) // 2
    style = style.crop((left, top, left + side, top + side)).resize((256, 256), Image.LANCZOS)
    style.save(OUT / "style.png", optimize=True)
    # Reload what was written, so the inputs are exactly the PNG bytes the test decodes.
    content = rgb01(Image.open(OUT / "content.png"))
    style = rgb01(Image.open(OUT / "style.png"))
    content256 = rgb01(Image.open(OUT / "content.png").resize((256, 256), Image.BILINEAR))
    Image.fromarray((content256 * 255).round().astype(np.uint8)).save(OUT / "content256.png")
    content256 = rgb01(Image.open(OUT / "content256.png"))

    predict = session(onnx.load(str(args.models / "arbitrary_predict.onnx")))
    pin = predict.get_inputs()[0].name
    style_vec = predict.run(None, {pin: style[None]})[0]
    content_vec = predict.run(None, {pin: content256[None]})[0]

    transform = session(shape_generic(onnx.load(str(args.models / "arbitrary_transform.onnx"))))
    names = [i.name for i in transform.get_inputs()]
    arbitrary = transform.run(None, {names[0]: content[None], names[1]: style_vec})[0]
    ftransform = session(float_activations(shape_generic(onnx.load(str(args.models / "arbitrary_transform.onnx")))))
    arbitrary_float = ftransform.run(None, {names[0]: content[None], names[1]: style_vec})[0]

    multi = session(onnx.load(str(args.models / "multistyle26.onnx")))
    blend = np.zeros(26, np.float32)
    for i, w in BLEND.items():
        blend[i] = w
    x = np.ascontiguousarray(content.transpose(2, 0, 1)[None])
    multistyle = multi.run(None, {"image": x, "style_weights": blend})[0]

    save_file({
        "style_vector": style_vec.reshape(100).astype(np.float32),
        "content_vector": content_vec.reshape(100).astype(np.float32),
        "arbitrary": np.ascontiguousarray(arbitrary.transpose(0, 3, 1, 2)).astype(np.float32),
        "arbitrary_float": np.ascontiguousarray(arbitrary_float.transpose(0, 3, 1, 2)).astype(np.float32),
        "multistyle": multistyle.astype(np.float32),
        "blend": blend,
    }, str(OUT / "expected.safetensors"))
    for p in sorted(OUT.iterdir()):
        print(p.relative_to(ROOT), p.stat().st_size)


if __name__ == "__main__":
    main()
