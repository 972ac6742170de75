"""The parameters of one attnhw configuration, defined once.

Every width in the datapath is derived here from the user-facing parameters, so
the golden model, the gateware, the testbenches and the CLI agree by construction.
Bit formats use ``sI.F`` (signed, I integer bits including the sign, F fraction
bits) and ``uI.F`` (unsigned).
"""

import dataclasses
import math

from .errors import InputError

__all__ = ["CoreParams", "EngineParams", "AttnParams", "ParamError", "check_range",
           "check_int64"]


class ParamError(InputError):
    """An invalid parameter or parameter combination; the message names it."""


def check_range(name, value, lo, hi):
    """The one validator of every parameter class: ``value`` is an integer (not a bool)
    in ``[lo, hi]``, or :class:`ParamError` names ``name``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ParamError(f"{name} must be an integer, not {value!r}")
    if not lo <= value <= hi:
        raise ParamError(f"{name}={value} is out of range [{lo}, {hi}]")


def check_int64(name, width, advice):
    """The golden model computes in int64: a signed intermediate of ``width`` bits must
    fit 63 (one bit spare for the sign of a difference), or :class:`ParamError`."""
    if width > 63:
        raise ParamError(f"{name}={width} exceeds 63 bits; {advice}")


def _bits(value):
    """Number of bits of the unsigned integer ``value`` (0 needs 0 bits)."""
    return int(value).bit_length()


@dataclasses.dataclass(frozen=True)
class CoreParams:
    """Configuration of one attention head's streaming core (:mod:`attnhw.hdl.core`).

    Parameters
    ----------
    head_dim : int
        Elements per query/key/value vector (``d``).
    data_width : int
        Width ``w`` of Q, K, V and the output, signed two's complement integers.
    lanes : int
        Multipliers per dot product; a key slice of ``lanes`` elements is one beat,
        a ``head_dim``-wide dot product takes ``head_dim // lanes`` beats.
    max_seq_len : int
        Largest number of keys per query; sizes the accumulators (no buffer of scores).
    exp_bits : int
        ``E``: exp weights ``e = 2^y`` (``y < 0``) are ``u0.E`` (saturated at
        ``1 - 2^-E``), i.e. their resolution is ``2^-E`` relative to the row maximum.
        The default 17 keeps ``e`` at 17 bits, one signed 18x18 DSP operand.
    score_frac_bits : int
        ``F``: fraction bits of the base-2 score ``x = scale * (q . k)``.
    exp_table_bits : int
        ``T``: the ``2^frac`` table has ``2^T + 1`` entries, linearly interpolated
        with the low ``F - T`` fraction bits.
    guard_bits : int
        ``G``: extra fraction bits of the running sum and accumulator below the exp
        LSB, absorbing the truncation of the rescale shifts.
    scale_width, scale_frac : int
        The runtime ``scale`` port is ``u(scale_width - scale_frac).scale_frac``.
        ``scale_frac=None`` derives it: ``2*w + ceil(log2 d)//2 + 12``, which gives a
        typical scale (softmax inputs of a few octaves) ~18 significant bits.
    exp_method : str
        How ``2^frac`` is computed (``attnhw.golden.exp2``): ``"interp"`` (table of ``2^T + 1``
        entries, linearly interpolated; the default), ``"lut"`` (the same table, index
        rounded, no interpolation), ``"poly"`` (second-order polynomial, Horner, no
        table; I-BERT style), ``"shift"`` (``2^round(frac)``: a pure shift; ITA style).
    norm_method : str
        How ``acc / l`` is computed (``attnhw.golden.normalize``): ``"divide"`` (exact,
        round half up; the default), ``"recip_nr"`` (reciprocal table + one
        Newton-Raphson step, then a multiply per lane), ``"recip_lut"`` (table only).
    recip_table_bits : int
        ``R``: the reciprocal table has ``2^R`` entries indexed by the ``R`` bits below
        the leading one of ``l``.
    recip_frac_bits : int
        ``P``: the reciprocal ``1/m`` (``m`` in [1, 2)) is ``u1.P``; ``None`` derives
        ``w + 12``, so its error (``2^-P`` relative) is ``2^-13`` of an output LSB.
    out_frac_bits : int
        ``f``: fraction bits the normaliser's output carries below V's step: the
        output is ``s(w+f).f`` (:attr:`out_width` bits), ``round(acc·2^f / l)``.
        0 (the default) gives outputs in V's format; the output projection takes
        the finer rows (its accuracy, docs/numerics.md). ``norm_method`` divide only.
    """

    head_dim: int = 64
    data_width: int = 8
    lanes: int = 16
    max_seq_len: int = 4096
    exp_bits: int = 17
    score_frac_bits: int = 16
    exp_table_bits: int = 7
    guard_bits: int = 3
    scale_width: int = 24
    scale_frac: int | None = None
    exp_method: str = "interp"
    norm_method: str = "divide"
    recip_table_bits: int = 8
    recip_frac_bits: int | None = None
    out_frac_bits: int = 0

    EXP_METHODS = ("interp", "lut", "poly", "shift")
    NORM_METHODS = ("divide", "recip_nr", "recip_lut")

    def __post_init__(self):
        for name, choices in (("exp_method", self.EXP_METHODS),
                              ("norm_method", self.NORM_METHODS)):
            if getattr(self, name) not in choices:
                raise ParamError(f"{name}={getattr(self, name)!r} is not one of "
                                 f"{', '.join(choices)}")
        for f in dataclasses.fields(self):                # every class's: integers first
            v = getattr(self, f.name)
            if f.name in ("exp_method", "norm_method") or (v is None and f.default is None):
                continue
            if isinstance(v, bool) or not isinstance(v, int):
                raise ParamError(f"{f.name} must be an integer, not {v!r}")
        if self.recip_frac_bits is None:
            object.__setattr__(self, "recip_frac_bits", self.data_width + 12)
        if self.scale_frac is None:
            object.__setattr__(self, "scale_frac",
                               2 * self.data_width + math.ceil(math.log2(self.head_dim)) // 2 + 12
                               if self.head_dim >= 1 else 0)
        self._validate()

    def _validate(self):
        """Range and combination checks; each subclass adds its own after these."""
        self._check_range("head_dim", 1, 1024)
        self._check_range("data_width", 2, 16)
        self._check_range("lanes", 1, self.head_dim)
        if self.head_dim % self.lanes:
            raise ParamError(f"lanes={self.lanes} must divide head_dim={self.head_dim}")
        self._check_range("max_seq_len", 1, 1 << 20)
        self._check_range("exp_bits", 4, 24)
        self._check_range("score_frac_bits", 1, 24)
        self._check_range("exp_table_bits", 0, min(self.score_frac_bits, 12))
        self._check_range("guard_bits", 0, 8)
        self._check_range("scale_width", 2, 32)
        self._check_range("scale_frac", 0, 64)
        self._check_range("recip_table_bits", 1, 12)
        self._check_range("recip_frac_bits", self.recip_table_bits + 1, 30)
        self._check_range("out_frac_bits", 0, 8)
        if self.out_frac_bits and self.norm_method != "divide":
            raise ParamError(f"out_frac_bits={self.out_frac_bits} needs norm_method divide "
                             f"(not {self.norm_method})")
        wide = ["score_x_product_width", "norm_numerator_width"]
        if self.norm_method != "divide":
            wide.append("recip_product_width")
        for name in wide:
            check_int64(name, getattr(self, name),
                        "reduce head_dim, data_width, scale_width, max_seq_len"
                        + (" or recip_frac_bits" if name == "recip_product_width" else ""))

    def _check_range(self, name, lo, hi):
        check_range(name, getattr(self, name), lo, hi)

    def check_seq_len(self, n, what="keys"):
        """Raise :class:`ParamError` unless ``1 <= n <= max_seq_len`` (``what`` names
        the input in the message)."""
        if n < 1:
            raise ParamError(f"{what}: {n} keys, at least 1 is needed")
        if n > self.max_seq_len:
            raise ParamError(f"{what}: {n} keys exceed max_seq_len={self.max_seq_len} "
                             "(--max-seq-len)")

    @classmethod
    def field_names(cls):
        return [f.name for f in dataclasses.fields(cls)]

    def as_dict(self):
        return dataclasses.asdict(self)

    # ---- derived widths (bounds in the comments make overflow impossible) ----

    @property
    def slices(self):
        """Beats per vector: ``head_dim // lanes``."""
        return self.head_dim // self.lanes

    @property
    def score_width(self):
        """Signed width of ``s = q . k``: |s| <= d * 2^(2w-2) (both operands -2^(w-1))."""
        return _bits(self.head_dim << (2 * self.data_width - 2)) + 1

    @property
    def score_x_product_width(self):
        """Signed width of ``s * scale``: |s| * (2^scale_width - 1)."""
        return _bits((self.head_dim << (2 * self.data_width - 2)) * ((1 << self.scale_width) - 1)) + 1

    @property
    def x_shift(self):
        """Right shift (floor) from ``s*scale`` (scale_frac fraction bits) to ``x`` (F bits).
        Negative means a left shift (scale coarser than the score format)."""
        return self.scale_frac - self.score_frac_bits

    @property
    def x_width(self):
        """Signed width of the base-2 score ``x``, format ``s?.F``."""
        if self.x_shift >= 0:
            return max(self.score_x_product_width - self.x_shift, self.score_frac_bits + 2)
        return self.score_x_product_width - self.x_shift

    @property
    def max_width(self):
        """Signed width of the integer running max ``M = max floor(x) + 1``."""
        return self.x_width - self.score_frac_bits + 1

    @property
    def exp_value_max(self):
        """Largest exp weight: 2^y * 2^E rounded, y < 0, saturated to 2^E - 1 (u0.E)."""
        return (1 << self.exp_bits) - 1

    @property
    def exp_weight_width(self):
        """Unsigned width of an exp weight ``e`` (``u0.E``, value < 1.0): ``E``."""
        return _bits(self.exp_value_max)

    @property
    def sum_width(self):
        """Unsigned width of the running sum ``l`` (``E + G`` fraction bits).
        Bound: l <= max_seq_len * 2^E * 2^G (rescales only shrink it)."""
        return _bits(self.max_seq_len * self.exp_value_max << self.guard_bits)

    @property
    def acc_width(self):
        """Signed width of the output accumulator (``E + G`` fraction bits, V's scale).
        Bound: |acc| <= max_seq_len * 2^E * 2^(w-1) * 2^G."""
        return _bits(self.max_seq_len * self.exp_value_max
                     << (self.data_width - 1 + self.guard_bits)) + 1

    @property
    def shift_limit(self):
        """Rescale shifts are clamped to this; shifting ``acc`` by it leaves 0 or -1."""
        return self.acc_width

    @property
    def exp_shift_limit(self):
        """The exp unit's integer shift ``n`` is clamped to this: the interpolated
        ``u1.(E+1)`` value (< 2^(E+2)) shifted right by ``n + 1 >= E + 2`` is 0."""
        return self.exp_bits + 1

    @property
    def norm_numerator_width(self):
        """Signed width of ``2*acc*2^f + (2^w' + 1) * l`` (``w'`` = :attr:`out_width`),
        the normaliser's numerator."""
        return max(self.acc_width + self.out_frac_bits + 1,
                   _bits(((1 << self.out_width) + 1) * ((1 << self.sum_width) - 1))) + 2

    @property
    def out_width(self):
        """Bits of an output element, ``s(w+f).f``: ``data_width + out_frac_bits``."""
        return self.data_width + self.out_frac_bits

    @property
    def recip_product_width(self):
        """Signed width of ``acc * r`` in the reciprocal normalisers (``r`` is
        ``u1.P``, below 2^(P+1))."""
        return self.acc_width + self.recip_frac_bits + 1

    @property
    def scale_max(self):
        """Largest float scale the port holds (base-2 domain)."""
        return ((1 << self.scale_width) - 1) / (1 << self.scale_frac)


@dataclasses.dataclass(frozen=True)
class EngineParams(CoreParams):
    """A core's parameters plus the engine's (:mod:`attnhw.hdl.engine`): its K/V store
    holds ``max_seq_len`` keys of a head.

    Parameters
    ----------
    block : int
        Queries the engine (:mod:`attnhw.hdl.engine`) computes at once: each key/value slice
        read from its memory feeds ``block`` query pipelines, so the engine has
        ``2 * lanes * block`` multipliers. The core alone ignores it.
    norm_lanes : int
        Elements the engine's normaliser divides at once (:mod:`attnhw.hdl.normalize_narrow`):
        0 (the default) for all ``lanes``, or a divisor of ``lanes``; each slice then
        passes through it in ``lanes // norm_lanes`` parts, so it keeps pace with
        heads of ``N >= block · (w + 2) · lanes / norm_lanes`` keys (``divide``) with
        ``norm_lanes / lanes`` of its dividers. The arithmetic does not change.
    """

    block: int = 1
    norm_lanes: int = 0

    def _validate(self):
        super()._validate()
        self._check_range("block", 1, 64)
        self._check_range("norm_lanes", 0, self.lanes)
        if self.norm_lanes and self.lanes % self.norm_lanes:
            raise ParamError(f"norm_lanes={self.norm_lanes} must divide lanes={self.lanes}")

    @property
    def normaliser_lanes(self):
        """Elements the normaliser divides at once: :attr:`norm_lanes`, or ``lanes``."""
        return self.norm_lanes or self.lanes


@dataclasses.dataclass(frozen=True)
class AttnParams(EngineParams):
    """Every parameter of one attnhw configuration: an engine's
    (:class:`EngineParams`, which holds a :class:`CoreParams`) and its output
    projection's, by the flat names the CLI's flags and ``params=`` dicts use. Units
    that need only a core's or an engine's parameters take this object as one.

    Parameters
    ----------
    out_features : int
        The engine's output projection (:mod:`attnhw.golden.out_proj`, issue 14):
        ``d_out``, or 0 for none (the engine outputs the attention rows). With it:
        ``proj_heads`` (heads per query, concatenated), ``proj_lanes`` (outputs
        computed at once), ``tile_rows`` (queries per tile), ``weight_width`` and
        ``proj_mult_bits`` (the requantisation multiplier); see :attr:`out_proj`.
    """

    out_features: int = 0
    proj_heads: int = 1
    proj_lanes: int = 16
    tile_rows: int = 64
    weight_width: int = 8
    proj_mult_bits: int = 16

    def _validate(self):
        super()._validate()
        self._check_range("out_features", 0, 65535)
        self.out_proj                        # the projection's own checks (ParamError)

    @property
    def out_proj(self):
        """The output projection's :class:`attnhw.golden.out_proj.ProjParams` (rows
        of :attr:`out_width` bits in, outputs of ``data_width`` bits), or None without
        ``out_features``. The gateware's own limits are checked where it is built
        (:func:`attnhw.hdl.out_proj.check_projection`)."""
        if not self.out_features:
            return None
        from .out_proj import ProjParams
        return ProjParams(heads=self.proj_heads, head_dim=self.head_dim,
                          d_out=self.out_features, data_width=self.out_width,
                          weight_width=self.weight_width, out_width=self.data_width,
                          mult_bits=self.proj_mult_bits, lanes=self.proj_lanes,
                          tile_rows=self.tile_rows)
