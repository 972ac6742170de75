"""A simulation job: the queries, their keys/values/masks and the stall settings.

Saved as ``.npz`` for the cocotb process; also reassembles monitored port beats
into queries so the golden model checks what the core actually accepted.
"""

import json

import numpy as np

from golden.attention import attention
from golden.params import AttnParams
from hdl.layouts import kv_layout, out_layout, query_layout

from .payload import pack, unpack

__all__ = ["make_job", "save_job", "load_job", "input_beats", "expected_from_beats",
           "outputs_from_beats"]


def make_job(p, q, k, v, masked, scale, n_keys=None, *, gap=0.0, stall=0.0, seed=0):
    """``q (Q, d)``, ``k, v (Q, N, d)``, ``masked (Q, N)``, ``scale (Q,)``; query i uses
    its first ``n_keys[i]`` keys (default all N)."""
    nq, nk = k.shape[0], k.shape[1]
    return dict(params=json.dumps(p.as_dict()), q=np.asarray(q), k=np.asarray(k),
                v=np.asarray(v), masked=np.asarray(masked, dtype=bool),
                scale=np.broadcast_to(np.asarray(scale, dtype=np.int64), (nq,)).copy(),
                n_keys=np.full(nq, nk) if n_keys is None else np.asarray(n_keys),
                gap=float(gap), stall=float(stall), seed=int(seed))


def save_job(path, job):
    np.savez(path, **job)


def load_job(path):
    with np.load(path) as f:
        job = {name: f[name] for name in f.files}
    job["params"] = AttnParams(**json.loads(str(job["params"])))
    for name in ("gap", "stall"):
        job[name] = float(job[name])
    job["seed"] = int(job["seed"])
    return job


def input_beats(job):
    """Port words for ``q`` and ``kv``, in order."""
    p = job["params"]
    nq = len(job["q"])
    q_slices = job["q"].reshape(nq * p.slices, p.lanes)
    q_words = pack(query_layout(p), q=q_slices, scale=np.repeat(job["scale"], p.slices))
    ks, vs, ms, ls = [], [], [], []
    for i in range(nq):
        n = int(job["n_keys"][i])
        ks.append(job["k"][i, :n].reshape(n * p.slices, p.lanes))
        vs.append(job["v"][i, :n].reshape(n * p.slices, p.lanes))
        ms.append(np.repeat(job["masked"][i, :n], p.slices))
        last = np.zeros(n * p.slices, dtype=np.int64)
        last[-1] = 1
        ls.append(last)
    kv_words = pack(kv_layout(p), k=np.concatenate(ks), v=np.concatenate(vs),
                    masked=np.concatenate(ms), last=np.concatenate(ls))
    return q_words, kv_words


def expected_from_beats(p, q_words, kv_words):
    """Golden output rows ``(Q, d)`` for the beats the core accepted."""
    qb = unpack(query_layout(p), q_words)
    kvb = unpack(kv_layout(p), kv_words)
    nq = len(q_words) // p.slices
    rows = []
    ends = np.flatnonzero(kvb["last"]) + 1
    starts = np.concatenate([[0], ends[:-1]])
    for i, (a, b) in enumerate(zip(starts, ends)):
        if i >= nq:
            break
        q = qb["q"][i * p.slices:(i + 1) * p.slices].reshape(1, p.head_dim)
        scale = int(qb["scale"][(i + 1) * p.slices - 1])
        k = kvb["k"][a:b].reshape(-1, p.head_dim)
        v = kvb["v"][a:b].reshape(-1, p.head_dim)
        masked = kvb["masked"][a:b][p.slices - 1::p.slices].astype(bool)[None, :]
        rows.append(attention(q, k, v, scale, p, masked)[0])
    return np.array(rows, dtype=np.int64).reshape(-1, p.head_dim)


def outputs_from_beats(p, o_words):
    """Output rows ``(Q, d)`` and the ``last`` flags from the output port's words."""
    ob = unpack(out_layout(p), o_words)
    return ob["o"].reshape(-1, p.head_dim), ob["last"]
