"""The parameter classes: a core's (CoreParams), an engine's (EngineParams, a core's
plus its own) and the projection's (ProjParams) share one validator, one error type and
one int64 rule; AttnParams carries them all by the CLI's flat names."""
import dataclasses
import warnings

import pytest

from attnhw.golden.out_proj import ProjParams
from attnhw.golden.params import AttnParams, CoreParams, EngineParams, ParamError


def test_each_class_holds_its_own_fields():
    core = {f.name for f in dataclasses.fields(CoreParams)}
    engine = {f.name for f in dataclasses.fields(EngineParams)} - core
    attn = {f.name for f in dataclasses.fields(AttnParams)} - core - engine
    assert engine == {"block", "norm_lanes"}
    assert attn == {"out_features", "proj_heads", "proj_lanes", "tile_rows", "weight_width",
                    "proj_mult_bits"}
    assert "block" not in core and "out_features" not in core
    with pytest.raises(TypeError):
        CoreParams(block=2)                  # an engine's field is not a core's
    # The widths are a core's: the same for the same core fields in every class.
    kw = dict(head_dim=32, lanes=8, max_seq_len=256, data_width=6)
    assert CoreParams(**kw).acc_width == EngineParams(block=4, **kw).acc_width \
        == AttnParams(block=4, out_features=16, **kw).acc_width


@pytest.mark.parametrize("make, message", [
    (lambda: CoreParams(lanes=3, head_dim=8), "lanes=3 must divide head_dim=8"),
    (lambda: CoreParams(head_dim=True), "head_dim must be an integer"),
    (lambda: EngineParams(block=0), r"block=0 is out of range \[1, 64\]"),
    (lambda: EngineParams(lanes=8, head_dim=8, norm_lanes=3), "norm_lanes=3 must divide"),
    (lambda: AttnParams(proj_lanes="4"), "proj_lanes must be an integer"),
    (lambda: AttnParams(out_features=8, proj_heads=0), r"heads=0 is out of range \[1, 256\]"),
    (lambda: ProjParams(heads=1, head_dim=4, d_out=0), r"d_out=0 is out of range"),
    (lambda: ProjParams(heads=256, head_dim=1024, d_out=4, data_width=16, weight_width=16,
                        mult_bits=24), "requant_width=.* exceeds 63 bits"),
    (lambda: CoreParams(head_dim=1024, data_width=16, scale_width=32),
     "score_x_product_width=.* exceeds 63 bits"),
])
def test_one_validator_and_one_error_type(make, message):
    with pytest.raises(ParamError, match=message):
        make()


def test_the_int64_rule_is_one_bound_for_the_projection():
    """``acc · M + 2^(sh-1)`` is a signed intermediate like the core's: 63 bits at most,
    so requant_width 63 builds and 64 does not."""
    base = dict(head_dim=64, d_out=4, data_width=16, weight_width=16)
    fits = [ProjParams(heads=h, mult_bits=m, **base) for h in (1, 8, 64) for m in range(2, 25)
            if _width(h, m, base) <= 63]
    assert fits and max(p.requant_width for p in fits) <= 63
    over = [(h, m) for h in (1, 8, 64) for m in range(2, 25) if _width(h, m, base) > 63]
    assert over and max(p.requant_width for p in fits) == 63     # the bound itself builds
    for h, m in over:
        with pytest.raises(ParamError, match="exceeds 63 bits"):
            ProjParams(heads=h, mult_bits=m, **base)


def _width(heads, mult_bits, base):
    """requant_width from the formats alone: |acc| <= 2·k·2^(ww-1)·2^(w-1) (+ sign),
    times M (mult_bits), plus the rounding add."""
    k = heads * base["head_dim"]
    acc = (2 * k << (base["weight_width"] - 1 + base["data_width"] - 1)).bit_length() + 1
    return acc + mult_bits + 1


def test_the_gateware_limits_are_checked_where_it_is_built():
    """The projection's load-format limits are not a parameter error: AttnParams takes
    them, the gateware (and the load words) refuse them."""
    from attnhw.hdl.out_proj import check_projection
    p = AttnParams(head_dim=8, lanes=4, max_seq_len=16, out_features=10, proj_lanes=4)
    with pytest.raises(ValueError, match="d_out=10 is not a multiple of the projection's"):
        check_projection(p.out_proj)


def test_the_old_projection_name_warns():
    import attnhw.golden.out_proj as out_proj
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cls = out_proj.OutProjParams
    assert cls is ProjParams
    assert [w.category for w in caught] == [DeprecationWarning]
