"""Other designs' softmax numerics, modelled for comparison only (no RTL here).

Each takes base-2 scores ``x`` as integers with ``frac_bits`` fraction bits (the
input attnhw's exp unit sees, so every design gets the same input bits), a mask
(True: excluded) and ``out_bits``, and returns softmax probabilities as integers
in ``u0.out_bits`` (``u1.out_bits`` where 1.0 is representable). Masked keys get 0
(I-BERT adds a large negative mask, which underflows to 0 likewise; hls4ml has no
mask); an all-masked row gives zeros. Vectorised over leading dimensions.

Widths not fixed by the sources are chosen "at equal bits" to attnhw's defaults
(16-bit exp values) and listed in :data:`PEERS`.
"""

import math

import numpy as np

from .normalize import leading_one

__all__ = ["PEERS", "hls4ml_softmax_stable", "ibert_int_softmax", "softermax"]

LN2 = math.log(2)


def _round_away(x):
    """SystemVerilog real-to-integer conversion: nearest, ties away from zero
    (IEEE 1800-2017, 6.24.1)."""
    return int(math.copysign(math.floor(abs(x) + 0.5), x))


def _ap_fixed(x, width, int_bits, rnd=True, sat=True):
    """``ap_fixed<width, int_bits>`` quantisation, returned as the raw integer.
    AP_RND rounds half up, AP_TRN floors; AP_SAT clamps."""
    frac = width - int_bits
    raw = np.floor(np.asarray(x, dtype=np.float64) * 2.0 ** frac + (0.5 if rnd else 0.0))
    if sat:
        raw = np.clip(raw, -(2 ** (width - 1)), 2 ** (width - 1) - 1)
    return raw.astype(np.int64)


def hls4ml_softmax_stable(x, masked, frac_bits, out_bits=8):
    """hls4ml ``softmax_stable`` (hls4ml ``nnet_utils/nnet_activation.h``:
    ``softmax_stable``, ``init_exp_table``, ``init_invert_table``,
    ``softmax_idx_from_real_val``; defaults ``table_size = 1024`` and
    ``ap_fixed<18,8>`` for the data, ``exp_table_t`` and ``inv_table_t``).

    - input (natural-log scores) in ``ap_fixed<18,8>``; ``d = x - max`` in
      ``ap_fixed<18,8,AP_RND,AP_SAT>``;
    - ``exp_table[i]`` = exp of the value whose top 10 bits are ``i`` and low 8 bits
      zero (the index is the top 10 bits of ``d``: a step of 1/4 in natural log);
    - ``exp_sum`` in ``exp_table_t``, saturating; ``invert_table`` indexed by the
      top 10 bits of ``exp_sum`` (again a step of 1/4), entries ``1/value``;
    - ``res = exp * inv``, truncated (AP_TRN, the default) to ``out_bits``.
    """
    xe = np.asarray(x, dtype=np.float64) * (LN2 / 2.0 ** frac_bits)
    xr = _ap_fixed(xe, 18, 8, rnd=False)                    # data_T: AP_TRN, raw 10 fraction bits
    xr = np.where(masked, np.iinfo(np.int64).min // 4, xr)
    mx = np.max(xr, axis=-1, keepdims=True)
    d = np.clip(xr - mx, -(1 << 17), (1 << 17) - 1)          # AP_SAT
    idx = d >> 8                                             # top 10 bits, signed
    exp_res = _ap_fixed(np.exp(idx * 2.0 ** -2), 18, 8)      # raw, 10 fraction bits
    exp_res = np.where(masked, 0, exp_res)
    exp_sum = np.minimum(exp_res.sum(axis=-1, keepdims=True), (1 << 17) - 1)
    sidx = exp_sum >> 8
    inv = np.where(sidx == 0, (1 << 17) - 1,
                   _ap_fixed(1.0 / np.maximum(sidx, 1) * 4.0, 18, 8))
    res = (exp_res * inv) >> (20 - out_bits)                  # 20 fraction bits -> out_bits
    return np.where(np.all(masked, axis=-1, keepdims=True), 0, res)


IBERT_X0 = -0.6931                                 # -ln 2 (I-BERT IntSoftmax.x0)
IBERT_N = 30                                       # IntSoftmax.n / .const
IBERT_COEF = (0.35815147, 0.96963238, 1.0)         # a x^2 + b x + c on [-ln2, 0]


def ibert_int_softmax(x, masked, frac_bits, out_bits=8):
    """I-BERT ``IntSoftmax`` (HuggingFace transformers
    ``models/ibert/quant_modules.py``, ``IntSoftmax.int_polynomial``, ``int_exp``,
    ``forward``; constants x0 = -0.6931, n = 30, coef = [0.35815147, 0.96963238, 1.0],
    b and c divided by a; the sum's reciprocal ``floor(2^32 / sum)``; ``output_bit``).
    The input scaling factor is ``ln2 / 2^frac_bits`` (the same integers as attnhw's),
    and the 16-bit ``QuantAct`` after the exponential rescales its maximum (``exp(0)``)
    to ``2^15 - 1``, rounding half away from zero (symmetric quantisation).
    """
    sf = LN2 / 2.0 ** frac_bits
    a, b, c = IBERT_COEF[0], IBERT_COEF[1] / IBERT_COEF[0], IBERT_COEF[2] / IBERT_COEF[0]
    xi = np.asarray(x, dtype=np.int64)
    xi = np.where(masked, np.iinfo(np.int64).min // 4, xi)
    xi = xi - np.max(xi, axis=-1, keepdims=True)
    x0 = math.floor(IBERT_X0 / sf)
    xi = np.maximum(xi, IBERT_N * x0)
    q = np.floor_divide(xi, x0)
    r = xi - x0 * q
    b_int, c_int = math.floor(b / sf), math.floor(c / sf ** 2)
    z = (r + b_int) * r + c_int
    exp_int = np.maximum(np.floor(z.astype(np.float64) * 2.0 ** (IBERT_N - q)), 0)
    exp_sf = a * sf ** 2 / 2.0 ** IBERT_N
    exp_max = c_int * 2.0 ** IBERT_N                 # exp_int at x = max (q = r = 0)
    act_sf = exp_max * exp_sf / (2 ** 15 - 1)
    e16 = np.floor(exp_int * exp_sf / act_sf + 0.5).astype(np.int64)
    e16 = np.where(masked, 0, e16)
    total = e16.sum(axis=-1, keepdims=True)
    factor = (np.int64(1) << 32) // np.maximum(total, 1)
    out = (e16 * factor) >> (32 - out_bits)
    return np.where(total == 0, 0, out)


def softermax(x, masked, frac_bits, out_bits=8, *, pow2_width=16, recip_width=16,
              recip_frac=14, entries=8):
    """Softermax (Stevens et al., DAC 2021) as in MASE's RTL
    (DeepWok/mase ``src/mase_components/activations/rtl/softermax_lpw_pow2.sv`` and
    ``softermax_lpw_reciprocal.sv``):

    - ``2^frac`` by 4 chords on [0, 1): slope rounded to ``OUT_WIDTH`` fraction bits,
      intercept to ``IN_FRAC + OUT_WIDTH`` (SystemVerilog rounds real-to-integer), then
      ``>> -int``, and a floor cast to ``u1.(OUT_WIDTH-1)``;
    - the max is an integer (``ceil(max x)``), so the shift is exact;
    - ``1/sum`` by ``entries`` chords of ``1/x`` on [1, 2) after shifting the sum's
      leading one to bit ``IN_WIDTH-1``; slope rounded to ``OUT_WIDTH`` fraction bits,
      intercept to ``IN_WIDTH - 1 + OUT_WIDTH``; shifted back, floor cast to
      ``recip_frac`` fraction bits;
    - the probability ``floor(pow2 * recip)`` to ``out_bits``.
    Widths: ``IN_FRAC = frac_bits``, ``OUT_WIDTH = pow2_width`` (u1.15),
    ``recip_width`` (u2.14); the sum is wide enough not to overflow.
    """
    fb, ow = frac_bits, pow2_width
    of = ow - 1
    xi = np.asarray(x, dtype=np.int64)
    big = np.iinfo(np.int64).min // 4
    xi = np.where(masked, big, xi)
    mx = np.max(xi, axis=-1, keepdims=True)
    m_int = -((-mx) >> fb)                                   # ceil(max), integer
    y = xi - (m_int << fb)                                   # <= 0
    yi, yf = y >> fb, y & ((1 << fb) - 1)
    seg = yf >> (fb - 2)
    slope = np.array([_round_away((2 ** ((s + 1) / 4) - 2 ** (s / 4)) * 4 * 2 ** ow)
                      for s in range(4)], dtype=np.int64)
    icpt = np.array([_round_away((2 ** (s / 4) - (2 ** ((s + 1) / 4) - 2 ** (s / 4)) * 4 * s / 4)
                                 * 2 ** (fb + ow)) for s in range(4)], dtype=np.int64)
    lpw = yf * slope[seg] + icpt[seg]                         # fb + ow fraction bits
    shift = np.minimum(-yi, 62)
    pow2 = (lpw >> shift) >> (fb + ow - of)                   # floor cast to u1.of
    pow2 = np.where(masked, 0, pow2)
    total = pow2.sum(axis=-1, keepdims=True)                  # u?.of
    in_w = int(total.max()).bit_length() + 1 if total.size else 2
    in_w = max(in_w, of + 2)
    t = np.maximum(total, 1)
    msb = leading_one(t)
    rr = t << (in_w - 1 - msb)                                # u1.(in_w-1)
    eb = int(math.log2(entries))
    top = (rr >> (in_w - 1 - eb)) & (entries - 1)
    r_slope = np.array([_round_away((1 / (1 + (i + 1) / entries) - 1 / (1 + i / entries))
                                    * entries * 2 ** recip_width) for i in range(entries)],
                       dtype=np.int64)
    r_icpt = np.array([_round_away((1 / (1 + i / entries) - (1 / (1 + (i + 1) / entries)
                                    - 1 / (1 + i / entries)) * entries * (1 + i / entries))
                                   * 2 ** (in_w - 1 + recip_width)) for i in range(entries)],
                      dtype=np.int64)
    lpw_r = rr * r_slope[top] + r_icpt[top]                   # (in_w - 1 + rw) fraction bits
    amt = of - msb                                            # IN_FRAC_WIDTH - msb
    recip = np.where(amt >= 0, lpw_r << np.maximum(amt, 0), lpw_r >> np.maximum(-amt, 0))
    recip = recip >> (in_w - 1 + recip_width - recip_frac)    # floor cast
    prob = (pow2 * recip) >> (of + recip_frac - out_bits)
    return np.where(total == 0, 0, prob)


PEERS = {
    "hls4ml softmax_stable": dict(
        fn=hls4ml_softmax_stable,
        bits="ap_fixed<18,8> data, two 1024 x 18-bit tables (exp, 1/sum), output truncated"),
    "I-BERT IntSoftmax": dict(
        fn=ibert_int_softmax,
        bits="2nd-order polynomial in int64, exp requantised to 16 bits, 32-bit reciprocal"),
    "Softermax (MASE)": dict(
        fn=softermax,
        bits="4-chord 2^x to u1.15, 8-chord 1/x to u2.14, output floored"),
}
