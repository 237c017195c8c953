"""Evaluation: confusion matrix -> mIoU, whole/slide inference over a split, Cityscapes export."""

from pixl.evaluation.export import (
    OUTPUT_FORMATS,
    check_format,
    list_images,
    prediction_path,
    save_prediction,
    train_ids_to_label_ids,
)
from pixl.evaluation.inference import check_num_classes, evaluate, predict_labels
from pixl.evaluation.metrics import (
    ConfusionMatrix,
    confusion_matrix,
    iou_from_confusion,
    miou_from_confusion,
    subset_mious,
)
from pixl.evaluation.official import OfficialScores, official_cityscapes_scores
from pixl.evaluation.report import EvalReport, render_table

__all__ = [
    "OUTPUT_FORMATS",
    "ConfusionMatrix",
    "EvalReport",
    "OfficialScores",
    "check_format",
    "check_num_classes",
    "confusion_matrix",
    "evaluate",
    "iou_from_confusion",
    "list_images",
    "miou_from_confusion",
    "official_cityscapes_scores",
    "predict_labels",
    "prediction_path",
    "render_table",
    "save_prediction",
    "subset_mious",
    "train_ids_to_label_ids",
]
