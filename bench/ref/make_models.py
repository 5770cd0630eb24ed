#!/usr/bin/python3
"""Deterministic random-weight BERT embedding models at real sizes, as HF folders plus model.onnx.

Models (vocab 30522, 512 positions, 2 token types, LayerNorm eps 1e-12, GELU):
  minilm-l6   hidden 384, 6 layers, 12 heads, FFN 1536   (the all-MiniLM-L6-v2 shape), ~90 MB per format
  bert-base   hidden 768, 12 layers, 12 heads, FFN 3072  (the bert-base-uncased shape), ~440 MB per format

For each model writes OUT/<name>/:
  HF layout        config.json (BertModel), model.safetensors (fp32, HF BertModel tensor names incl. pooler),
                   tokenizer.json (the bert-embed fixture's: real bert-base-uncased WordPiece), vocab.txt,
                   tokenizer_config.json, special_tokens_map.json
  sentence-transformers (classic layout): modules.json, 1_Pooling/config.json (mean), 2_Normalize/,
                   sentence_bert_config.json (max_seq_length 256), config_sentence_transformers.json
  model.onnx       inputs input_ids/attention_mask/token_type_ids int64 [batch, seq], output last_hidden_state
                   [batch, seq, hidden]; exported (opset 14) from bert_torch.BertEncoder

Weights: numpy default_rng(seed), matrices/embeddings/biases ~ N(0, 0.02), LayerNorm weight ~ 1 + N(0, 0.02).
The same seed gives bit-identical files on every run. Before export, the torch module is checked against
bert_ref.py (independent unbatched forward); the run fails if they differ by 1e-4 or more.

usage: /usr/bin/python3 make_models.py [--out DIR] [--only minilm-l6|bert-base] [--skip-onnx]
  --out DIR    where the model folders go (default: ./bench-out/models, relative to the current directory)
Reads vocab.txt next to this script and ../fixtures/models/bert-embed/tokenizer.json relative to this script;
writes only under --out. Needs Debian python3-torch, python3-numpy (and python3-onnx for the ONNX checker).
"""
import argparse
import json
import os
import shutil
import struct
import sys
import time

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import numpy as np  # noqa: E402
import torch  # noqa: E402

from bert_torch import BertEncoder  # noqa: E402

VOCAB_TXT = os.path.join(HERE, "vocab.txt")
TOKENIZER_JSON = os.path.normpath(os.path.join(HERE, "..", "..", "tests", "data", "models", "bert-embed", "tokenizer.json"))

MODELS = {
    "minilm-l6": dict(hidden_size=384, num_hidden_layers=6, num_attention_heads=12, intermediate_size=1536, seed=20240601),
    "bert-base": dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072, seed=20240602),
}
V, P, TYPES, EPS = 30522, 512, 2, 1e-12


def make_weights(spec):
    rng = np.random.default_rng(spec["seed"])
    H, I, L = spec["hidden_size"], spec["intermediate_size"], spec["num_hidden_layers"]
    w = {}

    def N(*shape):
        return (rng.standard_normal(shape, dtype=np.float32) * np.float32(0.02)).astype(np.float32)

    def LN(prefix):
        w[prefix + ".weight"] = (1.0 + N(H)).astype(np.float32)
        w[prefix + ".bias"] = N(H)

    w["embeddings.word_embeddings.weight"] = N(V, H)
    w["embeddings.position_embeddings.weight"] = N(P, H)
    w["embeddings.token_type_embeddings.weight"] = N(TYPES, H)
    LN("embeddings.LayerNorm")
    for l in range(L):
        p = "encoder.layer.%d." % l
        for n in ("query", "key", "value"):
            w[p + "attention.self.%s.weight" % n] = N(H, H)
            w[p + "attention.self.%s.bias" % n] = N(H)
        w[p + "attention.output.dense.weight"] = N(H, H)
        w[p + "attention.output.dense.bias"] = N(H)
        LN(p + "attention.output.LayerNorm")
        w[p + "intermediate.dense.weight"] = N(I, H)
        w[p + "intermediate.dense.bias"] = N(I)
        w[p + "output.dense.weight"] = N(H, I)
        w[p + "output.dense.bias"] = N(H)
        LN(p + "output.LayerNorm")
    w["pooler.dense.weight"] = N(H, H)
    w["pooler.dense.bias"] = N(H)
    return w


def write_safetensors(path, tensors, metadata=None):
    """safetensors: u64 header length, JSON header (dtype/shape/data_offsets), raw little-endian data."""
    names = sorted(tensors)
    hdr, off = {}, 0
    if metadata:
        hdr["__metadata__"] = metadata
    for n in names:
        a = tensors[n]
        assert a.dtype == np.float32
        hdr[n] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + a.nbytes]}
        off += a.nbytes
    hb = json.dumps(hdr, separators=(",", ":")).encode()
    hb += b" " * ((8 - len(hb) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hb)))
        f.write(hb)
        for n in names:
            f.write(np.ascontiguousarray(tensors[n]).astype("<f4").tobytes())


def dump(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, ensure_ascii=False)
        f.write("\n")


def write_hf(d, name, spec, w):
    cfg = {
        "_name_or_path": "random-" + name,
        "architectures": ["BertModel"],
        "attention_probs_dropout_prob": 0.1,
        "classifier_dropout": None,
        "gradient_checkpointing": False,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "hidden_size": spec["hidden_size"],
        "initializer_range": 0.02,
        "intermediate_size": spec["intermediate_size"],
        "layer_norm_eps": EPS,
        "max_position_embeddings": P,
        "model_type": "bert",
        "num_attention_heads": spec["num_attention_heads"],
        "num_hidden_layers": spec["num_hidden_layers"],
        "pad_token_id": 0,
        "position_embedding_type": "absolute",
        "torch_dtype": "float32",
        "transformers_version": "4.41.2",
        "type_vocab_size": TYPES,
        "use_cache": True,
        "vocab_size": V,
    }
    dump(os.path.join(d, "config.json"), cfg)
    write_safetensors(os.path.join(d, "model.safetensors"), w, {"format": "pt"})
    shutil.copyfile(TOKENIZER_JSON, os.path.join(d, "tokenizer.json"))
    shutil.copyfile(VOCAB_TXT, os.path.join(d, "vocab.txt"))
    dump(os.path.join(d, "tokenizer_config.json"), {
        "clean_up_tokenization_spaces": True, "cls_token": "[CLS]", "do_basic_tokenize": True, "do_lower_case": True,
        "mask_token": "[MASK]", "model_max_length": 512, "never_split": None, "pad_token": "[PAD]",
        "sep_token": "[SEP]", "strip_accents": None, "tokenize_chinese_chars": True,
        "tokenizer_class": "BertTokenizer", "unk_token": "[UNK]"})
    dump(os.path.join(d, "special_tokens_map.json"), {
        "cls_token": "[CLS]", "mask_token": "[MASK]", "pad_token": "[PAD]", "sep_token": "[SEP]", "unk_token": "[UNK]"})
    dump(os.path.join(d, "modules.json"), [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}])
    os.makedirs(os.path.join(d, "1_Pooling"), exist_ok=True)
    os.makedirs(os.path.join(d, "2_Normalize"), exist_ok=True)
    dump(os.path.join(d, "1_Pooling", "config.json"), {
        "word_embedding_dimension": spec["hidden_size"],
        "pooling_mode_cls_token": False, "pooling_mode_mean_tokens": True, "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False})
    dump(os.path.join(d, "sentence_bert_config.json"), {"max_seq_length": 256, "do_lower_case": False})
    dump(os.path.join(d, "config_sentence_transformers.json"), {
        "__version__": {"sentence_transformers": "2.2.2", "transformers": "4.41.2", "pytorch": "1.13.1"}})


def check_against_ref(cfg, w, model):
    """Unpadded single sequences through bert_ref.py vs the module on a padded batch."""
    from bert_ref import bert_forward
    seqs = [[101, 7592, 2088, 1010, 2023, 2003, 1037, 3231, 1012, 102], [101, 2204, 2851, 102]]
    S = max(len(s) for s in seqs)
    ids = torch.tensor([s + [0] * (S - len(s)) for s in seqs])
    mask = torch.tensor([[1] * len(s) + [0] * (S - len(s)) for s in seqs])
    with torch.no_grad():
        out = model(ids, mask, torch.zeros_like(ids))
    worst = 0.0
    for b, s in enumerate(seqs):
        r = bert_forward(w, cfg, s, [0] * len(s))
        worst = max(worst, float((out[b, :len(s)] - r).abs().max()))
    return worst


def export_onnx(d, model):
    path = os.path.join(d, "model.onnx")
    ids = torch.tensor([[101, 7592, 2088, 102, 0, 0], [101, 2023, 2003, 1037, 3231, 102]])
    mask = (ids != 0).long()
    axes = {0: "batch_size", 1: "sequence_length"}
    with torch.no_grad():
        torch.onnx.export(model, (ids, mask, torch.zeros_like(ids)), path,
                          input_names=["input_ids", "attention_mask", "token_type_ids"],
                          output_names=["last_hidden_state"],
                          dynamic_axes={"input_ids": axes, "attention_mask": axes, "token_type_ids": axes,
                                        "last_hidden_state": axes},
                          opset_version=14, do_constant_folding=True)
    try:
        import onnx
        onnx.checker.check_model(path)
    except ImportError:
        print("  (python3-onnx not installed: skipped onnx.checker)")
    return path


def main():
    ap = argparse.ArgumentParser(description="Random-weight BERT models (HF folder + model.onnx) for benchmarks.")
    ap.add_argument("--out", default=os.path.join("bench-out", "models"),
                    help="output folder; one subfolder per model (default: ./bench-out/models)")
    ap.add_argument("--only", choices=sorted(MODELS), help="build only this model")
    ap.add_argument("--skip-onnx", action="store_true", help="write the HF folder only")
    args = ap.parse_args()
    for f in (VOCAB_TXT, TOKENIZER_JSON):
        if not os.path.isfile(f):
            raise SystemExit("missing input %s (vocab.txt ships with this folder; tokenizer.json is expected at "
                             "../fixtures/models/bert-embed/ relative to this script)" % f)
    with open(VOCAB_TXT, encoding="utf-8") as f:
        vocab = [l.rstrip("\n") for l in f]
    assert len(vocab) == V, len(vocab)
    out = os.path.abspath(args.out)
    torch.manual_seed(0)
    for name, spec in MODELS.items():
        if args.only and name != args.only:
            continue
        t0 = time.time()
        d = os.path.join(out, name)
        os.makedirs(d, exist_ok=True)
        w = make_weights(spec)
        cfg = dict(hidden_size=spec["hidden_size"], num_attention_heads=spec["num_attention_heads"],
                   num_hidden_layers=spec["num_hidden_layers"], layer_norm_eps=EPS)
        write_hf(d, name, spec, w)
        model = BertEncoder(cfg, w).eval()
        diff = check_against_ref(cfg, w, model)
        print("%s: params total %d, module vs bert_ref.py max|diff| %.3g" % (name, sum(a.size for a in w.values()), diff))
        assert diff < 1e-4, diff
        if not args.skip_onnx:
            export_onnx(d, model)
        print("%s: written to %s in %.1fs" % (name, d, time.time() - t0))
        for f in sorted(os.listdir(d)):
            p = os.path.join(d, f)
            if os.path.isfile(p):
                print("   %-40s %10.1f MB" % (f, os.path.getsize(p) / 1e6))


if __name__ == "__main__":
    main()
