"""Property harnesses: each wraps a unit with assumptions about its inputs and
assertions about its outputs, and can be built ``broken`` to show the property fails.

A harness is a function ``(broken: bool) -> (elaboratable, ports)``; :data:`PROPERTIES`
lists them with the proof mode and depth. Every stream port an input is assumed to
follow the valid/ready rule (valid holds with a stable payload until taken); every
output stream is asserted to follow it.
"""

import dataclasses

from amaranth.asserts import AnySeq, Initial  # not yet re-exported by amaranth.hdl (0.5)
from amaranth.hdl import Assert, Assume, Cover
from amaranth.hdl import Array, Const, Elaboratable, Module, Mux, ResetSignal, Signal, Value
from amaranth.lib import wiring

from attnhw.golden.params import AttnParams
from attnhw.hdl.accumulator import Accumulator
from attnhw.hdl.core import AttentionCore
from attnhw.hdl.exp2 import Exp2
from attnhw.golden.exp2 import exp2_table
from attnhw.hdl.online_softmax import OnlineSoftmax
from attnhw.hdl.skid_buffer import SkidBuffer

__all__ = ["Property", "PROPERTIES", "widened"]


@dataclasses.dataclass(frozen=True)
class Property:
    name: str
    build: object          # (broken) -> (elaboratable, ports)
    mode: str              # "prove" (k-induction: unbounded) or "bmc" (bounded)
    depth: int
    claim: str             # what a pass means, for the report
    broken_how: str        # what the broken variant changes


def _after_reset(m):
    """1 from the first cycle after the initial reset (assumed high in cycle 0)."""
    started = Signal()
    m.d.comb += Assume(~Initial() | ResetSignal())   # start from reset
    m.d.sync += started.eq(1)
    return started


def _assume_stream_in(m, port, started):
    """The environment's side of the valid/ready rule on an input stream."""
    prev_valid, prev_ready = Signal(), Signal()
    prev_payload = Signal.like(Value.cast(port.payload))
    m.d.sync += [prev_valid.eq(port.valid), prev_ready.eq(port.ready),
                 prev_payload.eq(port.payload)]
    with m.If(started & prev_valid & ~prev_ready):
        m.d.comb += Assume(port.valid & (Value.cast(port.payload) == prev_payload))


def _assert_stream_out(m, port, started, valid=None):
    """The unit's side: once valid, stays valid with a stable payload until ready."""
    valid = port.valid if valid is None else valid
    prev_valid, prev_ready = Signal(), Signal()
    prev_payload = Signal.like(Value.cast(port.payload))
    m.d.sync += [prev_valid.eq(valid), prev_ready.eq(port.ready),
                 prev_payload.eq(port.payload)]
    with m.If(started & prev_valid & ~prev_ready):
        m.d.comb += Assert(valid & (Value.cast(port.payload) == prev_payload))


def _free_inputs(m, port):
    m.d.comb += [port.valid.eq(AnySeq(1)), port.payload.eq(AnySeq(len(Value.cast(port.payload))))]


class _Harness(Elaboratable):
    def __init__(self, body):
        self.body = body

    def elaborate(self, platform):
        m = Module()
        self.body(m)
        return m


def skid_buffer(broken):
    """Sequence numbers in, the same sequence out: no beat lost, duplicated or
    reordered; at most 2 beats held; valid/ready rule on the output. Unbounded."""
    def body(m):
        m.submodules.dut = dut = SkidBuffer(4)
        started = _after_reset(m)
        n_in, n_out = Signal(4), Signal(4)
        m.d.comb += [dut.i.valid.eq(AnySeq(1)), dut.o.ready.eq(AnySeq(1))]
        m.d.comb += dut.i.payload.eq(n_in)          # beat k carries k (mod 16)
        with m.If(dut.i.valid & dut.i.ready):
            m.d.sync += n_in.eq(n_in + 1)
        with m.If(dut.o.valid & dut.o.ready):
            m.d.sync += n_out.eq(n_out + 1)
        o_valid = dut.o.valid
        if broken:                                   # drop a stalled beat's valid
            glitch = Signal()
            m.d.sync += glitch.eq(AnySeq(1))
            o_valid = dut.o.valid & ~glitch
        _assert_stream_out(m, dut.o, started, o_valid)
        with m.If(started):
            m.d.comb += Assert((n_in - n_out)[:4] <= 2)
            with m.If(o_valid):
                m.d.comb += Assert(dut.o.payload == n_out)
        m.d.comb += Cover(n_out == 5)            # beats do flow
    return _Harness(body), []


def widened(p, extra):
    """``p`` with ``sum_width`` and ``acc_width`` changed by ``extra`` bits."""
    base = type(p)

    class Widened(base):
        @property
        def sum_width(self):
            return base.sum_width.fget(self) + extra

        @property
        def acc_width(self):
            return base.acc_width.fget(self) + extra
    return Widened(**p.as_dict())


# Small enough for the solver, with every width derived as in the product.
def _bound_params(max_seq_len):
    return AttnParams(head_dim=1, lanes=1, data_width=3, max_seq_len=max_seq_len, exp_bits=4,
                      score_frac_bits=3, exp_table_bits=1, guard_bits=1, scale_width=3,
                      scale_frac=2)


def _abstract_exp(e_source):
    """An exp unit whose weight is ``e_source`` (any value in ``[0, 2^E - 1]``, the range of
    the real unit, which ``exp_matches_spec`` and ``exp_range`` cover), so the bound
    proof does not carry the table and interpolation through every step."""
    class AbstractExp2(Exp2):
        latency = 1

        def elaborate(self, platform):
            m = Module()
            en = ~self.o.valid | self.o.ready
            m.d.comb += self.i.ready.eq(en)
            with m.If(en):
                m.d.sync += [self.o.valid.eq(self.i.valid), self.o.payload.e.eq(e_source),
                             self.o.payload.tag.eq(self.i.payload.tag)]
            return m
    return AbstractExp2


def no_overflow(max_seq_len):
    """OnlineSoftmax feeding the Accumulator, built with 2 spare bits in the running sum
    and the accumulator, on any score, exp weight in ``[0, 2^E - 1]``, value and stall, at
    most ``max_seq_len`` keys per query: every running sum and every accumulator
    update fits the widths ``AttnParams`` derives (``sum_width``, ``acc_width``).

    The spare bits make this the no-overflow proof of the real widths: up to the first
    value that would not fit, both computations agree, and that value (at most twice
    the bound) fits the spare bits. The depth covers a query of ``max_seq_len`` keys
    through the pipeline; every query starts from cleared state (``first``).
    ``broken``: the derived widths minus one bit, which must fail (the bound is tight)."""
    def build(broken):
        p = _bound_params(max_seq_len)
        short = 1 if broken else 0
        sum_width, acc_width = p.sum_width - short, p.acc_width - short

        def body(m):
            started = _after_reset(m)
            e_source = Signal(p.exp_weight_width)
            m.d.comb += [e_source.eq(AnySeq(len(e_source))), Assume(e_source <= p.exp_value_max)]
            wide = widened(p, 2)
            sm = type("Softmax", (OnlineSoftmax,), {"exp_unit": _abstract_exp(e_source)})(wide)
            acc = Accumulator(wide)
            m.submodules.softmax, m.submodules.acc = sm, acc
            wiring.connect(m, sm.o, acc.weights)
            _free_inputs(m, sm.i)
            _free_inputs(m, acc.values)
            m.d.comb += acc.o.ready.eq(AnySeq(1))
            _assume_stream_in(m, sm.i, started)
            _assume_stream_in(m, acc.values, started)
            # At most max_seq_len keys per query (the core closes a query there).
            keys = Signal(range(max_seq_len + 1))
            last = sm.i.payload.last
            with m.If(sm.i.valid & sm.i.ready):
                m.d.sync += keys.eq(Mux(last, 0, keys + 1))
            with m.If(sm.i.valid & (keys == max_seq_len - 1)):
                m.d.comb += Assume(last)
            for port in (sm.o, acc.o):
                _assert_stream_out(m, port, started)
            with m.If(started & sm.o.valid):
                m.d.comb += Assert(sm.o.payload.sum < (1 << sum_width))
            with m.If(started & acc.update_valid):
                a = acc.updated[0]
                m.d.comb += Assert((a >= -(1 << (acc_width - 1))) & (a < (1 << (acc_width - 1))))
            # Not vacuous: a full-length query reaches the output.
            full = Signal()
            with m.If(sm.i.valid & sm.i.ready & last & (keys == max_seq_len - 1)):
                m.d.sync += full.eq(1)
            m.d.comb += Cover(full & acc.o.valid)
        return _Harness(body), []
    return build


def _exp_params():
    # 8 fraction bits, a 17-entry table interpolated over 4 bits, u1.8 weights: the
    # structure of the default unit at widths the solver handles in seconds (the
    # default widths are checked exhaustively by simulation: sim/exhaustive_exp.py).
    return AttnParams(score_frac_bits=8, exp_table_bits=4, exp_bits=8)


def exp_monotone(broken):
    """Two exp units on any two inputs ``y1 <= y2`` (``y = f/2^F - n - 1``): the weights
    satisfy ``e1 <= e2``. Every input pair enters in the first cycle, so a depth of
    the latency + 2 covers all of them. ``broken``: one table entry raised above
    the next."""
    p = _exp_params()
    F = p.score_frac_bits

    class BrokenExp2(Exp2):
        def slopes(self, table):
            # Segment 5 climbs past the start of segment 6: non-monotone across the
            # boundary, though every slope is positive.
            s = super().slopes(table)
            s[5] += 40
            return s

    def body(m):
        started = _after_reset(m)
        units = [(BrokenExp2 if broken else Exp2)(p) for _ in range(2)]
        valid = AnySeq(1)
        ys = []
        for k, unit in enumerate(units):
            m.submodules[f"exp{k}"] = unit
            n, f = Signal(unit.i.payload.n.shape()), Signal(F)
            m.d.comb += [n.eq(AnySeq(len(n))), f.eq(AnySeq(F)), unit.i.payload.n.eq(n),
                         unit.i.payload.f.eq(f), unit.i.valid.eq(valid), unit.o.ready.eq(1)]
            m.d.comb += Assume(n <= p.exp_shift_limit)
            y = Signal(range(-(p.exp_shift_limit + 2) << F, 1 << F))
            m.d.comb += y.eq(f - ((n + 1) << F))
            ys.append(y)
        m.d.comb += Assume(ys[0] <= ys[1])
        with m.If(started & units[0].o.valid):
            m.d.comb += Assert(units[1].o.valid & (units[0].o.payload.e <= units[1].o.payload.e))
        m.d.comb += Cover(started & units[0].o.valid
                          & (units[0].o.payload.e < units[1].o.payload.e))
    return _Harness(body), []


def exp_matches_spec(broken):
    """The pipelined exp unit equals the golden formula (``attnhw.golden.exp2.exp2_weight``:
    table base + rounded slope * low bits, then ``((V >> (n+1)) + 1) >> 1`` saturated
    at ``2^E - 1``) written
    out combinationally, and lies in ``[0, 2^E - 1]``, for every input. ``broken``: the rounding constant dropped
    from the formula."""
    p = _exp_params()
    F, T = p.score_frac_bits, p.exp_table_bits
    lo = F - T

    def body(m):
        started = _after_reset(m)
        m.submodules.dut = dut = Exp2(p)
        n, f = Signal(dut.i.payload.n.shape()), Signal(F)
        m.d.comb += [n.eq(AnySeq(len(n))), f.eq(AnySeq(F)), dut.i.payload.n.eq(n),
                     dut.i.payload.f.eq(f), dut.i.valid.eq(1), dut.o.ready.eq(1)]
        m.d.comb += Assume(n <= p.exp_shift_limit)
        for _ in range(Exp2.latency):          # the inputs, delayed to meet the output
            n_d, f_d = Signal.like(n), Signal.like(f)
            m.d.sync += [n_d.eq(n), f_d.eq(f)]
            n, f = n_d, f_d
        table = Array(Const(int(t)) for t in exp2_table(p))
        base = table[f >> lo]
        slope = table[(f >> lo) + 1] - base
        half = 0 if broken else 1 << (lo - 1)
        value = base + ((slope * f[:lo] + half) >> lo)
        rounded = Signal(p.exp_bits + 1)
        m.d.comb += rounded.eq(((value >> (n + 1)) + 1) >> 1)
        spec = Mux(rounded > p.exp_value_max, p.exp_value_max, rounded)
        with m.If(started & dut.o.valid):
            m.d.comb += [Assert(dut.o.payload.e == spec),
                         Assert(dut.o.payload.e <= p.exp_value_max)]
        m.d.comb += Cover(started & dut.o.valid & (dut.o.payload.e > p.exp_value_max // 2))
    return _Harness(body), []


def _core_params():
    return AttnParams(head_dim=2, lanes=1, data_width=2, max_seq_len=3, exp_bits=4,
                      score_frac_bits=3, exp_table_bits=1, guard_bits=1, scale_width=3,
                      scale_frac=2)


def core_protocol(broken):
    """The whole core at the smallest widths, any inputs, any stalls: the output
    follows the valid/ready rule; ``last`` marks exactly each row's final beat; no row
    leaves before its query's keys are closed (``attnhw.golden.framing``) and no key is taken
    without a loaded query; the error flags rise exactly on the framing faults.
    ``broken``: the output's ``last`` inverted."""
    p = _core_params()

    def body(m):
        started = _after_reset(m)
        m.submodules.dut = dut = AttentionCore(p)
        for port in (dut.q, dut.kv):
            _free_inputs(m, port)
            _assume_stream_in(m, port, started)
        m.d.comb += [dut.o.ready.eq(AnySeq(1)), dut.clear_errors.eq(AnySeq(1))]
        _assert_stream_out(m, dut.o, started)
        # The framing, counted independently of the core.
        kv = dut.kv.payload
        kv_take = dut.kv.valid & dut.kv.ready
        slice_idx, key_idx = Signal(range(p.slices)), Signal(range(p.max_seq_len))
        end_of_key = slice_idx == p.slices - 1
        forced = end_of_key & (key_idx == p.max_seq_len - 1) & ~kv.last
        closes = kv_take & end_of_key & (kv.last | forced)
        with m.If(kv_take):
            m.d.sync += slice_idx.eq(Mux(end_of_key, 0, slice_idx + 1))
            with m.If(end_of_key):
                m.d.sync += key_idx.eq(Mux(closes, 0, key_idx + 1))
        q_beats, closed, rows, out_idx = (Signal(8, name=n) for n in
                                          ("q_beats", "closed", "rows", "out_idx"))
        with m.If(dut.q.valid & dut.q.ready):
            m.d.sync += q_beats.eq(q_beats + 1)
        with m.If(closes):
            m.d.sync += closed.eq(closed + 1)
        o_last = ~dut.o.payload.last if broken else dut.o.payload.last
        with m.If(dut.o.valid & dut.o.ready):
            m.d.sync += out_idx.eq(Mux(out_idx == p.slices - 1, 0, out_idx + 1))
            with m.If(o_last):
                m.d.sync += rows.eq(rows + 1)
        misplaced, too_many = Signal(), Signal()
        with m.If(dut.clear_errors):
            m.d.sync += [misplaced.eq(0), too_many.eq(0)]
        with m.If(kv_take & kv.last & ~end_of_key):
            m.d.sync += misplaced.eq(1)
        with m.If(kv_take & forced):
            m.d.sync += too_many.eq(1)
        with m.If(started):
            with m.If(dut.o.valid):
                m.d.comb += Assert(o_last == (out_idx == p.slices - 1))
            m.d.comb += [Assert(rows <= closed),
                         Assert(closed * p.slices <= q_beats),
                         Assert(dut.err_last_misplaced == misplaced),
                         Assert(dut.err_too_many_keys == too_many)]
            m.d.comb += Cover(rows == 1)          # a whole row gets through
    return _Harness(body), []


def _no_overflow_depth(max_seq_len):
    """BMC depth of :func:`no_overflow`: a query of ``max_seq_len`` keys (one per cycle),
    the softmax's and the accumulator's latencies (read from the units as the harness
    builds them) and two cycles more (reset, the row buffer's registered write), so
    the cover's full-length query reaches ``acc.o``: at ``max_seq_len`` 2 that is
    depth 12, one more than the least that reaches the cover (11, measured; a fixed
    ``n + 8``, 10, stopped reaching it when the accumulator's pipeline grew)."""
    p = widened(_bound_params(max_seq_len), 2)
    softmax = type("Softmax", (OnlineSoftmax,), {"exp_unit": _abstract_exp(Signal())})(p)
    acc = Accumulator(p)
    for unit in (softmax, acc):
        unit._MustUse__silence = True       # built only for their latencies
    return max_seq_len + softmax.latency + acc.latency + 2


PROPERTIES = [
    Property("skid_buffer", skid_buffer, "bmc", 24,
             "skid buffer: no beat lost, duplicated or reordered; <= 2 held; valid/ready rule",
             "output valid glitches"),
    *[Property(f"no_overflow_n{n}", no_overflow(n), "bmc", _no_overflow_depth(n),
               f"running sum and accumulator fit their derived widths (max_seq_len {n})",
               "bound asserted one bit short (it must fail: the widths are tight)")
       for n in (2, 8, 32)],
    Property("exp_monotone", exp_monotone, "bmc", Exp2.latency + 2,
             "exp weight monotone in y over all input pairs (F=8, T=4, E=8)",
             "one segment's slope raised past the next entry"),
    Property("exp_matches_spec", exp_matches_spec, "bmc", Exp2.latency + 2,
             "exp unit = golden formula, within [0, 2^E - 1], for every input (F=8, T=4, E=8)",
             "rounding constant dropped"),
    Property("core_protocol", core_protocol, "bmc", 52,
             "core: valid/ready rule, last framing, rows <= closed queries, error flags",
             "output last inverted"),
]
