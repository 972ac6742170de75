"""The K/V store (attnhw.hdl.kv_store) alone in Amaranth's simulator: two heads loaded
with random gaps, pass commands with random gaps, credits returned at random; every
beat of every pass compared with the keys and values as loaded, the masks from each
destination's limit, ``active`` and ``last``; no destination's buffer ever holds more
beats than its credits; and, with credits to spare, passes follow back to back."""

import numpy as np
import pytest
from amaranth.sim import Simulator

from attnhw.golden.params import AttnParams
from attnhw.hdl.kv_store import KVStore
from attnhw.sim.amaranth_streams import add_watchdog, send

CREDITS = 4
ROUND_TRIP = 12     # credits that cover the round trip: reads never wait for one


def make_head(p, rng, n_keys):
    keys = rng.integers(-(1 << p.data_width - 1), 1 << p.data_width - 1,
                        size=(2, n_keys, p.head_dim))
    masked = rng.random(n_keys) < 0.3
    return {"k": keys[0], "v": keys[1], "masked": masked}


def load_beats(p, head):
    n = len(head["masked"])
    beats = []
    for j in range(n):
        for s in range(p.slices):
            lanes = slice(s * p.lanes, (s + 1) * p.lanes)
            beats.append({"k": [int(x) for x in head["k"][j, lanes]],
                          "v": [int(x) for x in head["v"][j, lanes]],
                          "masked": int(head["masked"][j]),
                          "last": int(j == n - 1 and s == p.slices - 1)})
    return beats


def expected_pass(p, head, cmd):
    """The beats of one pass, as the store must send them."""
    n = len(head["masked"])
    for j in range(n):
        masked = sum((int(head["masked"][j]) | (j >= cmd["limits"][b])) << b
                     for b in range(p.block))
        for s in range(p.slices):
            lanes = slice(s * p.lanes, (s + 1) * p.lanes)
            yield {"k": [int(x) for x in head["k"][j, lanes]],
                   "v": [int(x) for x in head["v"][j, lanes]],
                   "masked": masked, "active": cmd["active"],
                   "last": int(j == n - 1 and s == p.slices - 1)}


def run_store(p, heads, passes, rng, *, gap, take_prob, credits=CREDITS):
    """Load ``heads``, send ``passes`` (one list of commands per head, the last with
    ``release``); returns the output beats (dicts) and the cycle of each."""
    dut = KVStore(p, credits=credits)
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    n_out = sum(len(hp) * len(h["masked"]) * p.slices for h, hp in zip(heads, passes))
    out, cycles = [], []
    held = [0] * p.block          # beats in each destination's buffer (credits in use)

    async def loader(ctx):
        await send(ctx, dut.load, [b for h in heads for b in load_beats(p, h)], rng, gap)

    async def commander(ctx):
        await send(ctx, dut.cmd, [c for hp in passes for c in hp], rng, gap)

    async def monitor(ctx):
        cycle = 0
        while len(out) < n_out + 1:     # one more: a beat after the last fails
            taken = 0
            for b in range(p.block):
                if held[b] and rng.random() < take_prob:
                    held[b] -= 1
                    taken |= 1 << b
            ctx.set(dut.taken, taken)
            _, _, valid, payload = await ctx.tick().sample(dut.o.valid, dut.o.payload)
            cycle += 1
            if valid:
                beat = {"k": [int(x) for x in payload.k], "v": [int(x) for x in payload.v],
                        "masked": int(payload.masked), "active": int(payload.active),
                        "last": int(payload.last)}
                out.append(beat)
                cycles.append(cycle)
                for b in range(p.block):
                    if beat["active"] >> b & 1:
                        held[b] += 1
                        assert held[b] <= credits, f"destination {b}: buffer overflows"

    sim.add_testbench(loader, background=True)
    sim.add_testbench(commander, background=True)
    sim.add_testbench(monitor, background=True)

    async def until_done(ctx):
        while len(out) < n_out:
            await ctx.tick()
        for _ in range(100):       # the drain: nothing after the last pass
            await ctx.tick()
    sim.add_testbench(until_done)
    add_watchdog(sim, 40 * n_out + 1000, lambda: f"{len(out)} of {n_out} beats")
    sim.run()
    assert len(out) == n_out, f"{len(out) - n_out} beats after the last pass"
    return out, cycles


def test_kv_store_passes_match_loaded_heads():
    p = AttnParams(head_dim=8, lanes=4, data_width=6, max_seq_len=8, block=2)
    rng = np.random.default_rng(27)
    heads = [make_head(p, rng, n) for n in (5, 8, 1, 3)]
    passes = []
    for h in heads:
        n = len(h["masked"])
        hp = [{"release": 0, "active": int(rng.choice([1, 3])),
               "limits": [int(x) for x in rng.integers(0, n + 1, p.block)]}
              for _ in range(int(rng.integers(1, 4)))]
        hp[-1]["release"] = 1
        passes.append(hp)
    out, _ = run_store(p, heads, passes, rng, gap=0.3, take_prob=0.4)
    expect = [b for h, hp in zip(heads, passes) for c in hp for b in expected_pass(p, h, c)]
    for n, (got, want) in enumerate(zip(out, expect)):
        assert got == want, f"beat {n}: {got} != {want}"


@pytest.mark.parametrize("lanes", [4, 8])   # two slices per key, and one
def test_kv_store_passes_back_to_back(lanes):
    """With credits returned at once and the commands waiting, a head's passes leave
    as one unbroken run of beats: the next pass starts with the current one's final
    read."""
    p = AttnParams(head_dim=8, lanes=lanes, data_width=6, max_seq_len=8, block=2)
    rng = np.random.default_rng(lanes)
    head = make_head(p, rng, 6)
    passes = [[{"release": int(n == 2), "active": 3, "limits": [6, 6]} for n in range(3)]]
    out, cycles = run_store(p, [head], passes, rng, gap=0.0, take_prob=1.0,
                            credits=ROUND_TRIP)
    expect = [b for c in passes[0] for b in expected_pass(p, head, c)]
    assert out == expect
    assert np.all(np.diff(cycles) == 1), f"gaps between passes: {np.diff(cycles)}"
