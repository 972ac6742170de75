"""Run a component under Amaranth's simulator with a sender and a receiver."""

from amaranth.sim import Simulator

from attnhw.sim.amaranth_streams import receive, send

__all__ = ["run_stream_unit"]


def run_stream_unit(dut, inputs, count, rng, *, gap=0.3, stall=0.3, out="o",
                    extra_inputs=(), vcd=None):
    """Send ``inputs`` to ``dut.i`` (and ``(port, beats)`` pairs in ``extra_inputs``),
    collect ``count`` beats from ``dut.<out>``; returns them as Python values."""
    result = []
    sim = Simulator(dut)
    sim.add_clock(1e-8)

    def sender(port, beats):
        async def tb(ctx):
            await send(ctx, port, beats, rng, gap)
        return tb

    for port, beats in [(getattr(dut, "i", None), inputs), *extra_inputs]:
        if port is not None and beats is not None:
            sim.add_testbench(sender(port, beats), background=True)

    async def receiver(ctx):
        result.extend(await receive(ctx, getattr(dut, out), count, rng, stall))

    sim.add_testbench(receiver)
    if vcd:
        with sim.write_vcd(vcd):
            sim.run()
    else:
        sim.run()
    return result
