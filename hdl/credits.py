"""Credits: places reserved in a FIFO before the beats that will fill them are taken."""

from amaranth.hdl import C, Mux, Signal

__all__ = ["credit_room"]


def credit_room(m, depth, reserve, release, name):
    """Count places of a ``depth``-entry FIFO reserved (``reserve``, a beat that will be
    written later was taken) and not yet freed (``release``, an entry was read).

    Returns ``(room, room_next)``: ``room`` is a register, high when one more place may
    be reserved; ``room_next`` is its next value (for register copies). A pipeline
    gated by ``room`` never stalls inside and never overflows the FIFO.

    Both ``reserve`` and ``release`` are registered before they reach the count, so
    the handshakes that make them (``reserve`` usually depends on ``room`` itself)
    share no logic path with the counter: a reservation may be pending in that
    register, so ``room`` keeps one place in hand, and a freed place counts one cycle
    late. Size ``depth`` with one place of slack for each.
    """
    assert depth >= 2, "a credit count needs a FIFO of 2 places at least"
    reserved = Signal(range(depth + 1), name=f"{name}_reserved")
    room = Signal(init=1, name=f"{name}_room")
    room_next = Signal(name=f"{name}_room_next")
    reserving = Signal(name=f"{name}_reserving")
    released = Signal(name=f"{name}_released")
    m.d.sync += [reserving.eq(reserve), released.eq(release)]
    count_next = reserved + reserving - released
    # Places taken after this cycle <= count_next + 1 (a reservation in `reserving`
    # next cycle): one more fits while count_next + 1 < depth. Written as compares of
    # the count with constants, selected by the two pulses, rather than after the
    # adder: two LUT levels.
    def below(k):
        return reserved < k if k > 0 else C(0)    # (no constant compare in the Verilog)
    up, down = reserving & ~released, released & ~reserving
    m.d.comb += room_next.eq(Mux(up, below(depth - 2),
                                 Mux(down, below(depth), below(depth - 1))))
    m.d.sync += [reserved.eq(count_next), room.eq(room_next)]
    return room, room_next
