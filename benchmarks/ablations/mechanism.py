"""Why PiXL helps or hurts where it starts: its pull on the pixel features against the CE's, and
how right the labels are that it pulls the drift pixels towards.

Measured on the stage-1 models (where warm-started stage 2 begins), one batch each:
- on a source batch with its labels (the labelled PiXL term): the norm of d PiXL / d features over
  that of d CE / d features (PiXL weight 1), and, at the anchor cells, the cosine between the two
  gradients (negative: PiXL pushes a feature where the CE does not want it);
- on a target-train batch labelled by the stage-1 model itself (the teacher at stage-2 step 0, with
  the config's pseudo-label threshold and weighting): the accuracy of those pseudo-labels against
  the ground truth at drift and at joint cells (the mixed batch's PiXL pulls each drift cell
  towards the prototype of its pseudo-label).
"""

from __future__ import annotations

from pathlib import Path

from ablations.analyses import feature_gradients
from ablations.tables import mean_std

MECHANISM_TEMPERATURES = (0.1, 1.0)


def _batch(spec, size: int):
    from torch.utils.data import default_collate

    from pixl.data import build_dataset

    data = build_dataset(
        spec.kind, spec.root, spec.split, train=False, crop_size=None, resize=spec.resize
    )
    return default_collate([data[i] for i in range(size)])


def mechanism(run_dirs: list[Path], batch_size: int = 16) -> list[str]:
    """Rows of the mechanism table over the stage-1 models in ``run_dirs`` (mean ± std)."""
    import torch
    import torch.nn.functional as F

    from pixl.core import labels_to_feature_resolution
    from pixl.core.entropy import pixel_entropy
    from pixl.core.partition import partition_pixels
    from pixl.engine import load_for_inference
    from pixl.engine.tasks.pseudo import pseudo_labels_from_probs

    ratio: dict[float, list[float]] = {t: [] for t in MECHANISM_TEMPERATURES}
    cosine: dict[float, list[float]] = {t: [] for t in MECHANISM_TEMPERATURES}
    opposed: dict[float, list[float]] = {t: [] for t in MECHANISM_TEMPERATURES}
    drift_acc, joint_acc = [], []
    for run_dir in run_dirs:
        config, model = load_for_inference(run_dir / "final" / "model.safetensors")
        classes = model.num_classes
        eta = config.pixl.eta_start  # stage 2's first step
        source = _batch(config.data.labelled, batch_size)
        ce_grad, pixl = feature_gradients(model, source, classes, eta, MECHANISM_TEMPERATURES)
        for t, (_, grad) in pixl.items():
            ratio[t].append(float(grad.norm() / ce_grad.norm()))
            anchors = grad.norm(dim=1) > 0
            cos = F.cosine_similarity(grad, ce_grad, dim=1)[anchors]
            cosine[t].append(float(cos.mean()))
            opposed[t].append(float((cos < 0).float().mean()))
        # The teacher at stage-2 step 0 is the stage-1 model: its pseudo-labels on target train.
        target_spec = config.data.val.model_copy(update={"split": "target_train"})
        target = _batch(target_spec, batch_size)
        with torch.no_grad():
            logits = model(target["image"]).logits
            probs = torch.softmax(
                F.interpolate(logits, size=target["label"].shape[-2:], mode="bilinear"), dim=1
            )
        st = config.self_training
        pseudo = pseudo_labels_from_probs(
            probs, st.pseudo_threshold, st.margins, st.pseudo_weighting
        )
        size = logits.shape[-2:]
        pl_cells = labels_to_feature_resolution(pseudo.labels, size, classes)
        gt_cells = labels_to_feature_resolution(target["label"], size, classes)
        cell_probs = torch.softmax(logits, dim=1)
        valid = (pl_cells != 255) & (gt_cells != 255)
        drift = torch.zeros_like(valid)
        for i in range(valid.shape[0]):  # the per-image split of the PiXL term
            v = valid[i].flatten()
            if v.any():
                h = pixel_entropy(cell_probs[i].flatten(1).T[v])
                d = torch.zeros_like(v)
                d[v] = ~partition_pixels(h, eta)
                drift[i] = d.view_as(valid[i])
        correct = pl_cells == gt_cells
        drift_acc.append(float(correct[drift].float().mean()) if drift.any() else float("nan"))
        joint = valid & ~drift
        joint_acc.append(float(correct[joint].float().mean()) if joint.any() else float("nan"))
    lines = [
        f"On the {len(run_dirs)} stage-1 models (one batch of {batch_size} each, eta {eta}):",
        "",
        "| temperature | gradient norm PiXL / CE (weight 1) | cosine of the two gradients at "
        "anchors | anchors where they oppose |",
        "|---:|---:|---:|---:|",
    ]
    for t in MECHANISM_TEMPERATURES:
        lines.append(
            f"| {t:g} | {mean_std(ratio[t])} | {mean_std(cosine[t])} | "
            f"{mean_std([100 * x for x in opposed[t]])} % |"
        )
    lines += [
        "",
        "Pseudo-labels of the stage-1 model on target train (the mixed batch's labels at stage-2"
        f" step 0) against the ground truth, per feature cell: {mean_std([100 * a for a in drift_acc])}"
        f" % right at drift cells, {mean_std([100 * a for a in joint_acc])} % at joint cells.",
    ]
    return lines
