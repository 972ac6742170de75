"""Final normalisation: ``o = sat_w(round(acc / l))`` by restoring division."""

from amaranth.hdl import Cat, Module, Mux, Signal, signed, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.wiring import In, Out

from .credits import credit_room
from .layouts import out_layout, row_layout
from .replicate import register_copies

__all__ = ["Normalize"]


class Normalize(wiring.Component):
    """Divides each accumulator by the row's sum, rounded half up and saturated.

    Golden: ``golden.attention.normalize``: ``Q = floor(N / D)`` with
    ``N = 2*acc + (2^w + 1)*l`` and ``D = 2*l``, saturated to ``[0, 2^w - 1]``, and
    ``o = Q - 2^(w-1)``, which equals ``sat_w(floor(acc/l + 1/2))``. A row whose keys
    were all masked has ``l = 0`` and outputs 0.

    Results leave through a 3-slice FIFO; a slice enters the divider only with a
    place reserved there (a credit count), and every lane derives its enables from
    its own copies of the control registers, so no enable reaches all lanes.

    Each lane has an iterative restoring divider: one cycle to load, ``w`` cycles of
    one quotient bit each (a ``sum_width + 2``-bit compare and subtract), one cycle
    to hand over, so a slice takes ``w + 2`` cycles. Two registered stages in front
    prepare ``N`` and detect ``N < 0`` and ``N >= 2^w * D`` (saturation) while the
    divider works on the previous slice.

    Members
    -------
    i : ``In(stream.Signature(...))``
        ``{acc: lanes x s.(E+G), sum: u.(E+G), last: 1}`` from :class:`Accumulator`.
    o : ``Out(stream.Signature(...))``
        ``{o: lanes x s(w).0, last: 1}``.
    """

    def __init__(self, params):
        self.params = params
        super().__init__({
            "i": In(stream.Signature(row_layout(params))),
            "o": Out(stream.Signature(out_layout(params))),
        })

    @property
    def cycles_per_slice(self):
        return self.params.data_width + 2

    @property
    def out_depth(self):
        """Output FIFO depth in slices (3: SyncFIFOBuffered's inner FIFO needs an
        address bit)."""
        return 3

    def elaborate(self, platform):
        m = Module()
        p = self.params
        L = p.lanes
        w = p.data_width
        num_w = p.norm_numerator_width
        den_w = p.sum_width + 1
        rem_w = den_w + 1

        # Results leave through a FIFO; a slice enters the divider only with a place
        # reserved there, so no enable depends on `o.ready` combinationally.
        m.submodules.out = out = SyncFIFOBuffered(width=out_layout(p).size,
                                                  depth=self.out_depth)
        wiring.connect(m, out.r_stream, wiring.flipped(self.o))

        count = Signal(range(w + 1))
        busy = Signal()
        zero_sum = Signal()
        last = Signal()
        lanes = []
        for n in range(L):
            lanes.append(dict(rem=Signal(unsigned(rem_w), name=f"rem{n}"),
                              low=Signal(unsigned(w), name=f"low{n}"),
                              quot=Signal(unsigned(w), name=f"quot{n}"),
                              sat=Signal(2, name=f"sat{n}")))

        r_valid = Signal()
        room = Signal()                      # the output FIFO has a place for one more
        load = Signal()
        en = Signal()
        finish = Signal()
        m.d.comb += [load.eq(r_valid & ~busy & room), en.eq(~r_valid | load),
                     self.i.ready.eq(en)]

        # Control state with a copy per lane: each lane derives its own enables from
        # copies of r_valid, busy and room (registered from the same next values), so
        # no single register drives the ~90 preparation flip-flops of all lanes.
        r_valid_next, busy_next = Signal(), Signal()
        p_valid = Signal()
        out_room, room_next = credit_room(m, self.out_depth, load, out.r_en & out.r_rdy, "out")
        m.d.comb += [room.eq(out_room), r_valid_next.eq(Mux(en, p_valid, r_valid)),
                     busy_next.eq(load | (busy & ~finish))]
        m.d.sync += [r_valid.eq(r_valid_next), busy.eq(busy_next)]
        lane_rv = register_copies(m, r_valid_next, L, "r_valid", reset_less=False)
        lane_busy = register_copies(m, busy_next, L, "busy", reset_less=False)
        lane_room = register_copies(m, room_next, L, "room", reset_less=False, init=1)
        lane_load = [rv & ~b & r for rv, b, r in zip(lane_rv, lane_busy, lane_room)]
        lane_en = [~rv | ld for rv, ld in zip(lane_rv, lane_load)]

        # Preparation, two registered stages, so the divider loads without arithmetic
        # and the next slice is prepared while the current one iterates.
        # Stage 1: 2*acc, and per lane l*(2^w + 1) and the saturation limit l*(2^w - 1).
        p_last = Signal()
        p_sum = Signal(unsigned(p.sum_width))
        l_in = self.i.payload.sum
        p_lw = [Signal(unsigned(p.sum_width + w + 1), name=f"p_lw{n}") for n in range(L)]
        p_lim = [Signal(unsigned(p.sum_width + w), name=f"p_lim{n}") for n in range(L)]
        p_acc = [Signal(signed(p.acc_width + 1), name=f"p_acc{n}") for n in range(L)]
        # Stage 2: N = 2*acc + l*(2^w + 1); N >= 2^w * 2l  <=>  2*acc >= l*(2^w - 1).
        r_last, r_zero = Signal(), Signal()
        r_denom = Signal(unsigned(den_w))
        r_numer = [Signal(signed(num_w), name=f"r_numer{n}") for n in range(L)]
        r_over = [Signal(name=f"r_over{n}") for n in range(L)]

        with m.If(en):
            m.d.sync += [p_valid.eq(self.i.valid), p_last.eq(self.i.payload.last),
                         p_sum.eq(l_in), r_last.eq(p_last), r_zero.eq(p_sum == 0),
                         r_denom.eq(p_sum << 1)]
        for n in range(L):
            with m.If(lane_en[n]):
                m.d.sync += [p_acc[n].eq(self.i.payload.acc[n] << 1),
                             p_lw[n].eq((l_in << w) + l_in), p_lim[n].eq((l_in << w) - l_in),
                             r_numer[n].eq(p_acc[n] + p_lw[n]), r_over[n].eq(p_acc[n] >= p_lim[n])]

        # The divisor, one copy per lane (each feeds that lane's subtractor).
        lane_denom = [Signal(unsigned(den_w), name=f"denom{n}") for n in range(L)]
        with m.If(load):
            m.d.sync += [count.eq(w), zero_sum.eq(r_zero), last.eq(r_last)]
        for n, lane in enumerate(lanes):
            numer = r_numer[n]
            with m.If(lane_load[n]):
                m.d.sync += [
                    lane_denom[n].eq(r_denom),
                    lane["rem"].eq(numer >> w), lane["low"].eq(numer[:w]), lane["quot"].eq(0),
                    # sat: bit 0 below range (N < 0), bit 1 above (N >= 2^w * D).
                    lane["sat"].eq(Mux(numer[-1], 1, Mux(r_over[n], 2, 0))),
                ]

        # `iterating` is a register (not a decode of `count`), with a copy per lane
        # as that lane's enable.
        iterating = Signal()
        next_iterating = Signal()
        m.d.comb += [next_iterating.eq(load | (iterating & (count != 1))),
                     finish.eq(busy & ~iterating)]
        m.d.sync += iterating.eq(next_iterating)
        lane_iterating = register_copies(m, next_iterating, L, "iterating",
                                         reset_less=False)
        with m.If(iterating):
            m.d.sync += count.eq(count - 1)
        for lane, lane_it, denom in zip(lanes, lane_iterating, lane_denom):
            with m.If(lane_it):
                # One subtractor; its sign says whether the divisor fits.
                trial = Cat(lane["low"][w - 1], lane["rem"])
                diff = Signal(signed(rem_w + 2))
                m.d.comb += diff.eq(trial - denom)
                fits = ~diff[-1]
                m.d.sync += [lane["rem"].eq(Mux(fits, diff, trial)),
                             lane["low"].eq(lane["low"] << 1),
                             lane["quot"].eq(Cat(fits, lane["quot"]))]

        result = Signal(out_layout(p))
        m.d.comb += [result.last.eq(last), out.w_data.eq(result), out.w_en.eq(finish)]
        for n, lane in enumerate(lanes):
            q = Mux(lane["sat"][0], 0, Mux(lane["sat"][1], (1 << w) - 1, lane["quot"]))
            m.d.comb += result.o[n].eq(Mux(zero_sum, 0, q - (1 << (w - 1))))
        return m
