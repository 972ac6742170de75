"""A normaliser narrower than the slice: each slice passes through it in parts."""

import dataclasses

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .layouts import out_layout, row_layout
from .replicate import KEEP
from .skid_buffer import SkidBuffer

__all__ = ["NarrowNormalizer", "SliceSplitter", "SliceJoiner"]


def _parts(p):
    """``(parts, lanes per part)`` of a slice."""
    return p.lanes // p.normaliser_lanes, p.normaliser_lanes


def narrow_params(p):
    """``p`` with ``lanes = p.normaliser_lanes``: the parameters the inner normaliser
    is built for (widths do not depend on ``lanes``)."""
    return dataclasses.replace(p, lanes=p.normaliser_lanes, norm_lanes=0)


class SliceSplitter(wiring.Component):
    """Splits each accumulator slice into ``lanes // norm_lanes`` parts, lanes
    ``0 … norm_lanes − 1`` first; each part carries the row's sum, ``last`` only on
    the final part of a row's final slice.

    Holds one slice in a shift register (no mux): it is taken when the register is
    empty and leaves ``norm_lanes`` lanes per beat, through a skid buffer.

    Members
    -------
    i : ``In(stream.Signature(row_layout(params)))``
    o : ``Out(stream.Signature(row_layout(narrow_params(params))))``
    """

    #: Cycles from a slice taken to its first part offered (the shift register, then
    #: the skid buffer).
    latency = 2

    def __init__(self, params):
        self.params = params
        super().__init__({"i": In(stream.Signature(row_layout(params))),
                          "o": Out(stream.Signature(row_layout(narrow_params(params))))})

    def elaborate(self, platform):
        m = Module()
        p = self.params
        parts, k = _parts(p)
        aw = p.acc_width
        acc = Signal(p.lanes * aw)
        total, last = Signal.like(self.i.payload.sum), Signal()
        part = Signal(range(max(parts, 2)))
        # The slice register's enables come from flip-flops beside each share of it,
        # not from a single net across all lanes x acc_width bits (routing-bound):
        # `full`, one equal copy per group of up to 4 lanes, and the parts leave
        # through a skid buffer whose `ready` has a copy per group too (the next
        # unit's `ready` enabling the whole register was 7.25 ns of routing).
        groups = -(-p.lanes // 4)
        full = [Signal(name=f"full{g}", attrs=KEEP) for g in range(groups)]
        m.submodules.out = out = SkidBuffer(row_layout(narrow_params(p)), ready_copies=groups)
        wiring.connect(m, out.o, wiring.flipped(self.o))
        final = part == parts - 1
        m.d.comb += [self.i.ready.eq(~full[0]), out.i.valid.eq(full[0]),
                     out.i.payload.acc.eq(acc[:k * aw]), out.i.payload.sum.eq(total),
                     out.i.payload.last.eq(last & final)]
        with m.If(self.i.valid & ~full[0]):
            m.d.sync += [total.eq(self.i.payload.sum), last.eq(self.i.payload.last),
                         part.eq(0)]
        with m.Elif(full[0] & out.i.ready):
            m.d.sync += part.eq(part + 1)
        shifted = acc >> (k * aw)
        for g in range(groups):
            bits = slice(4 * g * aw, min(4 * (g + 1), p.lanes) * aw)
            with m.If(self.i.valid & ~full[g]):
                m.d.sync += [acc[bits].eq(self.i.payload.acc.as_value()[bits]), full[g].eq(1)]
            with m.Elif(full[g] & out.ready_copies[g]):
                m.d.sync += acc[bits].eq(shifted[bits])
                with m.If(final):
                    m.d.sync += full[g].eq(0)
        return m


class SliceJoiner(wiring.Component):
    """Joins ``lanes // norm_lanes`` normalised parts (in lane order) into a slice,
    ``last`` from its final part.

    Members
    -------
    i : ``In(stream.Signature(out_layout(narrow_params(params))))``
    o : ``Out(stream.Signature(out_layout(params)))``
    """

    #: Cycles from a slice's final part taken to the slice offered.
    latency = 1

    def __init__(self, params):
        self.params = params
        super().__init__({"i": In(stream.Signature(out_layout(narrow_params(params)))),
                          "o": Out(stream.Signature(out_layout(params)))})

    def elaborate(self, platform):
        m = Module()
        p = self.params
        parts, k = _parts(p)
        ow = p.out_width
        slice_ = Signal(p.lanes * ow)
        last = Signal()
        part = Signal(range(max(parts, 2)))
        full = Signal()
        m.d.comb += [self.i.ready.eq(~full), self.o.valid.eq(full),
                     self.o.payload.o.eq(slice_), self.o.payload.last.eq(last)]
        with m.If(self.i.valid & self.i.ready):
            # Each part enters at the top: after the final one, part 0 is at the bottom.
            m.d.sync += [slice_.eq(Cat(slice_[k * ow:], self.i.payload.o)),
                         part.eq(part + 1), last.eq(self.i.payload.last)]
            with m.If(part == parts - 1):
                m.d.sync += [full.eq(1), part.eq(0)]
        with m.If(self.o.valid & self.o.ready):
            m.d.sync += full.eq(0)
        return m


class NarrowNormalizer(wiring.Component):
    """The normaliser of ``params.norm_method`` built for ``norm_lanes`` lanes, fed
    each slice in parts (:class:`SliceSplitter`) and its results joined back
    (:class:`SliceJoiner`): the same results as the full-width normaliser, with
    ``norm_lanes / lanes`` of its dividers, a slice per ``lanes / norm_lanes`` times
    the inner normaliser's period (``w + 2`` cycles per part with ``divide``).

    Members
    -------
    i : ``In(stream.Signature(row_layout(params)))``
    o : ``Out(stream.Signature(out_layout(params)))``
    """

    def __init__(self, params, inner):
        self.params, self._inner = params, inner
        super().__init__({"i": In(stream.Signature(row_layout(params))),
                          "o": Out(stream.Signature(out_layout(params)))})

    def elaborate(self, platform):
        m = Module()
        m.submodules.split = split = SliceSplitter(self.params)
        m.submodules.inner = inner = self._inner
        m.submodules.join = join = SliceJoiner(self.params)
        wiring.connect(m, wiring.flipped(self.i), split.i)
        wiring.connect(m, split.o, inner.i)
        wiring.connect(m, inner.o, join.i)
        wiring.connect(m, join.o, wiring.flipped(self.o))
        return m
