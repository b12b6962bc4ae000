#!/usr/bin/env python3
"""Convert a faster-whisper (CTranslate2) Whisper model folder into the Hugging Face
transformers layout that candle-transformers' `models::whisper` loads.

    python3 scripts/convert_whisper_ct2.py --ct2 CT2_DIR --out OUT_DIR [--dtype float32|float16]

Input  (CT2_DIR):  model.bin, tokenizer.json, config.json (optional: vocabulary.txt)
Output (OUT_DIR):  config.json             WhisperConfig (what candle and transformers read)
                   model.safetensors       tensors named as WhisperForConditionalGeneration
                   tokenizer.json          byte-for-byte copy of the CT2 one
                   generation_config.json  token ids / suppress lists (transformers; ignored by candle)
                   mel_filters.bin         raw little-endian f32 [num_mel_bins, 201] slaney mel
                                           filter bank (what candle's `audio::pcm_to_mel` wants)

Runtime deps: Python 3 stdlib + numpy.  Output is deterministic (sorted keys, no timestamps).
Exit status: 0 ok, 2 on bad input (message on stderr).
"""
import argparse
import json
import mmap
import os
import re
import shutil
import struct
import sys

try:
    import numpy as np
except ImportError:  # the only non-stdlib dependency
    sys.exit("error: numpy is required (pip install numpy)")


class ConvertError(Exception):
    pass


# --------------------------------------------------------------------------- CT2 model.bin
# Layout (ctranslate2/specs/model_spec.py `_serialize`, C++ models/model.cc), little-endian:
#   u32 binary_version (<= 6)
#   [v>=2] str spec_name ("WhisperSpec"), u32 spec_revision
#   u32 n_vars, then per variable:
#       str name; u8 rank; u32 dims[rank];
#       v>=4: u8 dtype_id, u32 n_bytes     v<4: u8 item_size, u32 n_items
#       raw data (row-major)
#   [v>=3] u32 n_aliases, then per alias: str alias, str target   (e.g. projection -> embeddings)
# A "str" is u16 length (including a trailing NUL) followed by the bytes.
CT2_DTYPES = {0: "float32", 1: "int8", 2: "int16", 3: "int32", 4: "float16", 5: "bfloat16"}
ITEM_SIZE_DTYPES = {4: "float32", 2: "int16", 1: "int8"}  # binary_version < 4
NP_DTYPES = {"float32": "<f4", "int8": "i1", "int16": "<i2", "int32": "<i4",
             "float16": "<f2", "bfloat16": "<u2"}  # bf16 is read as raw bits, widened below


def read_ct2(path):
    """Returns (spec_name, revision, {name: ndarray}); arrays are views into an mmap."""
    with open(path, "rb") as f:
        buf = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    pos = 0

    def take(n):
        nonlocal pos
        if pos + n > len(buf):
            raise ConvertError(f"{path}: truncated (wanted {n} bytes at offset {pos})")
        pos += n
        return pos - n

    def u(fmt):
        return struct.unpack_from("<" + fmt, buf, take(struct.calcsize(fmt)))[0]

    def s():
        n = u("H")
        return bytes(buf[take(n):pos]).rstrip(b"\0").decode("utf-8")

    version = u("I")
    if not 1 <= version <= 6:
        raise ConvertError(f"{path}: not a CTranslate2 model.bin (binary version {version})")
    spec, revision = (s(), u("I")) if version >= 2 else ("", 1)
    variables = {}
    for _ in range(u("I")):
        name = s()
        shape = tuple(u("I") for _ in range(u("B")))
        if version >= 4:
            dtype = CT2_DTYPES.get(u("B"))
            nbytes = u("I")
        else:
            item = u("B")
            dtype, nbytes = ITEM_SIZE_DTYPES.get(item), u("I") * item
        if dtype is None:
            raise ConvertError(f"{path}: variable {name}: unknown dtype")
        off = take(nbytes)
        np_dtype = np.dtype(NP_DTYPES[dtype])
        count = int(np.prod(shape)) if shape else 1
        if count * np_dtype.itemsize != nbytes:
            raise ConvertError(f"{path}: variable {name}: size mismatch")
        arr = np.frombuffer(buf, np_dtype, count, off).reshape(shape)
        if dtype == "bfloat16":  # numpy has no bf16: widen the bits into a float32
            arr = (arr.astype(np.uint32) << 16).view(np.float32)
        variables[name] = arr
    if version >= 3:
        for _ in range(u("I")):
            alias, target = s(), s()
            if target not in variables:
                raise ConvertError(f"{path}: alias {alias} points to unknown {target}")
            variables[alias] = variables[target]
    if pos != len(buf):
        raise ConvertError(f"{path}: {len(buf) - pos} trailing bytes")
    return spec, revision, variables


def get(v, name):
    """Fetch a float tensor, dequantizing CT2 int8/int16 weights (w_q = round(w * scale))."""
    if name not in v:
        raise ConvertError(f"model.bin lacks variable {name!r}")
    a = v[name]
    if a.dtype.kind == "i":
        scale = v.get(name + "_scale")
        if scale is None or (name + "_zero") in v:
            raise ConvertError(f"unsupported quantization for {name!r}")
        # per-output-row scale (any rank, conv included) or one scalar scale (int16)
        scale = scale.reshape((-1,) + (1,) * (a.ndim - 1)) if scale.ndim else scale
        a = a.astype(np.float32) / scale
    return a


# --------------------------------------------------------------------------- CT2 -> HF names
def map_tensors(v):
    """Returns (ordered list of (hf_name, array), dims dict)."""
    out = []

    def ln(hf, ct2):  # CT2 LayerNormSpec gamma/beta -> torch LayerNorm weight/bias
        out.append((hf + ".weight", get(v, ct2 + "/gamma")))
        out.append((hf + ".bias", get(v, ct2 + "/beta")))

    def lin(hf, ct2, bias=True, rows=None, n_parts=1):
        # CT2 LinearSpec weight is [out, in] like torch. Fused layers are row-concatenated
        # (q|k|v or k|v); `rows` picks part i of n_parts.
        w, b = get(v, ct2 + "/weight"), get(v, ct2 + "/bias")
        if w.shape[0] % n_parts:
            raise ConvertError(f"{ct2}: cannot split {w.shape} into {n_parts}")
        n = w.shape[0] // n_parts
        sl = slice(rows * n, (rows + 1) * n) if rows is not None else slice(None)
        out.append((hf + ".weight", w[sl]))
        if bias:
            out.append((hf + ".bias", b[sl]))
        elif np.any(b[sl] != 0):
            # HF/candle k_proj has no bias.  CT2 fills zeros there; a non-zero key bias would
            # only add a per-query constant to the logits, which softmax ignores anyway.
            print(f"warning: dropping non-zero bias of {hf}", file=sys.stderr)

    def attention(hf, ct2, fused_qkv):
        if fused_qkv:  # self-attention: linear_0 = [q; k; v], linear_1 = out
            for i, p in enumerate(("q_proj", "k_proj", "v_proj")):
                lin(f"{hf}.{p}", ct2 + "/linear_0", bias=p != "k_proj", rows=i, n_parts=3)
            lin(hf + ".out_proj", ct2 + "/linear_1")
        else:  # cross-attention: linear_0 = q, linear_1 = [k; v], linear_2 = out
            lin(hf + ".q_proj", ct2 + "/linear_0")
            lin(hf + ".k_proj", ct2 + "/linear_1", bias=False, rows=0, n_parts=2)
            lin(hf + ".v_proj", ct2 + "/linear_1", rows=1, n_parts=2)
            lin(hf + ".out_proj", ct2 + "/linear_2")
        ln(hf + "_layer_norm", ct2 + "/layer_norm")  # pre-norm lives in the attention spec

    def n_layers(side):
        return len({k.split("/")[1] for k in v if re.match(rf"{side}/layer_\d+/", k)})

    enc, dec = n_layers("encoder"), n_layers("decoder")
    if not enc or not dec:
        raise ConvertError("model.bin has no encoder/decoder layers (not a Whisper model?)")
    for side, n in (("encoder", enc), ("decoder", dec)):
        m = f"model.{side}"
        if side == "encoder":
            for c in ("conv1", "conv2"):  # Conv1DSpec weight [out, in, k] like torch
                lin(f"{m}.{c}", f"encoder/{c}")
        else:
            out.append((f"{m}.embed_tokens.weight", get(v, "decoder/embeddings/weight")))
        out.append((f"{m}.embed_positions.weight", get(v, f"{side}/position_encodings/encodings")))
        for i in range(n):
            src, dst = f"{side}/layer_{i}", f"{m}.layers.{i}"
            attention(dst + ".self_attn", src + "/self_attention", fused_qkv=True)
            if side == "decoder":
                attention(dst + ".encoder_attn", src + "/attention", fused_qkv=False)
            lin(dst + ".fc1", src + "/ffn/linear_0")
            lin(dst + ".fc2", src + "/ffn/linear_1")
            ln(dst + ".final_layer_norm", src + "/ffn/layer_norm")
        ln(f"{m}.layer_norm", f"{side}/layer_norm")
    # The output projection is tied to embed_tokens (CT2 stores it as an alias); candle
    # always uses embed_tokens^T, so an untied projection cannot be represented.
    proj = v.get("decoder/projection/weight")
    if proj is not None and not np.array_equal(proj, v["decoder/embeddings/weight"]):
        raise ConvertError("decoder projection is not tied to the embeddings")
    conv1, emb = v["encoder/conv1/weight"], v["decoder/embeddings/weight"]
    dims = {
        "num_mel_bins": conv1.shape[1], "d_model": conv1.shape[0], "vocab_size": emb.shape[0],
        "encoder_layers": enc, "decoder_layers": dec,
        "encoder_attention_heads": v["encoder/num_heads"], "decoder_attention_heads": v["decoder/num_heads"],
        "encoder_ffn_dim": v["encoder/layer_0/ffn/linear_0/weight"].shape[0],
        "decoder_ffn_dim": v["decoder/layer_0/ffn/linear_0/weight"].shape[0],
        "max_source_positions": v["encoder/position_encodings/encodings"].shape[0],
        "max_target_positions": v["decoder/position_encodings/encodings"].shape[0]}
    return out, {k: int(x) for k, x in dims.items()}


# --------------------------------------------------------------------------- safetensors
def write_safetensors(path, tensors, dtype):
    """8-byte LE header size, JSON header {name: {dtype, shape, data_offsets}}, raw data."""
    np_dt, st_dt = (np.dtype("<f4"), "F32") if dtype == "float32" else (np.dtype("<f2"), "F16")
    tensors = sorted(tensors)
    header, off = {"__metadata__": {"format": "pt"}}, 0
    for name, a in tensors:
        n = int(np.prod(a.shape)) * np_dt.itemsize
        header[name] = {"dtype": st_dt, "shape": list(a.shape), "data_offsets": [off, off + n]}
        off += n
    hb = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    hb += b" " * (-len(hb) % 8)  # pad so the data section starts 8-byte aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hb)) + hb)
        for name, a in tensors:
            a = np.asarray(a, dtype=np.float32)
            if dtype == "float16" and np.abs(a).max(initial=0) > 65504:
                raise ConvertError(f"{name} overflows float16; use --dtype float32")
            f.write(np.ascontiguousarray(a.astype(np_dt)).tobytes())


# --------------------------------------------------------------------------- mel filters
def mel_filters(n_mels, sr=16000, n_fft=400):
    """librosa.filters.mel(sr, n_fft, n_mels) (slaney scale + norm) = OpenAI mel_filters.npz."""
    def hz_to_mel(f):  # linear below 1 kHz, logarithmic above
        f = np.asarray(f, np.float64)
        return np.where(f >= 1000.0, 15.0 + np.log(np.maximum(f, 1e-10) / 1000.0) / (np.log(6.4) / 27.0),
                        3.0 * f / 200.0)

    def mel_to_hz(m):
        m = np.asarray(m, np.float64)
        return np.where(m >= 15.0, 1000.0 * np.exp(np.log(6.4) / 27.0 * (m - 15.0)), 200.0 * m / 3.0)

    fft_f = np.linspace(0, sr / 2, 1 + n_fft // 2)
    mel_f = mel_to_hz(np.linspace(hz_to_mel(0.0), hz_to_mel(sr / 2), n_mels + 2))
    fdiff, ramps = np.diff(mel_f), mel_f[:, None] - fft_f[None, :]
    w = np.maximum(0, np.minimum(-ramps[:-2] / fdiff[:-1, None], ramps[2:] / fdiff[1:, None]))
    w *= (2.0 / (mel_f[2:n_mels + 2] - mel_f[:n_mels]))[:, None]
    return w.astype("<f4")  # [n_mels, 1 + n_fft/2]


# --------------------------------------------------------------------------- configs
def special_ids(tok_path):
    """Token ids of Whisper's special tokens, read from tokenizer.json added_tokens."""
    try:
        with open(tok_path, encoding="utf-8") as f:
            added = {t["content"]: t["id"] for t in json.load(f)["added_tokens"]}
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ConvertError(f"{tok_path}: unreadable tokenizer.json ({e})")
    names = ["<|endoftext|>", "<|startoftranscript|>", "<|translate|>", "<|transcribe|>",
             "<|startofprev|>", "<|notimestamps|>"]
    missing = [n for n in names if n not in added]
    if missing:
        raise ConvertError(f"{tok_path}: missing special tokens {missing}")
    ids = {n.strip("<|>"): added[n] for n in names}
    # language tokens sit between <|startoftranscript|> and <|translate|>
    ids["langs"] = {k: i for k, i in added.items() if ids["startoftranscript"] < i < ids["translate"]}
    return ids


def build_configs(dims, ct2_cfg, ids, dtype):
    eot, sot = ids["endoftext"], ids["startoftranscript"]
    suppress = list(ct2_cfg.get("suppress_ids", []))
    begin = list(ct2_cfg.get("suppress_ids_begin", [220, eot]))
    multilingual = dims["vocab_size"] >= 51865  # transformers' own rule
    config = dict(
        dims, architectures=["WhisperForConditionalGeneration"], model_type="whisper",
        activation_function="gelu", activation_dropout=0.0, attention_dropout=0.0, dropout=0.0,
        apply_spec_augment=False, decoder_layerdrop=0.0, encoder_layerdrop=0.0, init_std=0.02,
        is_encoder_decoder=True, num_hidden_layers=dims["encoder_layers"], scale_embedding=False,
        tie_word_embeddings=True, use_cache=True, use_weighted_layer_sum=False,
        bos_token_id=eot, eos_token_id=eot, pad_token_id=eot, decoder_start_token_id=sot,
        suppress_tokens=suppress, begin_suppress_tokens=begin, torch_dtype=dtype)
    gen = {
        "alignment_heads": ct2_cfg.get("alignment_heads", []), "begin_suppress_tokens": begin,
        "suppress_tokens": suppress, "bos_token_id": eot, "eos_token_id": eot, "pad_token_id": eot,
        "decoder_start_token_id": sot, "is_multilingual": multilingual,
        "max_initial_timestamp_index": 50, "max_length": dims["max_target_positions"],
        "no_timestamps_token_id": ids["notimestamps"], "prev_sot_token_id": ids["startofprev"],
        "return_timestamps": False}
    if multilingual:
        gen["lang_to_id"] = ids["langs"]
        gen["task_to_id"] = {"transcribe": ids["transcribe"], "translate": ids["translate"]}
    return config, gen


def dump_json(path, obj):
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        json.dump(obj, f, indent=2, sort_keys=True)
        f.write("\n")


def convert(ct2_dir, out_dir, dtype):
    for fn in ("model.bin", "tokenizer.json"):
        if not os.path.isfile(os.path.join(ct2_dir, fn)):
            raise ConvertError(f"{ct2_dir}: missing {fn} (not a faster-whisper CT2 folder?)")
    if os.path.abspath(ct2_dir) == os.path.abspath(out_dir):
        raise ConvertError("--out must differ from --ct2")
    ct2_cfg = {}
    if os.path.isfile(os.path.join(ct2_dir, "config.json")):
        with open(os.path.join(ct2_dir, "config.json"), encoding="utf-8") as f:
            ct2_cfg = json.load(f)
    spec, revision, variables = read_ct2(os.path.join(ct2_dir, "model.bin"))
    if spec != "WhisperSpec":
        raise ConvertError(f"model.bin holds a {spec or 'legacy'} model, not WhisperSpec")
    tensors, dims = map_tensors(variables)
    ids = special_ids(os.path.join(ct2_dir, "tokenizer.json"))
    if max(ids["langs"].values(), default=0) >= dims["vocab_size"]:
        raise ConvertError("tokenizer.json does not match the model's vocabulary size")
    config, gen = build_configs(dims, ct2_cfg, ids, dtype)
    os.makedirs(out_dir, exist_ok=True)
    write_safetensors(os.path.join(out_dir, "model.safetensors"), tensors, dtype)
    dump_json(os.path.join(out_dir, "config.json"), config)
    dump_json(os.path.join(out_dir, "generation_config.json"), gen)
    shutil.copyfile(os.path.join(ct2_dir, "tokenizer.json"), os.path.join(out_dir, "tokenizer.json"))
    mel_filters(dims["num_mel_bins"]).tofile(os.path.join(out_dir, "mel_filters.bin"))
    return spec, revision, len(tensors), dims


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("--ct2", required=True, help="faster-whisper CTranslate2 model folder")
    ap.add_argument("--out", required=True, help="output folder (created if missing)")
    ap.add_argument("--dtype", choices=("float32", "float16"), default="float32",
                    help="tensor dtype in model.safetensors (default float32)")
    args = ap.parse_args(argv)
    try:
        spec, rev, n, dims = convert(args.ct2, args.out, args.dtype)
    except (ConvertError, OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"{spec} rev {rev}: wrote {n} {args.dtype} tensors to {args.out} "
          f"(d_model={dims['d_model']}, layers={dims['encoder_layers']}/{dims['decoder_layers']}, "
          f"vocab={dims['vocab_size']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
