"""Run a component under Amaranth's simulator with a sender and a receiver, a
watchdog and a drain check."""

from amaranth.sim import Simulator

from attnhw.sim.amaranth_streams import add_watchdog, drain, receive, send

__all__ = ["run_stream_unit"]

DRAIN_CYCLES = 100


def run_stream_unit(dut, inputs, count, rng, *, gap=0.3, stall=0.3, out="o",
                    extra_inputs=(), vcd=None, cycles_per_beat=20):
    """Send ``inputs`` to ``dut.i`` (and ``(port, beats)`` pairs in ``extra_inputs``),
    collect ``count`` beats from ``dut.<out>``; returns them as Python values.

    Fails if the beats do not arrive within ``cycles_per_beat`` cycles per input and
    output beat (plus a margin), or if a beat follows the last one within
    ``DRAIN_CYCLES``."""
    result, extra = [], []
    sim = Simulator(dut)
    sim.add_clock(1e-8)

    def sender(port, beats):
        async def tb(ctx):
            await send(ctx, port, beats, rng, gap)
        return tb

    sources = [(getattr(dut, "i", None), inputs), *extra_inputs]
    n_in = 0
    for port, beats in sources:
        if port is not None and beats is not None:
            sim.add_testbench(sender(port, beats), background=True)
            n_in += len(beats)

    async def receiver(ctx):
        result.extend(await receive(ctx, getattr(dut, out), count, rng, stall))
        extra.append(await drain(ctx, getattr(dut, out), DRAIN_CYCLES))

    sim.add_testbench(receiver)
    add_watchdog(sim, cycles_per_beat * (n_in + count) + 500 + DRAIN_CYCLES,
                 lambda: f"{len(result)} of {count} output beats")
    if vcd:
        with sim.write_vcd(vcd):
            sim.run()
    else:
        sim.run()
    assert extra == [0], f"{extra[0]} beats after the last expected one"
    return result
