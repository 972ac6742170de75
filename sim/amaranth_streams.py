"""Valid/ready stream driver and monitor for Amaranth's simulator (unit tests).

Stalls are a parameter: ``gap`` is the probability of an idle cycle before each
input beat, ``stall`` the probability of holding ``ready`` low before each output
beat (alexforencich-style pause patterns, drawn from a seeded generator).
"""

from amaranth.lib import data

__all__ = ["send", "receive", "to_python"]


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
