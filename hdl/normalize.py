"""Final normalisation: ``o = sat(round(acc·2^f / l))`` by non-restoring division."""

from amaranth.hdl import Cat, Module, Mux, Signal, signed, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.wiring import In, Out

from .credits import credit_room
from .layouts import out_layout, row_layout
from .divider import divider_bank
from .replicate import KEEP, register_copies, register_tree

__all__ = ["Normalize"]


class Normalize(wiring.Component):
    """Divides each accumulator by the row's sum, rounded half up and saturated.

    Golden: ``attnhw.golden.attention.normalize``: ``Q = floor(N / D)`` with
    ``N = 2*acc*2^f + (2^w + 1)*l`` and ``D = 2*l``, saturated to ``[0, 2^w - 1]``,
    and ``o = Q - 2^(w-1)``, which equals ``sat_w(floor(acc*2^f/l + 1/2))``; here
    ``w`` is ``out_width`` (``data_width + f``, ``f = out_frac_bits``, 0 by default).
    A row whose keys were all masked has ``l = 0`` and outputs 0.

    Results leave through a small FIFO (``out_depth``). A slice is taken from ``i`` only with a
    place reserved there (a credit count) and at least ``w + 2`` cycles after the
    previous one, so the divider is free when it arrives: nothing in between has an
    enable, and each lane loads from its own copy of the valid bit.

    Each lane has two iterative non-restoring dividers (:func:`attnhw.hdl.divider.divider_bank`,
    two banks that take the slices in turn): one cycle to load, ``w`` quotient bits
    of two cycles each (a ``sum_width + 4``-bit add or subtract, its carry chain
    split in halves), one cycle to hand over, so a bank takes ``2w + 2`` cycles and
    the two together a slice per ``w + 2``. With ``split=False`` (the default on
    iCE40, whose clock leaves room for the whole chain and whose logic cells are
    few) each lane has one divider of one cycle per bit and the preparation's
    halves are whole additions in one stage: same results, same rate, ``w + 1``
    cycles less latency, about half the divider's area. Four registered stages in front
    prepare ``N`` and detect ``N < 0`` and ``N >= 2^w * D`` (saturation) while the
    divider works on the previous slice (five with the register tree that copies
    the sum per lane); the wide additions and the compare are split
    into halves with a registered carry.

    Parameters
    ----------
    params : AttnParams
    split : bool or None
        Two banks of split-carry dividers, or one of whole-chain steps; ``None``
        chooses at elaboration from the platform (unsplit for ``family == "ice40"``).

    Members
    -------
    i : ``In(stream.Signature(...))``
        ``{acc: lanes x s.(E+G), sum: u.(E+G), last: 1}`` from :class:`Accumulator`.
    o : ``Out(stream.Signature(...))``
        ``{o: lanes x s(w+f).f, last: 1}``.
    """

    def __init__(self, params, *, split=None):
        self.params, self.split = params, split
        super().__init__({
            "i": In(stream.Signature(row_layout(params))),
            "o": Out(stream.Signature(out_layout(params))),
        })

    @property
    def cycles_per_slice(self):
        return self.params.out_width + 2

    @property
    def out_depth(self):
        """Output FIFO depth in slices: the places reserved while a slice goes from
        ``i`` to the FIFO's reader (about ``2w + 9`` cycles split, a slice per
        ``w + 2``), one in hand for the credit count, one of slack. (Unsplit, the
        shorter way needs fewer; the depth is kept so the ports do not depend on
        the platform.)"""
        w = self.params.out_width
        return -(-(2 * w + 9) // (w + 2)) + 2

    def elaborate(self, platform):
        m = Module()
        p = self.params
        L = p.lanes
        w, f = p.out_width, p.out_frac_bits      # w: bits of an output element
        num_w = p.norm_numerator_width
        split = (self.split if self.split is not None
                 else str(getattr(platform, "family", "")).lower() != "ice40")
        banks = 2 if split else 1

        # Results leave through a FIFO; a slice enters the divider only with a place
        # reserved there, so no enable depends on `o.ready` combinationally.
        m.submodules.out = out = SyncFIFOBuffered(width=out_layout(p).size,
                                                  depth=self.out_depth)
        wiring.connect(m, out.r_stream, wiring.flipped(self.o))

        # Issue: a slice is taken from `i` only when the divider will be free when it
        # reaches it (slices enter at least w + 2 cycles apart, the divider's period)
        # and with a place reserved in the output FIFO. So the preparation stages
        # below never stall: they have no enable at all, and the divider loads
        # whatever valid slice comes out of them.
        ready = Signal(init=1)               # register: no issue in the last w+1 cycles
        cooldown = Signal(range(w + 2))
        out_room = Signal()
        issue = Signal()
        m.d.comb += [self.i.ready.eq(ready & out_room), issue.eq(self.i.valid & self.i.ready)]
        with m.If(issue):
            m.d.sync += [cooldown.eq(w + 1), ready.eq(0)]
        with m.Elif(cooldown != 0):
            m.d.sync += [cooldown.eq(cooldown - 1), ready.eq(cooldown == 1)]
        m.d.comb += out_room.eq(credit_room(m, self.out_depth, issue, out.r_en & out.r_rdy,
                                            "out")[0])
        # Preparation, four registered stages, so the divider loads without arithmetic
        # and the next slice is prepared while the current one iterates:
        # 0: the row's accumulators and sum, registered before anything else (the row
        #    FIFO is read asynchronously, so its data arrive late);
        # 1: per lane 2*acc, l*(2^w + 1) and the saturation limit l*(2^w - 1);
        # 2: the low halves of N = 2*acc + l*(2^w + 1) and of 2*acc - l*(2^w - 1);
        # 3: the high halves with the carries: N, and N >= 2^w * 2l <=> 2*acc >= l*(2^w - 1).
        # Unsplit, 2 and 3 are one stage of whole additions.
        lw_w = p.sum_width + w + 1
        cmp_w = max(p.acc_width + f + 1, lw_w) + 1
        half = cmp_w // 2
        s0_last, s1_last, s2_last, r_last = (Signal(name=f"{n}_last") for n in ("s0", "s1", "s2", "r"))
        s0_sum, s1_sum, s2_sum = (Signal(unsigned(p.sum_width), name=f"s{n}_sum")
                                  for n in range(3))
        s0_valid, s1_valid, s2_valid = (Signal(name=f"s{n}_valid") for n in range(3))
        s0_acc = [Signal(signed(p.acc_width), name=f"s0_acc{n}") for n in range(L)]
        s1_acc = [Signal(signed(p.acc_width + f + 1), name=f"s1_acc{n}") for n in range(L)]
        # l, one copy per 4 lanes, then one per lane (a register tree: stage "t"
        # between 0 and 1, the accumulators wait beside it); each lane multiplies its
        # own copy by 2^w +- 1.
        t_l = register_tree(m, self.i.payload.sum, L, "t_l")
        t_acc = [Signal(signed(p.acc_width), name=f"t_acc{n}") for n in range(L)]
        # `keep`: a register per lane, not merged with its equals in the lane's group,
        # so each lane's adders read local flip-flops.
        s1_lw = [Signal(unsigned(p.sum_width + w + 1), name=f"s1_lw{n}", attrs=KEEP)
                 for n in range(L)]
        s1_lim = [Signal(unsigned(p.sum_width + w), name=f"s1_lim{n}", attrs=KEEP)
                  for n in range(L)]
        # Stage 2: low halves with their carry out (bit `half`), high halves as they are.
        s2_numer_lo = [Signal(half + 1, name=f"s2_numer_lo{n}") for n in range(L)]
        s2_over_lo = [Signal(half + 1, name=f"s2_over_lo{n}") for n in range(L)]
        s2_acc_hi = [Signal(signed(cmp_w - half), name=f"s2_acc_hi{n}") for n in range(L)]
        s2_lw_hi = [Signal(signed(cmp_w - half), name=f"s2_lw_hi{n}", attrs=KEEP)
                    for n in range(L)]
        s2_lim_hi = [Signal(signed(cmp_w - half), name=f"s2_lim_hi{n}", attrs=KEEP)
                     for n in range(L)]
        r_zero = Signal()
        r_numer = [Signal(signed(num_w), name=f"r_numer{n}") for n in range(L)]
        r_over = [Signal(name=f"r_over{n}") for n in range(L)]

        r_valid = Signal()
        t_valid, t_last = Signal(), Signal()
        t_sum = Signal(unsigned(p.sum_width))
        m.d.sync += [s0_valid.eq(issue), s0_last.eq(self.i.payload.last),
                     s0_sum.eq(self.i.payload.sum),
                     t_valid.eq(s0_valid), t_last.eq(s0_last), t_sum.eq(s0_sum),
                     s1_valid.eq(t_valid), s1_last.eq(t_last), s1_sum.eq(t_sum)]
        # The stage before the divider's registers: 2 (split) or 1.
        if split:
            m.d.sync += [s2_valid.eq(s1_valid), s2_last.eq(s1_last), s2_sum.eq(s1_sum)]
            pre_valid, pre_last, pre_sum = s2_valid, s2_last, s2_sum
        else:
            pre_valid, pre_last, pre_sum = s1_valid, s1_last, s1_sum
        m.d.sync += [r_valid.eq(pre_valid), r_last.eq(pre_last), r_zero.eq(pre_sum == 0)]
        # The divisor D = 2l and -D, registered once per 4 lanes (each copy loads its
        # lanes' divisors), so the negation is not between the copies and the lanes.
        groups = -(-L // 4)
        r_denom = register_copies(m, pre_sum << 1, groups, "r_denom")      # u(sum_width + 1)
        r_ndenom = register_copies(m, -(pre_sum << 1), groups, "r_ndenom")  # s(sum_width + 2)
        # Two divider banks take the slices in turn: bank k loads every valid slice
        # of its parity out of stage 3 (`load`), each lane from its own copy of the
        # valid bit. A bank needs 2w + 2 cycles per slice, slices come w + 2 apart.
        # (Unsplit: one bank, w + 2 cycles per slice, loading from stage 1's valid
        # bit through the same two-cycle register tree.)
        if split:
            s1_bank, s2_bank, r_bank = Signal(), Signal(), Signal()
            m.d.sync += [s2_bank.eq(s1_bank), r_bank.eq(s2_bank)]
            with m.If(s1_valid):
                m.d.sync += s1_bank.eq(~s1_bank)
            to_bank = [s1_valid & (s1_bank == k) for k in range(banks)]
            load = [r_valid & (r_bank == k) for k in range(banks)]
            ahead = [s2_valid & (s2_bank == k) for k in range(banks)]
        else:
            to_bank, load, ahead = [t_valid], [r_valid], [None]
        lane_load = [register_tree(m, to_bank[k], L, f"load{k}", reset_less=False)
                     for k in range(banks)]
        for n in range(L):
            wide = dict(acc=Signal(signed(cmp_w), name=f"acc_wide{n}"),
                        lw=Signal(signed(cmp_w), name=f"lw_wide{n}"),
                        lim=Signal(signed(cmp_w), name=f"lim_wide{n}"))
            m.d.comb += [wide["acc"].eq(s1_acc[n]), wide["lw"].eq(s1_lw[n]), wide["lim"].eq(s1_lim[n])]
            m.d.sync += [
                s0_acc[n].eq(self.i.payload.acc[n]),
                t_acc[n].eq(s0_acc[n]),
                s1_acc[n].eq(t_acc[n] << (1 + f)),         # 2·acc·2^f
                s1_lw[n].eq((t_l[n] << w) + t_l[n]),
                s1_lim[n].eq((t_l[n] << w) - t_l[n]),
            ]
            if not split:
                m.d.sync += [r_numer[n].eq(wide["acc"] + wide["lw"]),
                             r_over[n].eq(~(wide["acc"] - wide["lim"])[-1])]
                continue
            m.d.sync += [
                s2_numer_lo[n].eq(wide["acc"][:half] + wide["lw"][:half]),
                # Low half of acc - lim, plus 2^half: bit `half` is 1 when no borrow.
                s2_over_lo[n].eq(Cat(wide["acc"][:half], 1) - wide["lim"][:half]),
                s2_acc_hi[n].eq(wide["acc"][half:]), s2_lw_hi[n].eq(wide["lw"][half:]),
                s2_lim_hi[n].eq(wide["lim"][half:]),
                r_numer[n].eq(Cat(s2_numer_lo[n][:half],
                                  s2_acc_hi[n] + s2_lw_hi[n] + s2_numer_lo[n][half]
                                  ).as_signed()),
                # acc - lim >= 0: the high halves' difference minus the low borrow.
                r_over[n].eq(~(s2_acc_hi[n] - s2_lim_hi[n] - ~s2_over_lo[n][half])[-1]),
            ]

        finish, results = [], []
        for k in range(banks):
            f, res = divider_bank(
                m, p, f"bank{k}", load=load[k], ahead=ahead[k], lane_load=lane_load[k],
                numer=r_numer,
                over=r_over, zero=r_zero, last=r_last, denom=r_denom, ndenom=r_ndenom,
                split=split)
            finish.append(f)
            results.append(res)
        m.d.comb += [out.w_data.eq(Mux(finish[-1], results[-1], results[0])),
                     out.w_en.eq(finish[0] | finish[-1])]
        return m
