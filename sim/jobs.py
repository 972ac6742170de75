"""A simulation job: the queries, their keys/values/masks and the stall settings.

Saved as ``.npz`` for the cocotb process; also reassembles monitored port beats
into queries so the golden model checks what the core actually accepted.
"""

import json

import numpy as np

from attnhw.golden.attention import attention
from attnhw.golden.framing import split_queries
from attnhw.golden.params import AttnParams
from attnhw.hdl.layouts import kv_layout, out_layout, query_layout

from .payload import pack, unpack

__all__ = ["make_job", "with_faults", "save_job", "load_job", "input_beats",
           "expected_from_beats", "outputs_from_beats", "RESET_PORTS"]

# Where a job's prelude is cut short by a reset: after `reset_count` beats on this port.
RESET_PORTS = ("q", "kv", "o")


def make_job(p, q, k, v, masked, scale, n_keys=None, *, gap=0.0, stall=0.0, seed=0):
    """``q (Q, d)``, ``k, v (Q, N, d)``, ``masked (Q, N)``, ``scale (Q,)``; query i uses
    its first ``n_keys[i]`` keys (default all N)."""
    nq, nk = k.shape[0], k.shape[1]
    return dict(params=json.dumps(p.as_dict()), q=np.asarray(q), k=np.asarray(k),
                v=np.asarray(v), masked=np.asarray(masked, dtype=bool),
                scale=np.broadcast_to(np.asarray(scale, dtype=np.int64), (nq,)).copy(),
                n_keys=np.full(nq, nk) if n_keys is None else np.asarray(n_keys),
                gap=float(gap), stall=float(stall), seed=int(seed),
                last_flips=np.zeros(0, dtype=np.int64), o_hold=np.zeros((0, 2), np.int64),
                starve=np.zeros((0, 2), np.int64))


def with_faults(job, *, last_flips=(), o_hold=(), starve=(), prelude=None, reset_port="kv",
                reset_count=0):
    """A copy of ``job`` with faults injected:

    - ``last_flips``: kv beat indices whose ``last`` bit is toggled (misplaced or
      missing ``last``; the expected rows follow ``attnhw.golden.framing``);
    - ``o_hold`` / ``starve``: ``(first_cycle, cycles)`` windows in which the output is
      back-pressured / no input beat is offered;
    - ``prelude``: another job run first and cut short by a reset after
      ``reset_count`` beats on ``reset_port`` (one of :data:`RESET_PORTS`); nothing of
      it may reach the outputs of ``job``.
    """
    job = dict(job, last_flips=np.asarray(last_flips, dtype=np.int64),
               o_hold=np.asarray(o_hold, dtype=np.int64).reshape(-1, 2),
               starve=np.asarray(starve, dtype=np.int64).reshape(-1, 2))
    if prelude is not None:
        job.update({f"pre_{name}": prelude[name]
                    for name in ("q", "k", "v", "masked", "scale", "n_keys")})
        job["reset_port"] = RESET_PORTS.index(reset_port)
        job["reset_count"] = int(reset_count)
    return job


def save_job(path, job):
    np.savez(path, **job)


def load_job(path):
    with np.load(path) as f:
        job = {name: f[name] for name in f.files}
    job["params"] = AttnParams(**json.loads(str(job["params"])))
    for name in ("gap", "stall"):
        job[name] = float(job[name])
    for name in ("seed", "reset_port", "reset_count"):
        if name in job:
            job[name] = int(job[name])
    return job


def input_beats(job, prefix=""):
    """Port words for ``q`` and ``kv``, in order (``prefix="pre_"``: the prelude's),
    with the job's ``last_flips`` applied (not to the prelude)."""
    p = job["params"]
    get = lambda name: job[prefix + name]  # noqa: E731
    nq = len(get("q"))
    q_slices = get("q").reshape(nq * p.slices, p.lanes)
    q_words = pack(query_layout(p), q=q_slices, scale=np.repeat(get("scale"), p.slices))
    ks, vs, ms, ls = [], [], [], []
    for i in range(nq):
        n = int(get("n_keys")[i])
        ks.append(get("k")[i, :n].reshape(n * p.slices, p.lanes))
        vs.append(get("v")[i, :n].reshape(n * p.slices, p.lanes))
        ms.append(np.repeat(get("masked")[i, :n], p.slices))
        last = np.zeros(n * p.slices, dtype=np.int64)
        last[-1] = 1
        ls.append(last)
    last = np.concatenate(ls)
    if not prefix:
        last[job["last_flips"]] ^= 1
    kv_words = pack(kv_layout(p), k=np.concatenate(ks), v=np.concatenate(vs),
                    masked=np.concatenate(ms), last=last)
    return q_words, kv_words


def expected_from_beats(p, q_words, kv_words):
    """Golden output rows ``(Q, d)`` for the beats the core accepted, framed into
    queries by :func:`attnhw.golden.framing.split_queries`."""
    qb = unpack(query_layout(p), q_words)
    kvb = unpack(kv_layout(p), kv_words)
    nq = len(q_words) // p.slices
    rows = []
    bounds, _ = split_queries(p, kvb["last"])
    for i, (a, b) in enumerate(bounds[:nq]):
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
