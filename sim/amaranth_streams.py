"""Valid/ready stream driver and monitor for Amaranth's simulator (unit tests).

Stalls are a parameter: ``gap`` is the probability of an idle cycle before each
input beat, ``stall`` the probability of holding ``ready`` low before each output
beat (alexforencich-style pause patterns, drawn from a seeded generator). Every run
has a watchdog (:func:`add_watchdog`: a lost beat fails the test instead of hanging
it) and ends with a drain (:func:`drain`: no beat after the last expected one).
"""

from amaranth.lib import data

__all__ = ["send", "receive", "drain", "add_watchdog", "to_python"]


def to_python(value):
    """A ``data.Const`` (struct/array payload) as nested dicts/lists of ints."""
    if isinstance(value, data.Const):
        layout = value.shape()
        if isinstance(layout, data.ArrayLayout):
            return [to_python(value[n]) for n in range(layout.length)]
        return {name: to_python(value[name]) for name, _ in layout}
    return int(value)


async def _idle(ctx, rng, prob):
    while rng is not None and rng.random() < prob:
        await ctx.tick()


async def send(ctx, port, beats, rng=None, gap=0.0):
    """Drive ``beats`` (payload values) into ``port`` with random idle gaps."""
    for beat in beats:
        await _idle(ctx, rng, gap)
        ctx.set(port.valid, 1)
        ctx.set(port.payload, beat)
        await ctx.tick().until(port.ready)
        ctx.set(port.valid, 0)


async def receive(ctx, port, count, rng=None, stall=0.0, raw=False):
    """Collect ``count`` beats from ``port`` with random backpressure (as packed ints
    if ``raw``)."""
    out = []
    for _ in range(count):
        await _idle(ctx, rng, stall)
        ctx.set(port.ready, 1)
        payload, = await ctx.tick().sample(port.payload).until(port.valid)
        ctx.set(port.ready, 0)
        out.append(payload.as_value().value if raw else to_python(payload))
    return out


async def drain(ctx, port, cycles):
    """Hold ``ready`` high for ``cycles`` clock cycles; returns how many beats ``port``
    offered (after the last expected beat there must be none)."""
    ctx.set(port.ready, 1)
    extra = 0
    for _ in range(cycles):
        *_, valid = await ctx.tick().sample(port.valid)
        extra += bool(valid)
    ctx.set(port.ready, 0)
    return extra


def add_watchdog(sim, cycles, progress=lambda: ""):
    """Fail the simulation after ``cycles`` clock cycles (a background testbench: a run
    whose testbenches finish earlier ends earlier); ``progress()`` goes in the message."""
    async def watchdog(ctx):
        for _ in range(cycles):     # not tick().repeat(): it cannot be cut short cleanly
            await ctx.tick()
        raise AssertionError(f"watchdog: the run did not end within {cycles} cycles "
                             f"({progress()})")
    sim.add_testbench(watchdog, background=True)
