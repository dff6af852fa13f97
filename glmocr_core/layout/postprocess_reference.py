"""The model's raw outputs -> detections, as ``PPDocLayoutV3ImageProcessor.post_process_object_detection``
(transformers 5.23.0) computes them: the same scores, labels, boxes (x0, y0, x1, y1 in the target size's pixels) and
``order_seq``, in the same order.

What is left out: its ``polygon_points`` (contours of the thresholded masks, traced with OpenCV's findContours and
simplified with approxPolyDP). The official SDK reads them only with ``use_polygon: true`` (default false) and for
drawing; with the default, regions are the boxes.
"""

from __future__ import annotations

import torch

from .model import LayoutOutput


def order_ranks(order_logits: torch.Tensor) -> torch.Tensor:
    """Pairwise order logits [B, Q, Q] -> each query's reading-order rank [B, Q].

    A query's vote counts the queries read before it: p(j before i) for j < i (upper triangle, column i) plus
    1 - p(i before j) for j > i (lower triangle of the transpose); ranks are the votes' sort positions."""
    scores = torch.sigmoid(order_logits)
    batch, length, _ = scores.shape
    votes = scores.triu(diagonal=1).sum(dim=1) + (1.0 - scores.transpose(1, 2)).tril(diagonal=-1).sum(dim=1)
    pointers = torch.argsort(votes, dim=1)
    ranks = torch.empty_like(pointers)
    ranks.scatter_(1, pointers, torch.arange(length, dtype=pointers.dtype, device=pointers.device).expand(batch, -1))
    return ranks


def corner_boxes(boxes: torch.Tensor, sizes: torch.Tensor) -> torch.Tensor:
    """(cx, cy, w, h) in [0, 1] [B, Q, 4] -> (x0, y0, x1, y1) in pixels of ``sizes`` [B, 2] (height, width)."""
    centres, dims = torch.split(boxes, 2, dim=-1)
    corners = torch.cat([centres - 0.5 * dims, centres + 0.5 * dims], dim=-1)
    height, width = sizes.unbind(1)
    return corners * torch.stack([width, height, width, height], dim=1).to(boxes.device)[:, None, :]


def post_process_object_detection(outputs: LayoutOutput, threshold: float,
                                  target_sizes: list[tuple[int, int]]) -> list[dict[str, torch.Tensor]]:
    """Per image: ``scores``, ``labels``, ``boxes`` and ``order_seq`` of the (query, class) pairs scoring at least
    ``threshold`` among the top ``num_queries`` pairs, sorted by reading order. ``target_sizes``: (height, width)."""
    ranks = order_ranks(outputs.order_logits)
    boxes = corner_boxes(outputs.pred_boxes, torch.as_tensor(target_sizes))
    queries, classes = outputs.logits.shape[1:]
    scores, index = torch.topk(torch.sigmoid(outputs.logits).flatten(1), queries, dim=-1)
    labels, index = index % classes, index // classes
    boxes = boxes.gather(dim=1, index=index.unsqueeze(-1).repeat(1, 1, 4))
    ranks = ranks.gather(dim=1, index=index)
    return [_one_image(*row, threshold) for row in zip(scores, labels, boxes, ranks)]


def _one_image(scores, labels, boxes, ranks, threshold: float) -> dict[str, torch.Tensor]:
    keep = scores >= threshold
    # One query may score for two labels (equal ranks): torch.sort's default (unstable) order of ties is the
    # reference's, so it is kept rather than a stable sort.
    order_seq, indices = torch.sort(ranks[keep])
    return {"scores": scores[keep][indices], "labels": labels[keep][indices], "boxes": boxes[keep][indices],
            "order_seq": order_seq}
