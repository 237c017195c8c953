"""The typed experiment configuration (docs/design.md, "The baseline PiXL builds on" and "How a run
flows"): one flat YAML file maps onto it.

Every section forbids unknown keys, so a typo is an error naming the key and the valid ones.
Defaults are the paper's settings (HRDA + DAFormer + DACS, PiXL section 4.1.3).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PositiveFloat,
    PositiveInt,
    field_validator,
    model_validator,
)

from pixl.config.kinds import check_dataset_kind

Task = Literal["supervised", "semi", "uda"]
# The kinds are described (and registered) by pixl.data.kinds; see pixl.config.kinds.
DatasetKindName = Annotated[str, AfterValidator(check_dataset_kind)]
Precision = Literal["32-true", "bf16-mixed", "16-mixed"]
Accelerator = Literal["auto", "cpu", "cuda", "gpu", "mps"]
Strategy = Literal["auto", "ddp", "ddp_spawn", "single_device"]
EvalMode = Literal["whole", "slide"]
PseudoWeighting = Literal["image_fraction", "pixel_mask"]
PiXLGroup = Literal["per_pass", "joint"]
PiXLMixedWeighting = Literal["none", "pseudo"]
EtaOrigin = Literal["step0", "start_step"]
PiXLProjection = Literal["none", "head"]
PiXLAnchors = Literal["drift", "all", "random"]
TeacherNorm = Literal["eval", "train"]


class Section(BaseModel):
    """A config section: unknown keys are errors, assignments are validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class DatasetSpec(Section):
    """One dataset split as the data layer's ``build_dataset`` reads it."""

    kind: DatasetKindName
    root: str
    split: str
    crop_size: tuple[PositiveInt, PositiveInt] | None = None
    resize: tuple[PositiveInt, PositiveInt] | None = None
    subset_file: str | None = None
    cat_max_ratio: float = Field(0.75, gt=0.0, le=1.0)
    flip: bool = True
    """Random horizontal flip in training (off for DigitScenes: a mirrored digit is another shape)."""


class RCSConfig(Section):
    """Rare class sampling on the labelled (source) set (docs/design.md, "The baseline PiXL builds on")."""

    enabled: bool = True
    temperature: PositiveFloat = 0.01
    min_pixels: PositiveInt = 3000
    min_crop_ratio: PositiveFloat = 0.5
    max_retries: PositiveInt = 10


class DataConfig(Section):
    """Training and validation data. In UDA ``labelled`` is the source set, ``unlabelled`` the target."""

    labelled: DatasetSpec
    unlabelled: DatasetSpec | None = None
    val: DatasetSpec
    rcs: RCSConfig = Field(default_factory=RCSConfig)


class ModelConfig(Section):
    """A registered model and its options (checked by ``pixl.models.create_model``).

    HRDA's detail crop fraction and context scale are model options (``detail_crop``, ``scale``)."""

    name: str = "hrda"
    options: dict[str, Any] = Field(default_factory=dict)
    detail_weight: float = Field(0.1, ge=0.0)
    """lambda_H of eq. (16): weight of the CE on the high-resolution detail prediction."""
    activation_checkpointing: bool = False
    """Recompute each encoder block and the decoders in backward instead of keeping their
    activations (mmseg's ``with_cp``): less memory for more step time, the same gradients
    (``pixl.models.checkpointing``). For GPUs of 11-16 GB at the paper's batch."""
    init_from: str | None = None
    """Warm start: the student (and the teacher, as its copy) starts from these weights, a pixl
    checkpoint (``.pt``) or a safetensors export; the run itself is fresh (step 0, new optimizer).
    Stage-wise training: e.g. a source-only model, then adaptation from it."""


class PiXLConfig(Section):
    """Pixel learning (docs/design.md, "The core contract" and "Choices where the paper is silent");
    ``enabled: false`` is the paper's baseline (Table 5)."""

    enabled: bool = True
    adaptive_selection: bool = True
    temperature: PositiveFloat = 1.0
    """Not given in the paper; 1.0 as CLUDA (no temperature). At 1.0 PiXL's gradient on the
    features is near the CE's, at 0.1 many times it (benchmarks/results/where_pixl_helps.md)."""
    eta_start: float = Field(0.2, ge=0.0, le=1.0)
    eta_end: float = Field(0.001, ge=0.0, le=1.0)
    weight: float = Field(1.0, ge=0.0)
    """Weight of L_DPA in the total loss: 1, eq. (17) (CLUDA's single-resolution contrast has no
    factor either); the from-scratch DigitScenes configs use 0.1 (docs/design.md)."""
    start_step: int = Field(0, ge=0)
    """First step with the PiXL terms. 0 (the paper) for ImageNet-initialised models; a model
    trained from scratch has no class structure in its features to build prototypes from at first,
    and PiXL's pull on them slows its early learning (DigitScenes configs start later)."""
    group: PiXLGroup = "per_pass"
    """Which images form one PiXL group (one partition, one set of prototypes): ``per_pass``, each
    forward pass on its own (the labelled batch, the mixed batch); ``joint``, the labelled and the
    mixed images together, so prototypes hold joint pixels of both domains."""
    mixed_weighting: PiXLMixedWeighting = "none"
    """``pseudo``: each drift pixel of the mixed batch weighs its pseudo-label weight (averaged over
    its feature cell) in the PiXL term, as CLUDA weighs its contrast; ``none``: every anchor weighs 1."""
    eta_from: EtaOrigin = "step0"
    """Where the eta schedule starts: ``step0`` (eta_start at step 0), or ``start_step`` (eta_start
    when PiXL joins at ``start_step``, reaching eta_end at the last step)."""
    cell_purity: float = Field(0.0, ge=0.0, lt=1.0)
    """Labels at feature resolution: 0 (default), each stride cell takes the majority of its valid
    pixels; > 0, the majority class is kept only where it covers at least this fraction of ALL the
    cell's pixels (ignored ones counted), else the cell is ignored: SePiCo's / DAFormer's
    ``downscale_label_ratio`` rule at 0.75 (``pixl.core.labels_to_feature_resolution``)."""
    projection: PiXLProjection = "none"
    """``none`` (default): PiXL aligns the decoder embedding itself; ``head``: a projection head
    (1x1 conv, BN, ReLU, 1x1 conv to ``projection_dim``; SePiCo / Wang et al.) is part of the model
    (optimised at the head learning rate, saved in checkpoints) and its output is the model's
    ``features``; CE and entropies still come from the classifier on the decoder embedding."""
    projection_dim: PositiveInt = 256
    """Output channels of the projection head (Wang et al.'s ``proj_dim`` 256)."""
    anchors: PiXLAnchors = "drift"
    """``drift`` (default, the paper): joint pixels make the prototypes, drift pixels are the
    anchors; ``all``: the symmetric ablation (CLUDA-like pixel contrast), every valid pixel is a
    prototype source and an anchor, no joint/drift split; ``random``: the count-matched control,
    the paper's prototypes, but the pulled pixels are a random subset of each image's valid pixels,
    as many as its drift pixels (separates "which anchors" from "how many")."""

    @model_validator(mode="after")
    def _projection_needs_pixl(self) -> PiXLConfig:
        if self.projection != "none" and not self.enabled:
            raise ValueError(
                "pixl.projection 'head' needs pixl.enabled: true (the head would get no gradient)"
            )
        return self


class Margins(Section):
    """Target-image margins ignored by pseudo-labels, in pixels of a frame ``reference_height`` high.

    Scaled to the training crop's height (Cityscapes 1024x2048: 30, 240, 30, 30; HRDA's values)."""

    top: int = Field(0, ge=0)
    bottom: int = Field(0, ge=0)
    left: int = Field(0, ge=0)
    right: int = Field(0, ge=0)
    reference_height: PositiveInt = 1024


class SelfTrainingConfig(Section):
    """EMA teacher, pseudo-labels and DACS mixing for the semi-supervised and UDA tasks."""

    ema_alpha: float = Field(0.999, gt=0.0, lt=1.0)
    pseudo_threshold: float = Field(0.968, ge=0.0, le=1.0)
    pseudo_weighting: PseudoWeighting = "image_fraction"
    """``image_fraction``: each image's pixels weigh its confident fraction (DACS/HRDA, the paper);
    ``pixel_mask``: confident pixels weigh 1, the rest are ignored."""
    margins: Margins = Field(default_factory=Margins)
    classmix: bool = True
    strong_augment: bool = True
    start_step: int = Field(0, ge=0)
    """Steps of labelled-only training before pseudo-labels and mixing begin (the teacher still
    follows the student). 0, the paper's setting, suits ImageNet-initialised models; a model
    trained from scratch would otherwise self-train on a teacher that calls every target pixel
    background (DigitScenes configs)."""
    teacher_norm: TeacherNorm = "eval"
    """How the teacher's BatchNorm runs when it makes pseudo-labels: ``eval`` (default), its
    (EMA-averaged) running statistics; ``train``, the statistics of the current target batch as
    DACS / HRDA's teacher does, dropout and drop-path still off, its running statistics unchanged
    (``pixl.engine.teacher.batch_statistics``)."""


class FDConfig(Section):
    """Thing-class ImageNet feature distance (UDA only; needs ImageNet weights)."""

    enabled: bool = False
    weight: float = Field(0.005, ge=0.0)
    thing_ratio: float = Field(0.75, gt=0.0, le=1.0)
    thing_classes: list[int] | None = None
    """None: the dataset's own thing classes (``dataset_info(kind).thing_classes``)."""


class OptimConfig(Section):
    """AdamW with linear warmup then polynomial decay (docs/design.md, "The baseline PiXL builds on")."""

    lr: PositiveFloat = 6e-5
    head_lr_mult: PositiveFloat = 10.0
    weight_decay: float = Field(0.01, ge=0.0)
    betas: tuple[float, float] = (0.9, 0.999)
    warmup_steps: int = Field(1500, ge=0)
    warmup_ratio: float = Field(1e-6, gt=0.0, le=1.0)
    poly_power: float = Field(1.0, ge=0.0)
    grad_clip: PositiveFloat | None = None


class TrainerConfig(Section):
    """Loop length, batches, devices and the bookkeeping cadence."""

    max_steps: PositiveInt = 40000
    batch_size: PositiveInt = 2
    """Labelled (source) images per step and per device."""
    unlabelled_batch_size: PositiveInt = 2
    accelerator: Accelerator = "auto"
    devices: int | str = 1
    """How many devices per node, or "auto"."""
    num_nodes: PositiveInt = 1
    strategy: Strategy = "auto"
    precision: Precision = "32-true"
    num_workers: int = Field(4, ge=0)
    seed: int = 0
    log_every: PositiveInt = 50
    eval_every: int = Field(4000, ge=0)
    """0: evaluate only at the end."""
    checkpoint_every: int = Field(4000, ge=0)
    """0: checkpoint only at the end (and when the run stops on non-finite losses)."""
    keep_last: PositiveInt = 3
    max_nonfinite: PositiveInt = 5
    """Consecutive steps with a non-finite loss that stop the run."""
    progress_bar: bool = True

    @field_validator("devices", mode="before")
    @classmethod
    def _devices(cls, value: Any) -> int | str:
        if value == "auto" or (
            isinstance(value, int) and not isinstance(value, bool) and value > 0
        ):
            return value
        raise ValueError("expected a positive integer or 'auto'")


SMALL_EVAL_PIXELS = 512 * 512
SMALL_EVAL_BATCH = 8


class EvalConfig(Section):
    """Validation inference: whole image, or sliding window (window = crop, stride = half)."""

    mode: EvalMode = "whole"
    window: tuple[PositiveInt, PositiveInt] | None = None
    stride: tuple[PositiveInt, PositiveInt] | None = None
    batch_size: PositiveInt | None = None
    """None: 8 when ``data.val.resize`` makes every image at most 512x512 pixels (batched whole-image
    eval is faster than batch 1 there: benchmarks/results/speed.md), else 1 (full frames, or sizes
    that may differ)."""
    max_images: PositiveInt | None = None


class ExperimentConfig(Section):
    """Everything one training run needs; saved, resolved, as ``RUN/config.yaml``."""

    name: str
    task: Task
    output_dir: str = "runs"
    model: ModelConfig = Field(default_factory=ModelConfig)
    data: DataConfig
    pixl: PiXLConfig = Field(default_factory=PiXLConfig)
    self_training: SelfTrainingConfig = Field(default_factory=SelfTrainingConfig)
    fd: FDConfig = Field(default_factory=FDConfig)
    optim: OptimConfig = Field(default_factory=OptimConfig)
    trainer: TrainerConfig = Field(default_factory=TrainerConfig)
    eval: EvalConfig = Field(default_factory=EvalConfig)

    @model_validator(mode="after")
    def _task_needs_its_data(self) -> ExperimentConfig:
        needs_unlabelled = self.task in ("semi", "uda")
        if needs_unlabelled and self.data.unlabelled is None:
            raise ValueError(
                f"task '{self.task}' needs data.unlabelled (the images without labels)"
            )
        if not needs_unlabelled and self.data.unlabelled is not None:
            raise ValueError("task 'supervised' takes no data.unlabelled; remove it or set task")
        if self.fd.enabled and self.task != "uda":
            raise ValueError("fd.enabled is for task 'uda' only (ImageNet feature distance)")
        if self.eval.mode == "slide" and self.eval.window is None:
            raise ValueError("eval.mode 'slide' needs eval.window (e.g. the training crop)")
        if self.eval.batch_size is None:
            resize = self.data.val.resize
            small = resize is not None and resize[0] * resize[1] <= SMALL_EVAL_PIXELS
            self.eval.batch_size = SMALL_EVAL_BATCH if small else 1
        return self

    @property
    def run_dir(self) -> str:
        """The run folder: ``output_dir/name``."""
        return f"{self.output_dir.rstrip('/')}/{self.name}"
