"""The output projection's load port (attnhw.hdl.proj_loader) alone: the words of
attnhw.golden.out_proj.load_words in, with random gaps; every memory write recorded,
and the memories rebuilt from them must hold the weights, biases and requantisation
constants that made the words, at the places OutProjection reads them. A misplaced
``last`` raises the sticky error and restarts the sequence."""

import numpy as np
import pytest
from amaranth.sim import Simulator

from attnhw.golden.out_proj import ProjParams, load_words
from attnhw.hdl.proj_loader import ProjLoader
from attnhw.sim.amaranth_streams import add_watchdog, send
from attnhw.sim.proj_job import random_projection


def run_loader(op, requantisers, sequences, rng):
    """Send each word sequence (``[(data, last)]``) in turn; returns the memories as
    written (dicts address -> value per lane / requantiser) and the error flag after
    each sequence."""
    dut = ProjLoader(op, requantisers)
    mem = {"w": {}, "b": [{} for _ in range(op.lanes)], "c": [{} for _ in range(requantisers)]}
    flags = []
    state = {"sending": True}

    async def sender(ctx):
        for words in sequences:
            await send(ctx, dut.load, [{"data": int(d), "last": int(x)} for d, x in words],
                       rng, 0.3)
            await ctx.tick().repeat(2)          # its final writes leave
            flags.append(ctx.get(dut.err_load_last))
            ctx.set(dut.clear_errors, 1)
            await ctx.tick()
            ctx.set(dut.clear_errors, 0)
        state["sending"] = False

    async def recorder(ctx):
        async for _, _, w, b, c in ctx.tick().sample(dut.weights, dut.biases, dut.constants):
            if w.en:
                mem["w"][int(w.addr)] = int(w.data)
            for e in range(op.lanes):
                if b[e].en:
                    mem["b"][e][int(b[e].addr)] = int(b[e].data)
            for r in range(requantisers):
                if c[r].en:
                    mem["c"][r][int(c[r].addr)] = (int(c[r].M), int(c[r].sh))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(sender)
    sim.add_testbench(recorder, background=True)
    add_watchdog(sim, 4 * sum(map(len, sequences)) + 200)
    sim.run()
    return mem, flags


def check_memories(op, R, mem, W, b, M, sh):
    P, G, K, ww = op.lanes, op.groups, op.k, op.weight_width
    L = P // R
    for g in range(G):
        for k in range(K):
            word = mem["w"][g * K + k]
            lanes = [(word >> e * ww) & ((1 << ww) - 1) for e in range(P)]
            lanes = [x - (1 << ww) if x >> ww - 1 else x for x in lanes]
            assert lanes == list(W[g * P:(g + 1) * P, k]), f"weights of group {g}, input {k}"
        for e in range(P):
            assert mem["b"][e][g] == b[g * P + e], f"bias of output {g * P + e}"
        for r in range(R):
            for i in range(L):
                o = g * P + r * L + i
                assert mem["c"][r][g * L + i] == (M[o], sh[o]), f"constants of output {o}"


@pytest.mark.parametrize("heads,head_dim,d_out,lanes,ww,R", [
    (2, 4, 8, 4, 8, 1), (3, 2, 16, 8, 8, 2), (1, 4, 8, 2, 16, 2), (2, 3, 8, 4, 16, 4)])
def test_loader_writes_the_memories(heads, head_dim, d_out, lanes, ww, R):
    op = ProjParams(heads=heads, head_dim=head_dim, d_out=d_out, weight_width=ww,
                       lanes=lanes, tile_rows=4)
    rng = np.random.default_rng([heads, head_dim, d_out, lanes, ww, R])
    W, b, M, sh = random_projection(op, rng)
    words = load_words(W, b, M, sh, op)
    last = [0] * (len(words) - 1) + [1]
    mem, flags = run_loader(op, R, [list(zip(words, last))], rng)
    assert flags == [0]
    check_memories(op, R, mem, W, b, M, sh)


def test_misplaced_last_flags_and_restarts():
    """A sequence cut short by ``last`` raises the error; the next full sequence
    overwrites every place as if nothing had come before."""
    op = ProjParams(heads=2, head_dim=4, d_out=8, lanes=4, tile_rows=4)
    rng = np.random.default_rng(5)
    first = load_words(*random_projection(op, rng), op)
    cut = [(w, int(n == 10)) for n, w in enumerate(first[:11])]
    W, b, M, sh = random_projection(op, rng)
    words = load_words(W, b, M, sh, op)
    full = [(w, int(n == len(words) - 1)) for n, w in enumerate(words)]
    missing = [(w, 0) for w in words]           # no `last` on the final word
    mem, flags = run_loader(op, 1, [cut, full, missing, full], rng)
    assert flags == [1, 0, 1, 0]
    check_memories(op, 1, mem, W, b, M, sh)
