"""attnhw gateware: Amaranth components of the attention core.

Read top-down: ``core.AttentionCore`` wires ``dot_product`` -> ``score_scale`` ->
``online_softmax`` (with ``exp2``) -> ``accumulator`` -> ``normalize``. Each stage's
arithmetic is defined in ``golden/`` under the same name.
"""
