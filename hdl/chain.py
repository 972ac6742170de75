"""A registered chain past the engine's cores: beats out, credit returns back."""

from amaranth.hdl import Module, Signal
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["Chain", "chain_beat_layout"]


def chain_beat_layout(shape, stops):
    """A beat on the chain: ``valid``, ``dest`` (one bit per stop that takes it) and the
    payload."""
    return data.StructLayout({"valid": 1, "dest": stops, "payload": shape})


class Chain(wiring.Component):
    """Carries beats past ``stops`` destinations (the engine's cores) in registered
    hops, and their credit returns back the same way.

    A beat entering on ``i`` reaches stop ``b`` after :meth:`hops` ``(b)`` registers
    (``o[b]``, valid there if its ``dest`` bit ``b`` is set), having passed every
    stop before it; a credit that stop ``b`` returns on ``release[b]`` leaves on
    ``released[b]`` after as many registers. So no net runs from one place to every
    core: each hop spans one core to the next, and the placer can put stop ``b``'s
    register beside core ``b``. There is no ``ready``: a sender issues a beat only with a
    credit for a place at each of its stops (:func:`attnhw.hdl.credits.credit_room`),
    and counts the extra hops, out and back, into its credits.

    Members
    -------
    i : ``In(chain_beat_layout(shape, stops))``
    o : ``Out(StructLayout({valid, payload})).array(stops)``
        Stop ``b``'s beat: ``valid`` when it is for ``b``.
    release : ``In(stops)``
        One pulse per place freed at stop ``b``.
    released : ``Out(stops)``
        The same pulses, :meth:`hops` ``(b)`` cycles later, back at the sender.
    """

    def __init__(self, shape, stops):
        self.shape, self.stops = shape, stops
        super().__init__({
            "i": In(chain_beat_layout(shape, stops)),
            "o": Out(data.StructLayout({"valid": 1, "payload": shape})).array(stops),
            "release": In(stops),
            "released": Out(stops),
        })

    @staticmethod
    def hops(b):
        """Registers between the sender and stop ``b``, either way."""
        return b + 1

    def elaborate(self, platform):
        m = Module()
        beat = self.i
        for b in range(self.stops):
            # Stop b's register: what stops b + 1 ... need, and b's own bit.
            here = Signal(chain_beat_layout(self.shape, self.stops), name=f"hop{b}")
            m.d.sync += [here.valid.eq(beat.valid & beat.dest[b:].any()),
                         here.dest.eq(beat.dest), here.payload.eq(beat.payload)]
            m.d.comb += [self.o[b].valid.eq(here.valid & here.dest[b]),
                         self.o[b].payload.eq(here.payload)]
            beat = here
        # Credits back: stop b's pulse through b + 1 registers, one per hop.
        for b in range(self.stops):
            pulse = self.release[b]
            for h in range(self.hops(b)):
                reg = Signal(name=f"release{b}_hop{h}")
                m.d.sync += reg.eq(pulse)
                pulse = reg
            m.d.comb += self.released[b].eq(pulse)
        return m
