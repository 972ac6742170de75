"""``attnhw proj-accuracy``: the layer output ``y = W_O · concat_h(attention_h) + b_O``
in the hardware's arithmetic (:func:`attnhw.attention_output`) against float64, beside
the ideal int8 pipeline, on random data and on all-MiniLM-L6-v2's real layers (12 heads
of d 32, d_model 384: a small BERT's shape).

- float64: attention on the unquantised q, k, v, then ``W_O``, ``b_O`` in float.
- ideal int8: the same quantised q, k, v and weights as the hardware (``W_int``,
  ``w_step``), float softmax and float accumulation, the output rounded to the same
  output step.
- hardware: :func:`attnhw.attention_output` (golden model; the engine's RTL gives the
  same words, checked here on one real layer and in the tests).

Errors are in output steps (the output's quantisation step), mean and max of
``|y - y_float64|`` over every output.
"""

import datetime
import json
import pathlib
import time

import numpy as np

from attnhw import __version__

from .outputs import atomic_write
from .projection import attention_output

__all__ = ["run_proj_accuracy", "write_report", "PAGE_BEGIN", "PAGE_END"]

PAGE_BEGIN = "<!-- projection accuracy: written by make proj-accuracy -->"
PAGE_END = "<!-- end of projection accuracy -->"
QUANTS = ("tensor", "head")
#: The rows' fraction bits below v's step (AttnParams.out_frac_bits) compared.
OUT_FRACS = (0, 4)


def _attention_float(q, k, v, scale, masked):
    """float64 softmax attention ``(B, H, L, d)``; ``masked`` True where excluded."""
    s = np.einsum("bhid,bhjd->bhij", q, k) * scale
    s = np.where(masked, -np.inf, s)
    s = s - np.max(s, axis=-1, keepdims=True)
    e = np.exp(s)
    return np.einsum("bhij,bhjd->bhid", e / e.sum(axis=-1, keepdims=True), v)


def _concat(c):
    """``(B, H, N, d)`` -> ``(B, N, H·d)``."""
    B, H, N, d = c.shape
    return np.moveaxis(c, 1, 2).reshape(B, N, H * d)


def measure(q, k, v, W, b, quant, is_causal=False, out_frac_bits=0):
    """Errors of the hardware (its rows with ``out_frac_bits`` fraction bits below v's
    step) and of the ideal int8 pipeline against float64 for one layer call: dict
    with ``hw``, ``ideal`` and ``rounded`` (the ideal with its attention outputs
    rounded to the hardware's rows) arrays of ``|error| / out_step``."""
    y, info = attention_output(q, k, v, W, b, is_causal=is_causal, quant=quant,
                               params={"out_frac_bits": out_frac_bits}, return_info=True)
    s = info["sdpa"]
    d = q.shape[-1]
    scale = 1.0 / np.sqrt(d)
    exact = _concat(_attention_float(q, k, v, scale, s.masked)) @ W.T + b
    deq = [i[..., :d] * np.asarray(st)[..., None, None]
           for i, st in ((s.q_int, s.q_step), (s.k_int, s.k_step), (s.v_int, s.v_step))]
    c_ideal = _attention_float(*deq, scale, s.masked)              # (B, H, N, d), unrounded
    # The same, c rounded to the hardware's rows first (v's step / 2^f): what the
    # engine's rows cost on their own.
    c_step = np.asarray(info["c_step"])[..., None, None]
    c_rounded = np.floor(c_ideal / c_step + 0.5) * c_step
    step = info["out_step"]
    ideal, rounded = np.zeros_like(exact), np.zeros_like(exact)
    for i, pb in enumerate(info["projection"]):
        # The quantised weights, dequantised: W_int · w_step (per row) undoes the head's
        # value step folded into them.
        W_deq = pb["W_int"] * pb["w_step"][:, None] / np.repeat(info["c_step"][i], d)[None, :]
        for out, c in ((ideal, c_ideal), (rounded, c_rounded)):
            out[i] = np.floor((_concat(c[i:i + 1])[0] @ W_deq.T + b) / step + 0.5) * step
    return {"hw": np.abs(y - exact) / step, "ideal": np.abs(ideal - exact) / step,
            "rounded": np.abs(rounded - exact) / step}


def _random_layers(rng):
    """The tests' random case: B 2, H 4, N 12, d 16, d_out 24, Gaussian data."""
    q, k, v = (rng.standard_normal((2, 4, 12, 16)) for _ in range(3))
    W = rng.standard_normal((24, 64)) / 8.0
    return [("random (B 2, H 4, N 12, d 16, d_out 24)", q, k, v, W, rng.standard_normal(24) * 0.1)]


def _minilm_layers(sentences):
    """Every attention call of all-MiniLM-L6-v2 on ``sentences`` (one at a time, so no
    padding): ``(name, q, k, v, W_O, b_O)`` per layer and sentence."""
    import torch
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

    from .model_check import load_minilm
    model = load_minilm()
    bert = model[0].auto_model
    calls = []

    def record(module, query, key, value, attention_mask, scaling=None, dropout=0.0, **kw):
        calls.append((module, *(t.detach().double().numpy() for t in (query, key, value))))
        out = torch.nn.functional.scaled_dot_product_attention(query, key, value,
                                                               attn_mask=attention_mask,
                                                               scale=scaling)
        return out.transpose(1, 2).contiguous(), None

    AttentionInterface.register("attnhw_record", record)
    AttentionMaskInterface.register("attnhw_record", sdpa_mask)
    saved = bert.config._attn_implementation
    bert.set_attn_implementation("attnhw_record")
    try:
        with torch.no_grad():
            for sentence in sentences:
                model.encode([sentence], convert_to_numpy=True)
    finally:
        bert.set_attn_implementation(saved)
    out_dense = {id(layer.attention.self): layer.attention.output.dense
                 for layer in bert.encoder.layer}
    layers = []
    for module, q, k, v in calls:
        dense = out_dense[id(module)]
        layers.append(("all-MiniLM-L6-v2 layers (H 12, d 32, d_out 384)", q, k, v,
                       dense.weight.detach().double().numpy(),
                       dense.bias.detach().double().numpy()))
    return layers


def _engine_check(layer):
    """One real layer call on the engine's RTL with its projection: equal to golden."""
    _, q, k, v, W, b = layer
    params = dict(head_dim=32, lanes=16, max_seq_len=64, block=1, proj_lanes=16, tile_rows=64,
                  out_frac_bits=OUT_FRACS[-1])
    started = time.time()
    golden = attention_output(q, k, v, W, b, params=params)
    engine = attention_output(q, k, v, W, b, params=params, backend="engine")
    return {"out_frac_bits": params["out_frac_bits"], "queries": int(q.shape[2]), "heads": int(q.shape[1]), "d_out": int(W.shape[0]),
            "outputs": int(golden.size), "equal": bool(np.array_equal(golden, engine)),
            "seconds": round(time.time() - started, 1)}


def run_proj_accuracy(seed=11, sentences=None, engine_check=True, log=print):
    """The report's records (one per data set and quantisation mode) and the engine
    check."""
    from .model_check import SENTENCES
    sentences = SENTENCES if sentences is None else sentences
    log("recording all-MiniLM-L6-v2's attention calls ...")
    sets = {}
    for layer in _random_layers(np.random.default_rng(seed)) + _minilm_layers(sentences):
        sets.setdefault(layer[0], []).append(layer)
    records = []
    for name, layers in sets.items():
        for quant, f in ((q, f) for q in QUANTS for f in OUT_FRACS):
            errs = [measure(*layer[1:], quant, out_frac_bits=f) for layer in layers]
            hw = np.concatenate([e["hw"].ravel() for e in errs])
            ideal = np.concatenate([e["ideal"].ravel() for e in errs])
            rounded = np.concatenate([e["rounded"].ravel() for e in errs])
            records.append({"data": name, "quant": quant, "out_frac_bits": f,
                            "calls": len(layers),
                            "outputs": int(hw.size), "hw_mean": float(hw.mean()),
                            "ideal_mean": float(ideal.mean()),
                            "ideal_c_rounded_mean": float(rounded.mean()),
                            "ratio": float(hw.mean() / ideal.mean()),
                            "hw_max": float(hw.max()), "ideal_max": float(ideal.max())})
            log(f"{name}, {quant}, f {f}: hardware {hw.mean():.3f} vs ideal {ideal.mean():.3f} "
                f"output steps ({hw.mean() / ideal.mean():.2f}x)")
    check = None
    if engine_check:
        layer = next(layer for layer in sets[next(n for n in sets if "MiniLM" in n)])
        log("the engine's RTL with its projection on one real layer call ...")
        check = _engine_check(layer)
    return {"records": records, "engine_check": check}


def write_report(report, out_dir, command, target=1.2):
    """``proj_accuracy.{json,md,png}`` in ``out_dir``; returns the markdown table."""
    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    today = datetime.date.today().isoformat()
    rows = ["| data | quantisation | rows into the projection | layer calls | outputs "
            "| hardware mean | ideal int8 mean | ratio | ideal, c rounded like the rows "
            "| hardware max | ideal max |",
            "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in report["records"]:
        mark = "" if r["ratio"] <= target else f" (above {target}×)"
        f = r["out_frac_bits"]
        fmt = "int8 (s8.0)" if f == 0 else f"s{8 + f}.{f} (`--out-frac-bits {f}`)"
        rows.append(f"| {r['data']} | per {r['quant']} | {fmt} | {r['calls']} | {r['outputs']:,} | "
                    f"{r['hw_mean']:.3f} | {r['ideal_mean']:.3f} | **{r['ratio']:.2f}×**{mark} | "
                    f"{r['ideal_c_rounded_mean']:.3f} | "
                    f"{r['hw_max']:.2f} | {r['ideal_max']:.2f} |")
    check = report["engine_check"]
    note = ""
    if check:
        note = (f"\n\nThe engine's RTL with its projection (Verilator) on the first real layer "
                f"call ({check['heads']} heads x {check['queries']} queries, d_out "
                f"{check['d_out']}, out_frac_bits {check['out_frac_bits']}): "
                f"{check['outputs']:,} outputs, "
                f"{'equal to golden word for word' if check['equal'] else 'DIFFERENT from golden'}"
                f" ({check['seconds']} s).")
    md = (f"Generated by `{command}` on {today} (attnhw {__version__}). Mean and max of "
          f"|y − y_float64| in output steps.\n\n" + "\n".join(rows) + note + "\n")
    atomic_write(out / "proj_accuracy.md", lambda f: f.write(md))
    atomic_write(out / "proj_accuracy.json",
                 lambda f: json.dump({"date": today, "attnhw_version": __version__,
                                      "command": command, **report}, f, indent=1))
    _plot(report["records"], out / "proj_accuracy.png", target)
    return md


def _plot(records, path, target):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(9, 3.8))
    labels = [f"{'random' if r['data'].startswith('random') else 'MiniLM'}\nper {r['quant']}"
              f"\nf={r['out_frac_bits']}" for r in records]
    x = np.arange(len(records))
    ax.bar(x - 0.2, [r["ideal_mean"] for r in records], 0.4, label="ideal int8 pipeline")
    ax.bar(x + 0.2, [r["hw_mean"] for r in records], 0.4, label="hardware (attnhw)")
    ax.plot(x, [target * r["ideal_mean"] for r in records], "k_", markersize=30,
            label=f"{target}× ideal")
    ax.set_xticks(x, labels)
    ax.set_ylabel("mean |y − float64| (output steps)")
    ax.set_title("Attention + output projection vs float64")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
