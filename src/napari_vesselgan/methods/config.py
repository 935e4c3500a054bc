"""Typed method configurations: one pydantic model per method, refusing unknown fields.

The widget, the command line and the tests build the same object; it is saved with the
weights, so a checkpoint always says how its networks were built and trained.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from napari_vesselgan import InvalidInput

if TYPE_CHECKING:
    from napari_vesselgan.engine.trainer import TrainerSettings


class TrainingConfig(BaseModel):
    """Fields every trainable method shares: the loop, the optimiser, the patches."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    steps: int = Field(8000, ge=1, description="Training steps (one batch each).")
    decay_steps: int = Field(4000, ge=0, description="Final steps over which the learning rate falls linearly to 0.")
    schedule: Literal["constant", "linear", "step"] = Field("linear", description="Learning-rate schedule.")
    step_size: int = Field(50, ge=1, description="Steps between learning-rate drops (schedule 'step').")
    gamma: float = Field(0.5, gt=0, le=1, description="Learning-rate factor per drop (schedule 'step').")
    lr: float = Field(2e-4, gt=0, description="Adam learning rate.")
    beta1: float = Field(0.5, ge=0, lt=1, description="Adam beta1.")
    beta2: float = Field(0.999, ge=0, lt=1, description="Adam beta2.")
    batch_size: int = Field(1, ge=1, description="Patches per step.")
    patch_size: int = Field(128, ge=16, description="Square training patch size in pixels (a multiple of 4).")
    checkpoint_every: int = Field(500, ge=0, description="Steps between checkpoints (0: only at the end).")
    seed: int = Field(0, description="Seed for initialisation and patch sampling.")
    precision: Literal["auto", "fp32", "bf16", "fp16"] = Field(
        "auto", description="Autocast precision: auto = bf16 on CUDA, fp32 on CPU.")

    #: The fields that are training patch sides; each must be a multiple of ``patch_multiple``.
    PATCH_FIELDS: ClassVar[tuple[str, ...]] = ("patch_size",)
    #: Methods whose synthetic training draws seeds ``seed .. seed + n - 1`` name the field of n and
    #: the first seed held out for evaluation: the range must stay below it (evaluation.common).
    SYNTHETIC_COUNT_FIELD: ClassVar[str | None] = None
    SYNTHETIC_SEED_LIMIT: ClassVar[int | None] = None

    @property
    def patch_multiple(self) -> int:
        """The generator's total stride: patches must be a multiple of it (4 for two down-samplings)."""
        return 4

    @model_validator(mode="after")
    def _training_seeds_are_not_held_out(self) -> "TrainingConfig":
        if self.SYNTHETIC_COUNT_FIELD is not None and self.SYNTHETIC_SEED_LIMIT is not None:
            count = getattr(self, self.SYNTHETIC_COUNT_FIELD)
            if not 0 <= self.seed <= self.SYNTHETIC_SEED_LIMIT - count:
                raise ValueError(f"seed must be between 0 and {self.SYNTHETIC_SEED_LIMIT - count:,}: synthetic training "
                                 f"draws seeds seed .. seed + {self.SYNTHETIC_COUNT_FIELD} - 1, and seeds from "
                                 f"{self.SYNTHETIC_SEED_LIMIT:,} are held out for evaluation")
        return self

    @model_validator(mode="after")
    def _patches_fit_the_generator(self) -> "TrainingConfig":
        for name in self.PATCH_FIELDS:
            value = getattr(self, name)
            if value % self.patch_multiple:
                raise ValueError(f"{name} must be a multiple of {self.patch_multiple} (the generator's stride), "
                                 f"got {value}")
        return self

    def trainer_settings(self, *, resume: bool = True) -> "TrainerSettings":
        """The training loop's settings from these fields (steps, checkpoints, schedule)."""
        from napari_vesselgan.engine.trainer import TrainerSettings

        return TrainerSettings(total_steps=self.steps, checkpoint_every=self.checkpoint_every, schedule=self.schedule,
                               decay_steps=self.decay_steps, step_size=self.step_size, gamma=self.gamma, resume=resume)

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> "TrainingConfig":
        """A named preset (``default``, ``paper``, ``test``) with optional overrides."""
        presets = getattr(cls, "PRESETS", {})
        if name != "default" and name not in presets:
            raise InvalidInput(f"unknown preset {name!r}; choose from default, {', '.join(presets)}")
        return cls(**{**presets.get(name, {}), **overrides})
