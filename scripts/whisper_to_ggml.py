#!/usr/bin/env python3
"""Write a whisper.cpp legacy-`ggml` model file (what whisper.cpp's whisper_model_load reads)
from a faster-whisper (CTranslate2) Whisper folder, or from the HF-transformers layout that
scripts/convert_whisper_ct2.py produces.

    python3 whisper_to_ggml.py --hf  HF_DIR  --out ggml-model.bin  [--ftype 1|0]
    python3 whisper_to_ggml.py --ct2 CT2_DIR --out ggml-model.bin  [--ftype 1|0]
                           [--converter scripts/convert_whisper_ct2.py]

--hf  reads HF_DIR/{model.safetensors, config.json, tokenizer.json, mel_filters.bin}.
--ct2 reads CT2_DIR/{model.bin, tokenizer.json} with the read_ct2/map_tensors/mel_filters
      functions of convert_whisper_ct2.py (imported by path), no intermediate files.

File layout (little-endian int32 unless noted), as in whisper.cpp models/convert-*-to-ggml.py:
  magic 0x67676d6c
  hparams: n_vocab n_audio_ctx n_audio_state n_audio_head n_audio_layer
           n_text_ctx n_text_state n_text_head n_text_layer n_mels ftype
  mel filters: n_mel n_fft, then n_mel*n_fft f32
  vocab: count, then per token (id order) u32 len + raw bytes (GPT-2 byte-level BPE decoded);
         only the ordinary BPE tokens (id < <|endoftext|>), like the tiktoken files the
         original converter reads; whisper.cpp names the special ids itself.
  tensors: n_dims, name_len, ttype (0 f32, 1 f16), dims reversed, name bytes, data
Tensor names follow whisper.cpp's convert-h5-to-ggml.py HF->OpenAI mapping.  f16 for tensors
with >= 2 dims except conv biases (reshaped to [n,1]) and positional embeddings, which stay f32.
Needs numpy only.
"""
import argparse
import importlib.util
import json
import os
import struct
import sys

import numpy as np

CONV_MAP = {  # convert-h5-to-ggml.py conv_map (HF name piece -> OpenAI name piece)
    "self_attn.k_proj": "attn.key",
    "self_attn.q_proj": "attn.query",
    "self_attn.v_proj": "attn.value",
    "self_attn.out_proj": "attn.out",
    "self_attn_layer_norm": "attn_ln",
    "encoder_attn.q_proj": "cross_attn.query",
    "encoder_attn.k_proj": "cross_attn.key",
    "encoder_attn.v_proj": "cross_attn.value",
    "encoder_attn.out_proj": "cross_attn.out",
    "encoder_attn_layer_norm": "cross_attn_ln",
    "fc1": "mlp.0",
    "fc2": "mlp.2",
    "final_layer_norm": "mlp_ln",
    "encoder.layer_norm.bias": "encoder.ln_post.bias",
    "encoder.layer_norm.weight": "encoder.ln_post.weight",
    "encoder.embed_positions.weight": "encoder.positional_embedding",
    "decoder.layer_norm.bias": "decoder.ln.bias",
    "decoder.layer_norm.weight": "decoder.ln.weight",
    "decoder.embed_positions.weight": "decoder.positional_embedding",
    "decoder.embed_tokens.weight": "decoder.token_embedding.weight",
    "proj_out.weight": "decoder.proj.weight",
}
F32_NAMES = {"encoder.conv1.bias", "encoder.conv2.bias",
             "encoder.positional_embedding", "decoder.positional_embedding"}


def hf_to_openai(name):
    """model.encoder.layers.0.self_attn.q_proj.weight -> encoder.blocks.0.attn.query.weight"""
    name = name[len("model."):] if name.startswith("model.") else name
    if name in CONV_MAP:
        return CONV_MAP[name]
    parts = name.split(".")
    if len(parts) >= 4 and parts[1] == "layers":  # {side}.layers.{i}.{rest}.{weight|bias}
        side, idx, rest, kind = parts[0], parts[2], ".".join(parts[3:-1]), parts[-1]
        if rest not in CONV_MAP:
            raise SystemExit(f"error: no mapping for {name}")
        return f"{side}.blocks.{idx}.{CONV_MAP[rest]}.{kind}"
    return name  # encoder.conv1.weight etc. keep their names


def bytes_to_unicode():
    """GPT-2's byte <-> printable-unicode table (openai/gpt-2 encoder.py)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
    base = 8 + n
    mm = np.memmap(path, dtype=np.uint8, mode="r")
    dt = {"F32": "<f4", "F16": "<f2"}
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        out[name] = mm[base + a: base + b].view(dt[info["dtype"]]).reshape(info["shape"])
    return out


def load_hf(d):
    with open(os.path.join(d, "config.json")) as f:
        cfg = json.load(f)
    tensors = read_safetensors(os.path.join(d, "model.safetensors"))
    n_mels = cfg["num_mel_bins"]
    mel = np.fromfile(os.path.join(d, "mel_filters.bin"), dtype="<f4").reshape(n_mels, -1)
    hp = dict(n_vocab=cfg["vocab_size"], n_audio_ctx=cfg["max_source_positions"],
              n_audio_state=cfg["d_model"], n_audio_head=cfg["encoder_attention_heads"],
              n_audio_layer=cfg["encoder_layers"], n_text_ctx=cfg["max_target_positions"],
              n_text_state=cfg["d_model"], n_text_head=cfg["decoder_attention_heads"],
              n_text_layer=cfg["decoder_layers"], n_mels=n_mels)
    return hp, list(tensors.items()), mel, os.path.join(d, "tokenizer.json")


def load_ct2(d, converter):
    spec = importlib.util.spec_from_file_location("convert_whisper_ct2", converter)
    conv = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conv)
    specname, _, variables = conv.read_ct2(os.path.join(d, "model.bin"))
    if specname != "WhisperSpec":
        raise SystemExit(f"error: {d}/model.bin is {specname}, not WhisperSpec")
    tensors, dims = conv.map_tensors(variables)
    hp = dict(n_vocab=dims["vocab_size"], n_audio_ctx=dims["max_source_positions"],
              n_audio_state=dims["d_model"], n_audio_head=dims["encoder_attention_heads"],
              n_audio_layer=dims["encoder_layers"], n_text_ctx=dims["max_target_positions"],
              n_text_state=dims["d_model"], n_text_head=dims["decoder_attention_heads"],
              n_text_layer=dims["decoder_layers"], n_mels=dims["num_mel_bins"])
    return hp, tensors, conv.mel_filters(dims["num_mel_bins"]), os.path.join(d, "tokenizer.json")


def vocab_bytes(tok_path):
    with open(tok_path, encoding="utf-8") as f:
        tok = json.load(f)
    eot = {t["content"]: t["id"] for t in tok["added_tokens"]}["<|endoftext|>"]
    vocab = tok["model"]["vocab"]
    by_id = sorted((i, s) for s, i in vocab.items() if i < eot)
    if [i for i, _ in by_id] != list(range(eot)):
        raise SystemExit("error: BPE vocabulary ids are not contiguous 0..eot-1")
    dec = {c: b for b, c in bytes_to_unicode().items()}
    return [bytes(dec[c] for c in s) for _, s in by_id], eot


def write_ggml(out, hp, tensors, mel, tok_path, ftype):
    toks, eot = vocab_bytes(tok_path)
    # whisper.cpp derives multilingual from n_vocab >= 51865 and puts eot at 50256 (+1 if so)
    expect_eot = 50257 if hp["n_vocab"] >= 51865 else 50256
    if eot != expect_eot:
        raise SystemExit(f"error: tokenizer eot {eot} != whisper.cpp's {expect_eot}")
    n_written = 0
    with open(out, "wb") as f:
        f.write(struct.pack("<i", 0x67676D6C))
        for k in ("n_vocab", "n_audio_ctx", "n_audio_state", "n_audio_head", "n_audio_layer",
                  "n_text_ctx", "n_text_state", "n_text_head", "n_text_layer", "n_mels"):
            f.write(struct.pack("<i", int(hp[k])))
        f.write(struct.pack("<i", ftype))
        f.write(struct.pack("<ii", mel.shape[0], mel.shape[1]))
        f.write(np.ascontiguousarray(mel, dtype="<f4").tobytes())
        f.write(struct.pack("<i", len(toks)))
        for t in toks:
            f.write(struct.pack("<i", len(t)))
            f.write(t)
        for hf_name, data in tensors:
            name = hf_to_openai(hf_name)
            if name == "decoder.proj.weight":  # tied to token_embedding; whisper.cpp has no slot
                continue
            data = np.asarray(data, dtype=np.float32)
            if name in ("encoder.conv1.bias", "encoder.conv2.bias"):
                data = data.reshape(data.shape[0], 1)
            use_f16 = ftype == 1 and data.ndim >= 2 and name not in F32_NAMES
            data = data.astype("<f2" if use_f16 else "<f4")
            nb = name.encode("utf-8")
            f.write(struct.pack("<iii", data.ndim, len(nb), 1 if use_f16 else 0))
            for d in reversed(data.shape):
                f.write(struct.pack("<i", d))
            f.write(nb)
            f.write(np.ascontiguousarray(data).tobytes())
            n_written += 1
    return n_written, len(toks)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--hf", help="HF-layout dir from convert_whisper_ct2.py")
    src.add_argument("--ct2", help="faster-whisper CTranslate2 dir")
    ap.add_argument("--converter", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "convert_whisper_ct2.py"))
    ap.add_argument("--out", required=True)
    ap.add_argument("--ftype", type=int, choices=(0, 1), default=1, help="1 = f16 (default), 0 = f32")
    a = ap.parse_args()
    hp, tensors, mel, tok = load_hf(a.hf) if a.hf else load_ct2(a.ct2, a.converter)
    n, nt = write_ggml(a.out, hp, tensors, mel, tok, a.ftype)
    print(f"wrote {a.out}: {n} tensors, {nt} vocab tokens, hparams {hp}, ftype {a.ftype}")


if __name__ == "__main__":
    main()
