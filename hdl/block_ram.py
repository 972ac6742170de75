"""A wide, deep block RAM whose read path is registered at every step."""

from amaranth.hdl import Cat, ClockSignal, Const, Instance, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .replicate import register_copies

__all__ = ["BlockRAM", "ecp5_tiling"]

# DP16KD words per data width (ECP5, one port): the modes the tiling uses.
_DP16KD_DEPTH = {18: 1024, 9: 2048}
# BRAM columns that share one copy of the address (and one copy of each enable).
_COLUMNS_PER_COPY = 4


def ecp5_tiling(width, depth):
    """``(bram_width, rows, columns)`` of the DP16KD array for a ``width`` x ``depth``
    RAM: 18-bit words when ``depth`` fits 1024, else 9-bit words (2048 deep) in
    ``rows`` banks selected by the address's high bits."""
    bram_width = 18 if depth <= _DP16KD_DEPTH[18] else 9
    rows = -(-depth // _DP16KD_DEPTH[bram_width])
    return bram_width, rows, -(-width // bram_width)


class BlockRAM(wiring.Component):
    """Simple dual-port RAM (one write port, one read port, one clock) that reads every
    cycle, without an enable, through registers only: the read address is registered
    (one copy per group of RAM columns in each row of RAMs), the RAM's output register
    is on, each RAM's word is registered once more in the fabric beside it, and the
    row select is a
    registered mux. No signal reaches more than a group of RAMs, and the RAMs'
    outputs, which the placer spreads over the die when a design uses most of them,
    get a cycle of their own to reach the select (nextpnr measured 6.9 ns of routing
    from a DP16KD to the select on the one-core engine).

    On a platform whose ``family`` is ``"ecp5"`` it is an array of ``DP16KD``
    instances with ``REGMODE_B = "OUTREG"`` (:func:`ecp5_tiling`; Yosys's own BRAM
    mapping never turns that register on, and without it the BRAM's 4.1 ns
    clock-to-data caps the clock near 200 MHz); elsewhere an Amaranth
    :class:`~amaranth.lib.memory.Memory` with the same registers, which other tools
    map onto their block RAMs. Both behave identically, cycle for cycle.

    Parameters
    ----------
    width, depth : int
        Word width in bits and number of words.
    write_tree : bool
        The write reaches the RAMs through two levels of registers instead of one: one
        copy of the address and the enable per row of RAMs, then one per group of
        columns, and the word through one more register before its row's copy. For a
        large array whose writes are not read soon after: no register then drives the
        copies of every row (nextpnr: 8.27 ns of routing from the K/V store's key
        counter to an address copy, the four-core engine's worst path at seed 1 with the
        static placer, 2026-12-04). A write lands a cycle later
        (:attr:`read_after_write`).
    read_tree : bool
        The read address likewise reaches the RAMs through two levels (one copy per row
        of RAMs, then one per group of columns), a cycle more of :attr:`latency`: the
        counter that drives it then drives a few flip-flops instead of every group's
        copy (nextpnr: 8.85 ns of routing from the K/V store's read counter to the
        address copies, the floorplanned four-core engine's worst path at seed 1,
        2026-12-04).

    Members
    -------
    w_addr : ``In(range(depth))``, w_data : ``In(width)``, w_en : ``In(1)``
        A write, registered once (twice with ``write_tree``) before it reaches the
        RAM: the word is stored two (three) clock edges after it is presented.
    r_addr : ``In(range(depth))``
    r_data : ``Out(width)``
        The word at the address presented :attr:`latency` cycles earlier (read every
        cycle). A read presented :attr:`read_after_write` or more cycles after a write
        was presented returns the written word (tests/test_block_ram.py reads at
        exactly that distance; one cycle earlier fails with ``write_tree``).

    Latency: :attr:`LATENCY` = 5 cycles (address copy, RAM address register, RAM output
    register, the register beside the RAM, row select), one more with ``read_tree``.
    """

    #: Cycles from a read address to its word, without ``read_tree``.
    LATENCY = 5
    #: Cycles after a write is presented from which a read of its word returns it
    #: (without either tree).
    READ_AFTER_WRITE = 1

    def __init__(self, width, depth, *, write_tree=False, read_tree=False):
        self.width, self.depth = width, depth
        self.write_tree, self.read_tree = write_tree, read_tree
        super().__init__({
            "w_addr": In(range(depth)), "w_data": In(width), "w_en": In(1),
            "r_addr": In(range(depth)), "r_data": Out(width),
        })

    @property
    def latency(self):
        """Cycles from a read address presented to its word on ``r_data``."""
        return self.LATENCY + self.read_tree

    @property
    def read_after_write(self):
        """Cycles after a write is presented from which a read of its word returns it:
        each tree delays its side by a cycle (0: a read presented with the write)."""
        return self.READ_AFTER_WRITE + self.write_tree - self.read_tree

    def _read_addr(self, m):
        """The read address as the first level of copies takes it: itself, or
        registered once more (``read_tree``, the generic version's twin of the ECP5
        array's per-row copies)."""
        if not self.read_tree:
            return self.r_addr
        addr = Signal.like(self.r_addr, name="r_addr_tree")
        m.d.sync += addr.eq(self.r_addr)
        return addr

    def _write(self, m):
        """The write as the RAMs' first register level takes it: itself, or registered
        once more (``write_tree``)."""
        if not self.write_tree:
            return self.w_addr, self.w_data, self.w_en
        addr, word, en = (Signal.like(s, name=f"{s.name}_tree") for s in
                          (self.w_addr, self.w_data, self.w_en))
        m.d.sync += [addr.eq(self.w_addr), word.eq(self.w_data), en.eq(self.w_en)]
        return addr, word, en

    def elaborate(self, platform):
        if getattr(platform, "family", None) == "ecp5":
            return self._ecp5()
        return self._generic()

    def _generic(self):
        m = Module()
        m.submodules.mem = mem = Memory(shape=self.width, depth=self.depth, init=[])
        wr = mem.write_port()
        rd = mem.read_port(transparent_for=())
        out_reg, near_reg = Signal(self.width), Signal(self.width)
        w_addr, w_data, w_en = self._write(m)
        m.d.sync += [wr.addr.eq(w_addr), wr.data.eq(w_data), wr.en.eq(w_en),
                     rd.addr.eq(self._read_addr(m)), out_reg.eq(rd.data), near_reg.eq(out_reg),
                     self.r_data.eq(near_reg)]
        return m

    def _ecp5(self):
        m = Module()
        bram_width, rows, columns = ecp5_tiling(self.width, self.depth)
        row_bits = (rows - 1).bit_length()
        word_bits = (_DP16KD_DEPTH[bram_width] - 1).bit_length()
        low_bits = 14 - word_bits          # address bits below the word address
        groups = -(-columns // _COLUMNS_PER_COPY)

        # Each row of RAMs (rows are 2048 words apart, and the placer may put them in
        # different DP16KD rows of the die) has its own copies of the write data, of
        # both addresses and of the enable, per group of columns: no register drives
        # RAMs of two rows (nextpnr: 7.6 ns of routing from one address copy to a RAM
        # of another row, the two-core engine's worst path at seed 2).
        if self.write_tree:          # a first level: the word once, address and enable per row
            data_in = Signal.like(self.w_data, name="w_data_tree")
            m.d.sync += data_in.eq(self.w_data)
            addr_in = [register_copies(m, self.w_addr, 1, f"bram_w_addr_row{r}")[0]
                       for r in range(rows)]
            en_in = [register_copies(m, self.w_en, 1, f"bram_w_en_row{r}")[0]
                     for r in range(rows)]
        else:
            data_in, addr_in, en_in = self.w_data, [self.w_addr] * rows, [self.w_en] * rows
        w_data = [Signal(columns * bram_width, name=f"bram_w_data_r{r}") for r in range(rows)]
        m.d.sync += [w.eq(data_in) for w in w_data]
        w_addr = [register_copies(m, addr_in[r], groups, f"bram_w_addr_r{r}")
                  for r in range(rows)]
        if self.read_tree:           # a first level: one copy of the read address per row
            r_in = [register_copies(m, self.r_addr, 1, f"bram_r_addr_row{r}")[0]
                    for r in range(rows)]
        else:
            r_in = [self.r_addr] * rows
        r_addr = [register_copies(m, r_in[r], groups, f"bram_r_addr_r{r}")
                  for r in range(rows)]
        # The row's write enable is decoded beside each group, from its own copies of
        # the enable and the address: a decode before the copies is one LUT that Yosys
        # shares among every BlockRAM written from the same port, driving them all
        # (nextpnr: 6.1 ns from it to a copy across the die, the projection's worst path).
        w_en = [[Signal(name=f"bram_we_r{row}_g{g}") for g in range(groups)]
                for row in range(rows)]
        for row in range(rows):
            w_en_copy = register_copies(m, en_in[row], groups, f"bram_w_en_r{row}")
            for g in range(groups):
                m.d.comb += w_en[row][g].eq(w_en_copy[g] & (w_addr[row][g][word_bits:] == row))
        # The row select follows its read through the RAM's two registers and the one
        # beside it, then picks the row in the fifth stage; one copy per group (from
        # row 0's address copies).
        row_sel = []
        for g in range(groups):
            delayed = r_addr[0][g][word_bits:] if rows > 1 else Const(0, 1)
            for stage in range(3):
                delayed = register_copies(m, delayed, 1, f"bram_row_g{g}_s{stage}")[0]
            row_sel.append(delayed)

        # Write low bits: byte enables (both on) in 18-bit mode, zero in 9-bit mode.
        low = Const(0b11 if bram_width == 18 else 0, low_bits)
        outs = [[Signal(bram_width, name=f"bram_do_r{r}_c{c}") for c in range(columns)]
                for r in range(rows)]
        for r in range(rows):
            for c in range(columns):
                g = c // _COLUMNS_PER_COPY
                wa = Cat(low, w_addr[r][g][:word_bits])
                ra = Cat(Const(0, low_bits), r_addr[r][g][:word_bits])
                di = w_data[r][c * bram_width:(c + 1) * bram_width]
                # A RAM shallower than the BRAM leaves its high address bits at 0.
                ports = {f"i_ADA{n}": wa[n] if n < len(wa) else Const(0) for n in range(14)}
                ports |= {f"i_ADB{n}": ra[n] if n < len(ra) else Const(0) for n in range(14)}
                ports |= {f"i_DIA{n}": di[n] if n < bram_width else Const(0) for n in range(18)}
                ports |= {f"i_DIB{n}": Const(0) for n in range(18)}
                ports |= {f"o_DOB{n}": outs[r][c][n] for n in range(bram_width)}
                for port in "AB":
                    ports |= {f"i_CS{port}{n}": Const(0) for n in range(3)}
                m.submodules[f"bram_r{r}_c{c}"] = Instance(
                    "DP16KD",
                    p_DATA_WIDTH_A=bram_width, p_DATA_WIDTH_B=bram_width,
                    p_REGMODE_A="NOREG", p_REGMODE_B="OUTREG",
                    p_RESETMODE="SYNC", p_ASYNC_RESET_RELEASE="SYNC",
                    p_CSDECODE_A="0b000", p_CSDECODE_B="0b000",
                    p_WRITEMODE_A="NORMAL", p_WRITEMODE_B="NORMAL", p_GSR="DISABLED",
                    i_CLKA=ClockSignal(), i_CLKB=ClockSignal(),
                    i_CEA=Const(1), i_CEB=Const(1), i_OCEA=Const(1), i_OCEB=Const(1),
                    i_RSTA=Const(0), i_RSTB=Const(0),
                    i_WEA=w_en[r][g], i_WEB=Const(0),
                    **ports)

        near = [[Signal(bram_width, name=f"bram_q_r{r}_c{c}") for c in range(columns)]
                for r in range(rows)]
        for r in range(rows):
            m.d.sync += [near[r][c].eq(outs[r][c]) for c in range(columns)]
        picked = Cat(near[0][c] if rows == 1 else
                     Cat(*(near[r][c] for r in range(rows)), Const(0, bram_width *
                         ((1 << row_bits) - rows))).word_select(
                             row_sel[c // _COLUMNS_PER_COPY], bram_width)
                     for c in range(columns))
        m.d.sync += self.r_data.eq(picked[:self.width])
        return m
