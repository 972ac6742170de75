"""Engine jobs: a list of heads (tensors, padding bits, settings) as port beats, and
the golden rows they must produce (``attnhw.golden.engine``)."""

import numpy as np

from attnhw.golden.engine import check_mode, engine_attention
from attnhw.golden.errors import InputError
from attnhw.golden.scale import scale_to_port
from attnhw.hdl.engine import engine_out_layout, engine_query_layout, engine_settings_layout
from attnhw.hdl.layouts import kv_layout

from .payload import pack, unpack

__all__ = ["random_head", "kv_beats", "q_beats", "expected_rows", "rows_from_beats",
           "misplaced_last_candidates", "save_heads", "load_heads"]

_SETTINGS = ("scale", "causal", "offset", "key_limit", "group_rows")
#: Settings a head may leave out, and their values then (filled in by save_heads, so
#: every head the testbench loads has them all).
_OPTIONAL = {"group_rows": 0}


def random_head(p, rng, nq, nk, *, mask_prob=0.0, temperature=1.0, modes=True, groups=1):
    """One head of random integer tensors. ``modes``: random causal/offset/key_limit
    settings (else none); ``mask_prob``: probability of each key's padding bit;
    ``groups``: a grouped-query pass, ``groups`` query heads of ``nq`` queries each
    over the one K/V (``group_rows = nq``)."""
    lo, hi = -(1 << (p.data_width - 1)), 1 << (p.data_width - 1)
    head = dict(q=rng.integers(lo, hi, (groups * nq, p.head_dim)),
                k=rng.integers(lo, hi, (nk, p.head_dim)),
                v=rng.integers(lo, hi, (nk, p.head_dim)), pad=rng.random(nk) < mask_prob,
                causal=False, offset=0, key_limit=0, group_rows=nq if groups > 1 else 0)
    step = 1.0 / (hi // 2 or 1)        # values ~ +-2 after dequantisation: scores of a few octaves
    head["scale"] = int(scale_to_port(temperature * step * step / np.sqrt(p.head_dim), p)[0])
    if modes:
        head["causal"] = bool(rng.random() < 0.5)
        if head["causal"]:       # around the aligned offset nk - nq
            head["offset"] = int(np.clip(rng.integers(nk - nq - 2, nk - nq + 3),
                                         -p.max_seq_len, p.max_seq_len))
        head["key_limit"] = int(rng.integers(0, nk + 1)) if rng.random() < 0.4 else 0
        check_mode(p, head["key_limit"], head["offset"], head["group_rows"])
    return head


def kv_beats(p, heads):
    """The ``kv`` port's beats for all heads, in order (packed ints)."""
    words = []
    for h in heads:
        nk = len(h["k"])
        k = h["k"].reshape(nk * p.slices, p.lanes)
        v = h["v"].reshape(nk * p.slices, p.lanes)
        pad = np.repeat(h["pad"], p.slices)
        last = np.zeros(nk * p.slices, dtype=np.int64)
        last[-1] = 1
        words += pack(kv_layout(p), k=k, v=v, masked=pad, last=last)
    return words


def q_beats(p, heads):
    """``(payload, settings)`` per ``q`` beat (packed ints): the settings are those of
    the beat's head, to be driven while the beat is offered."""
    beats = []
    settings = engine_settings_layout(p)
    for h in heads:
        nq = len(h["q"])
        last = np.zeros(nq * p.slices, dtype=np.int64)
        last[-1] = 1
        words = pack(engine_query_layout(p), q=h["q"].reshape(nq * p.slices, p.lanes), last=last)
        s = settings.const({"scale": h["scale"], "causal": h["causal"], "offset": h["offset"],
                            "key_limit": h["key_limit"],
                            "group_rows": h["group_rows"]}).as_value().value
        beats += [(w, s) for w in words]
    return beats


def expected_rows(p, heads):
    """Golden output rows ``(sum Nq, d)`` of all heads, in order."""
    return np.concatenate([
        engine_attention(h["q"], h["k"], h["v"], h["scale"], p, key_pad=h["pad"],
                         key_limit=h["key_limit"], causal=h["causal"], offset=h["offset"],
                         group_rows=h["group_rows"])
        for h in heads])


def rows_from_beats(p, words):
    """Output beats to ``(rows (n, d), row_last (beats,), last (beats,))``."""
    f = unpack(engine_out_layout(p), words)
    rows = f["o"][: len(words) // p.slices * p.slices].reshape(-1, p.head_dim)
    return rows, f["row_last"], f["last"]


def misplaced_last_candidates(p, heads):
    """Beat indices where a ``tlast`` would be misplaced (attnhw.golden.framing: ignored, and
    a STATUS bit raised): ``(kv, q)``, every ``kv`` beat but a key's final one and
    every ``q`` beat but a query's final one."""
    kv = np.arange(sum(len(h["k"]) for h in heads) * p.slices)
    q = np.arange(sum(len(h["q"]) for h in heads) * p.slices)
    return kv[kv % p.slices != p.slices - 1], q[q % p.slices != p.slices - 1]


def save_heads(path, p, heads, *, gap=0.0, stall=0.0, seed=0, kv_last_flips=(),
               q_last_flips=(), projection=None):
    """Write a job for ``attnhw.sim.tb_engine``: the parameters, each head's tensors and
    settings, the stall options, the ``kv``/``q`` beats that carry a misplaced
    ``tlast`` (from :func:`misplaced_last_candidates`) and, with ``p.out_features``,
    the output projection's integers ``(W_int, b_int, M, sh)``."""
    import json
    kv_ok, q_ok = misplaced_last_candidates(p, heads)
    if not (set(kv_last_flips) <= set(kv_ok.tolist()) and set(q_last_flips) <= set(q_ok.tolist())):
        raise InputError("a misplaced tlast must sit on a beat that is not a key's or a "
                         "query's final beat")
    arrays = {f"{name}{h}": head[name] for h, head in enumerate(heads)
              for name in ("q", "k", "v", "pad")}
    if (projection is None) != (p.out_proj is None):
        raise InputError("the projection's integers go with p.out_features, and only there")
    if projection is not None:
        arrays.update(zip(("W_int", "b_int", "M", "sh"), projection))
    meta = dict(params=p.as_dict(), gap=float(gap), stall=float(stall), seed=int(seed),
                kv_last_flips=sorted(int(i) for i in kv_last_flips),
                q_last_flips=sorted(int(i) for i in q_last_flips),
                settings=[{n: head[n] if n in head or n not in _OPTIONAL else _OPTIONAL[n]
                           for n in _SETTINGS} for head in heads])
    np.savez(path, meta=json.dumps(meta), **arrays)


def load_heads(path):
    """Inverse of :func:`save_heads`: ``(params, heads, options)``; the options hold
    ``projection`` (the integers, or None)."""
    import json
    from attnhw.golden.params import AttnParams
    with np.load(path) as f:
        meta = json.loads(str(f["meta"]))
        heads = [dict(q=f[f"q{h}"], k=f[f"k{h}"], v=f[f"v{h}"], pad=f[f"pad{h}"], **s)
                 for h, s in enumerate(meta["settings"])]
        projection = (tuple(f[n] for n in ("W_int", "b_int", "M", "sh")) if "W_int" in f.files
                      else None)
    opts = {k: meta.get(k, []) for k in ("gap", "stall", "seed", "kv_last_flips", "q_last_flips")}
    opts["projection"] = projection
    return AttnParams(**meta["params"]), heads, opts
