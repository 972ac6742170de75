"""Credits: places reserved in a FIFO before the beats that will fill them are taken."""

from amaranth.hdl import Signal

__all__ = ["credit_room"]


def credit_room(m, depth, reserve, release, name):
    """Count places of a ``depth``-entry FIFO reserved (``reserve``, a beat that will be
    written later was taken) and not yet freed (``release``, an entry was read).

    Returns ``(room, room_next)``: ``room`` is a register, high while fewer than
    ``depth`` places are reserved; ``room_next`` is its next value (for register
    copies). A pipeline gated by ``room`` never stalls inside and never overflows the
    FIFO. A freed place counts one cycle late (``release`` is registered first), so
    the reader's handshake logic does not reach the counter in the same cycle: size
    ``depth`` with one place of slack for it.
    """
    reserved = Signal(range(depth + 1), name=f"{name}_reserved")
    room = Signal(init=1, name=f"{name}_room")
    room_next = Signal(name=f"{name}_room_next")
    released = Signal(name=f"{name}_released")
    m.d.sync += released.eq(release)
    count_next = reserved + reserve - released
    m.d.comb += room_next.eq(count_next < depth)
    m.d.sync += [reserved.eq(count_next), room.eq(room_next)]
    return room, room_next
