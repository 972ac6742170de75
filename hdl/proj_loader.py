"""The output projection's load port: 32-bit words into the weight, bias and
requantisation memories."""

from amaranth.hdl import Cat, Mux, Signal, signed, unsigned
from amaranth.hdl import Module
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from attnhw.golden.out_proj import LOAD_WORD_BITS, SHIFT_LSB

from .replicate import register_copies
from .requantiser import SHIFT_BITS

__all__ = ["ProjLoader", "load_layout"]


def load_layout():
    """Load port beat: a 32-bit word and ``last`` on the final word of the sequence."""
    return data.StructLayout({"data": unsigned(LOAD_WORD_BITS), "last": 1})


def weight_write_layout(op):
    """A weight memory word: ``lanes`` weights, lane ``e`` at ``[e·ww +: ww]``, at
    ``addr = g·K + k``."""
    return data.StructLayout({"en": 1, "addr": range(op.groups * op.k),
                              "data": unsigned(op.lanes * op.weight_width)})


def bias_write_layout(op):
    """One lane's bias of group ``addr``."""
    return data.StructLayout({"en": 1, "addr": unsigned(max(1, (op.groups - 1).bit_length())),
                              "data": signed(op.acc_width)})


def constant_write_layout(op, requantisers):
    """One requantiser's ``(M, sh)`` for its ``i``-th sum of group ``g`` at
    ``addr = g·L + i`` (``L = lanes / requantisers``)."""
    L = op.lanes // requantisers
    return data.StructLayout({"en": 1, "addr": range(op.groups * L),
                              "M": unsigned(op.mult_bits), "sh": unsigned(SHIFT_BITS)})


class ProjLoader(wiring.Component):
    """Takes the words of :func:`attnhw.golden.out_proj.load_words` and writes the
    memories of :class:`~attnhw.hdl.out_proj.OutProjection`: weight words assembled from
    ``words_per_weight_row`` beats, biases from one beat each, requantisation constants
    one per beat into their requantiser's memory.

    Each write leaves the cycle after its last beat, from registers only: no path runs
    from the port or the load's counters through a write decode to the memories'
    enables. A bias's enable and address come as one register copy per lane (each
    selects its lane's partial-sum write port; one register for 16 lanes was 7.88 ns
    of routing, the worst path at one seed).

    Parameters
    ----------
    proj : ProjParams
    requantisers : int
        Requantisers sharing the lanes (a divisor of ``lanes``).

    Members
    -------
    load : ``In(stream.Signature(load_layout()))``
        Always ready; ``last`` on the final word restarts the sequence.
    weights : ``Out(weight_write_layout(proj))``
    biases : ``Out(ArrayLayout(bias_write_layout(proj), lanes))``
    constants : ``Out(ArrayLayout(constant_write_layout(proj, requantisers), requantisers))``
        Constant ``g·lanes + r·L + i`` goes to requantiser ``r`` at ``g·L + i``.
    err_load_last : ``Out(1)``
        Sticky: ``last`` was not on the final word, or missing there.
    clear_errors : ``In(1)``
    """

    def __init__(self, proj, requantisers):
        assert proj.lanes % requantisers == 0
        self.proj, self.requantisers = proj, requantisers
        super().__init__({
            "load": In(stream.Signature(load_layout())),
            "weights": Out(weight_write_layout(proj)),
            "biases": Out(data.ArrayLayout(bias_write_layout(proj), proj.lanes)),
            "constants": Out(data.ArrayLayout(constant_write_layout(proj, requantisers),
                                              requantisers)),
            "err_load_last": Out(1), "clear_errors": In(1),
        })

    def elaborate(self, platform):
        m = Module()
        op = self.proj
        P, G, K = op.lanes, op.groups, op.k
        shift = Signal(P * LOAD_WORD_BITS)
        shifted = Cat(shift[LOAD_WORD_BITS:], self.load.payload.data)
        phase = Signal(range(3))                      # weights, biases, requantisation
        beat = Signal(range(max(P, op.words_per_weight_row)))
        addr = Signal(range(G * K))
        word_done = Mux(phase == 0, beat == op.words_per_weight_row - 1, beat == P - 1)
        phase_done = word_done & (addr == Mux(phase == 0, G * K - 1, G - 1))
        final = phase_done & (phase == 2)
        take = self.load.valid & self.load.ready
        m.d.comb += self.load.ready.eq(1)

        # Weights: the assembled word is in `shift` the cycle after its last beat.
        w_en = Signal(name="weight_write")
        w_at = Signal.like(addr, name="weight_write_addr")
        m.d.sync += [w_en.eq(take & (phase == 0) & word_done), w_at.eq(addr)]
        m.d.comb += [self.weights.en.eq(w_en), self.weights.addr.eq(w_at),
                     self.weights.data.eq(shift[-P * op.weight_width:])]

        # Biases: lane e's from the e-th word of the group's P beats.
        bias_en = register_copies(m, take & (phase == 1) & word_done, P,
                                  "bias_write", reset_less=False)
        bias_at = register_copies(m, addr[:len(self.biases[0].addr)], P, "bias_addr")
        for e in range(P):
            m.d.comb += [self.biases[e].en.eq(bias_en[e]), self.biases[e].addr.eq(bias_at[e]),
                         self.biases[e].data.eq(shift[LOAD_WORD_BITS * e:][:op.acc_width])]

        # Constants: counters follow the beats (c_base = g·L). (Counters of at least
        # one bit: a 0-bit signal becomes a [-1:0] vector in Verilog, which Verilator
        # rejects.)
        R = self.requantisers
        L = P // R
        c_base, c_i, c_r = Signal(range(G * L)), Signal(range(max(L, 2))), Signal(range(max(R, 2)))
        c_en = [Signal(name=f"const_write{r}") for r in range(R)]
        c_at = Signal(range(G * L))
        c_M, c_sh = Signal(op.mult_bits), Signal(SHIFT_BITS)
        word = self.load.payload.data
        m.d.sync += [*(c_en[r].eq(take & (phase == 2) & (c_r == r)) for r in range(R)),
                     c_at.eq(c_base + c_i), c_M.eq(word[:op.mult_bits]),
                     c_sh.eq(word[SHIFT_LSB:SHIFT_LSB + SHIFT_BITS])]
        for r in range(R):
            m.d.comb += [self.constants[r].en.eq(c_en[r]), self.constants[r].addr.eq(c_at),
                         self.constants[r].M.eq(c_M), self.constants[r].sh.eq(c_sh)]
        with m.If(take):
            with m.If(self.load.payload.last | phase_done):    # a restart, or a new phase
                m.d.sync += [c_base.eq(0), c_i.eq(0), c_r.eq(0)]
            with m.Elif(phase == 2):
                with m.If(word_done):
                    m.d.sync += [c_base.eq(c_base + L), c_i.eq(0), c_r.eq(0)]
                with m.Elif(c_i == L - 1):
                    m.d.sync += [c_i.eq(0), c_r.eq(c_r + 1)]
                with m.Else():
                    m.d.sync += c_i.eq(c_i + 1)

        with m.If(take):
            m.d.sync += shift.eq(shifted)
            with m.If(self.load.payload.last | final):
                m.d.sync += [phase.eq(0), beat.eq(0), addr.eq(0)]
                with m.If(self.load.payload.last != final):
                    m.d.sync += self.err_load_last.eq(1)
            with m.Elif(phase_done):
                m.d.sync += [phase.eq(phase + 1), beat.eq(0), addr.eq(0)]
            with m.Elif(word_done):
                m.d.sync += [beat.eq(0), addr.eq(addr + 1)]
            with m.Else():
                m.d.sync += beat.eq(beat + 1)
        with m.If(self.clear_errors):
            m.d.sync += self.err_load_last.eq(0)
        return m
