"""The model check's patching path (attnhw.model_patch) on a small random BERT: every
attention layer goes through attnhw.sdpa with the model's padding mask, the model's
output stays close to float, and the hardware's arithmetic is as close as the ideal
int8 pipeline's. No weights are needed (transformers config, random initialisation)."""

import numpy as np
import pytest
import torch
import transformers

from attnhw.model_patch import attnhw_attention


@pytest.fixture(scope="module")
def bert():
    torch.manual_seed(0)
    config = transformers.BertConfig(hidden_size=64, num_attention_heads=4, num_hidden_layers=3,
                                     intermediate_size=128, vocab_size=200,
                                     max_position_embeddings=64)
    model = transformers.BertModel(config).eval()
    ids = torch.randint(1, 200, (4, 16))
    mask = torch.ones(4, 16, dtype=torch.long)
    mask[1, 9:], mask[2, 4:] = 0, 0                # padded sentences
    return model, dict(input_ids=ids, attention_mask=mask)


def _run(model, inputs):
    with torch.no_grad():
        return model(**inputs).last_hidden_state


@pytest.mark.parametrize("quant,width", [("tensor", 8), ("head", 8), ("head", 12)])
def test_every_layer_goes_through_attnhw_and_stays_close(bert, quant, width):
    model, inputs = bert
    ref = _run(model, inputs)
    out, calls = {}, {}
    for pipeline in ("hardware", "ideal"):
        calls[pipeline] = []
        with attnhw_attention(model, quant=quant, data_width=width, pipeline=pipeline,
                              record=calls[pipeline]):
            out[pipeline] = _run(model, inputs)
    assert model.config._attn_implementation == "sdpa"          # restored
    assert torch.equal(_run(model, inputs), ref)
    # One call per layer, in order; each within a few output steps of float SDPA.
    assert [c["layer"] for c in calls["hardware"]] == [0, 1, 2]
    assert all(c["err_lsb_max"] < 4 for c in calls["hardware"]), calls["hardware"]
    valid = inputs["attention_mask"].bool()
    hw, ideal = ((o - ref)[valid].abs().max().item() for o in (out["hardware"], out["ideal"]))
    assert 0 < hw < 0.05 * ref.abs().max().item()
    assert hw < 2 * ideal + 1e-6, (hw, ideal)
    # The padding mask reached attnhw: without it the padded sentences change.
    with attnhw_attention(model, quant=quant, data_width=width):
        unpadded = _run(model, dict(input_ids=inputs["input_ids"]))
    assert (unpadded[2, :4] - out["hardware"][2, :4]).abs().max() > 10 * hw


def test_hardware_error_shrinks_with_width(bert):
    model, inputs = bert
    ref = _run(model, inputs)
    err = {}
    for width in (8, 12):
        with attnhw_attention(model, quant="head", data_width=width):
            err[width] = (_run(model, inputs) - ref).abs().max().item()
    assert err[12] * 4 < err[8], err
    assert np.isfinite(list(err.values())).all()
