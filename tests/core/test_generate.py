"""Sampling pieces against the reference's logits processors, and stopping rules."""

from __future__ import annotations

import pytest
import torch

from glmocr_core.runtime.sampling import apply_repetition_penalty, filter_top_k_top_p

transformers = pytest.importorskip("transformers")


@pytest.mark.parametrize("penalty", [1.1, 1.5])
def test_repetition_penalty_matches_reference(penalty):
    from transformers.generation.logits_process import RepetitionPenaltyLogitsProcessor

    torch.manual_seed(0)
    logits = torch.randn(1, 50)
    seen = torch.tensor([[3, 7, 7, 20, 49]])
    expected = RepetitionPenaltyLogitsProcessor(penalty)(seen, logits.clone())
    assert torch.equal(apply_repetition_penalty(logits[0], seen[0], penalty), expected[0])


@pytest.mark.parametrize("top_k,top_p", [(5, 1.0), (0, 0.8), (10, 0.5), (0, 0.05)])
def test_top_k_top_p_keep_the_same_tokens_as_reference(top_k, top_p):
    from transformers.generation.logits_process import TopKLogitsWarper, TopPLogitsWarper

    torch.manual_seed(1)
    logits = torch.randn(1, 100) * 3
    expected = logits.clone()
    if top_k:
        expected = TopKLogitsWarper(top_k)(None, expected)
    if top_p < 1:
        expected = TopPLogitsWarper(top_p)(None, expected)
    got = filter_top_k_top_p(logits[0], top_k, top_p)
    assert torch.equal(torch.isfinite(got), torch.isfinite(expected[0]))
