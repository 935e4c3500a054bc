"""Write a method's generator as a BioImage.io model package (spec 0.5) and test it with bioimageio.core.

``vesselgan export METHOD [--weights W] -o MODEL.zip`` and the docks' "Export to BioImage.io..."
come here. A package holds:

- the generator as ``pytorch_state_dict`` (a plain ``torch.save`` state dict in fp32, made from our
  safetensors; the architecture is a class of the installed napari-vesselgan with its kwargs)
  and as ``torchscript`` (traced from the same network);
- one input and one output with axes (batch, channel, y, x); the input's y and x take
  ``min + n * step`` pixels (``step`` = the network's stride, so the tools' tiling fits it);
  superres's output is 4x its input (a size reference with scale 1/4); fundus2video's package is one
  window step of its autoregressive generation (inputs ``photo`` and ``condition``, the loop written
  in its README);
- our intensity mapping as pre- and post-processing where the spec can say it (see
  :data:`PACKAGES` and the package's README for what it cannot);
- test input / output tensors from the bundled samples (the output computed by our own
  prediction code, so ``bioimageio test`` checks the package against it), a cover image, a README
  with the model card and a "# Validation" section, licence, authors, the paper to cite, tags;
- ``config.napari_vesselgan``: the method, its configuration and provenance, which
  ``methods.load(name, weights="MODEL.zip")`` reads back (``export.model_package``).

Needs the ``bioimageio`` extra (``pip install napari-vesselgan[bioimageio]``).
"""

from __future__ import annotations

import os
import re
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import tifffile
import torch

from napari_vesselgan import InvalidInput, __version__
from napari_vesselgan.data.intensity import intensity_range
from napari_vesselgan.export.architectures import UpscalingSuperResGenerator, WindowStepGenerator, baked_spectral_norm
from napari_vesselgan.export.model_package import CONFIG_KEY
from napari_vesselgan.io.atomic import atomic_path
from napari_vesselgan.nn.architecture import architecture_of

if TYPE_CHECKING:
    from napari_vesselgan.methods.base import Method

ExportProgress = Callable[[str, int, int], None]
AUTHORS = "napari-vesselgan developers"
#: Output pixels a tiling tool crops from each tile's borders (a multiple of 4, so that superres's
#: quarter is whole and the padded input stays a multiple of the stride): a practical margin, less
#: than the generators' receptive radius (63-87 px for the ResNet generators); instance norm makes
#: any tiling by other tools inexact anyway (see the package's README).
OUTPUT_HALO = 32
LICENSE = "BSD-3-Clause"


@dataclass(frozen=True)
class Citation:
    text: str
    doi: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class PackagePlan:
    """What a method's package says beyond its network: sample, mapping, words, tags, paper."""

    title: str
    sample: str                                # key of data.samples (the test input)
    input_mapping: Literal["range", "mask"]    # per-image min-max to [-1, 1], or a binary mask to {-1, 1}
    clip_output: bool                          # the output is clipped to [0, 1] (restoration / translation)
    input_text: str
    output_text: str
    cannot_say: str                            # what the spec's processing cannot express, for the README
    tags: tuple[str, ...]
    cite: Citation
    upscale: int = 1
    window_step: bool = False                  # fundus2video: one window step, inputs photo and condition


_RANGE_NOTE = ("Our prediction maps the result back to the input's own range and dtype (`low + unit * (high - low)`, "
               "integers rounded); the spec has no inverse of `scale_range`, so this package returns the unit "
               "value: multiply by the input's (max - min) and add its min to get the input's units.")

#: The methods that export, and what their packages say.
PACKAGES: dict[str, PackagePlan] = {
    "denoise": PackagePlan(
        title="napari-vesselgan denoise: low-light NIR-II denoising (CycleGAN)",
        sample="lowlight_nir", input_mapping="range", clip_output=True,
        input_text="low-light NIR-II fluorescence image, any intensity range (scaled by its own min and max)",
        output_text="denoised image in [0, 1] of the input's intensity range",
        cannot_say=_RANGE_NOTE,
        tags=("denoising", "nir-ii", "fluorescence", "vessels", "cyclegan", "gan", "2d", "pytorch", "napari"),
        cite=Citation("Hemadri et al., Real-Time NIR-II Image Denoising via Spectrum-Shift Explainable GAN, "
                      "International Journal for Modern Trends in Science and Technology 12(02), 57-62 (2026)",
                      doi="10.5281/zenodo.18683096"),
    ),
    "superres": PackagePlan(
        title="napari-vesselgan superres: 4x resolution enhancement of fluorescence images (TG-loss GAN)",
        sample="lowres_nir", input_mapping="range", clip_output=False, upscale=4,
        input_text="low-resolution fluorescence image, any intensity range (scaled by its own min and max)",
        output_text="4x larger enhanced image, in units of the input's intensity range (0 = its min, 1 = its max; "
                    "detail may exceed [0, 1])",
        cannot_say=_RANGE_NOTE + " The network first up-samples 4x with torch's bicubic kernel "
                   "(`F.interpolate(mode='bicubic')`); `vesselgan predict superres --scale 4` up-samples with "
                   "scikit-image's cubic spline instead, so the two differ slightly.",
        tags=("super-resolution", "nir-ii", "fluorescence", "vessels", "gan", "2d", "pytorch", "napari"),
        cite=Citation("Zhang, Wang et al., Improved generative adversarial networks using the total gradient loss "
                      "for the resolution enhancement of fluorescence images, Biomedical Optics Express (2019)",
                      url="https://scholar.google.com/scholar?q=Improved+generative+adversarial+networks+using+the+"
                          "total+gradient+loss+for+the+resolution+enhancement+of+fluorescence+images"),
    ),
    "mask2nir": PackagePlan(
        title="napari-vesselgan mask2nir: vessel mask to NIR-II image (attention-guided CycleGAN)",
        sample="vessel_mask", input_mapping="mask", clip_output=True,
        input_text="binary vessel mask (any value above 0 is a vessel)",
        output_text="synthetic NIR-II fluorescence image in [0, 1]",
        cannot_say="napari-vesselgan counts every non-zero label as vessel; the package's `binarize` counts values "
                   "above 0 (the same for masks and label images, which are never negative).",
        tags=("image-to-image", "image-synthesis", "nir-ii", "fluorescence", "vessels", "cyclegan", "gan", "2d",
              "pytorch", "napari"),
        cite=Citation("Fang et al., Unsupervised translation of vascular masks to NIR-II fluorescence images using "
                      "attention-guided generative adversarial networks, Scientific Reports (2025)",
                      url="https://scholar.google.com/scholar?q=Unsupervised+translation+of+vascular+masks+to+NIR-II+"
                          "fluorescence+images+using+attention-guided+generative+adversarial+networks"),
    ),
    "fundus2ffa": PackagePlan(
        title="napari-vesselgan fundus2ffa: colour fundus photo to late-phase FFA (conditional GAN)",
        sample="synthetic_fundus", input_mapping="range", clip_output=True,
        input_text="colour fundus photograph, RGB as three channels, scaled by its own min and max over all channels",
        output_text="late-phase fluorescein angiography (FFA) image in [0, 1]",
        cannot_say="`vesselgan predict fundus2ffa` also sets the FFA to black outside the photo's circular field of "
                   "view (`mask_fov`, a threshold on the photo); the spec cannot say that, so this package's output "
                   "is not masked there.",
        tags=("image-to-image", "fundus", "ffa", "angiography", "ophthalmology", "gan", "pix2pix", "2d", "pytorch",
              "napari"),
        cite=Citation("Li et al., Generating fundus fluorescence angiography images from structure fundus images "
                      "using generative adversarial networks, MIDL 2020", url="https://arxiv.org/abs/2006.10216"),
    ),
}
PACKAGES["fundus2video"] = PackagePlan(
    title="napari-vesselgan fundus2video: one window step of fundus photo to FFA video generation (pix2pixHD)",
    sample="synthetic_fundus", input_mapping="range", clip_output=True, window_step=True,
    input_text="colour fundus photo at the working size ({working} px on its longer side), RGB as channels, "
               "scaled by its min and max",
    output_text="the window's 3 consecutive FFA frames (channels t0, t1, t2) in [0, 1]",
    cannot_say="This package is ONE STEP of fundus2video's autoregressive generation; a video needs a loop around "
               "it, which BioImage.io tools do not run: `condition_0` = the photo scaled to [0, 1] by its min and max "
               "over all channels; frames n, n+1, n+2 = package(photo, condition_n); `condition_n+1` = those frames. "
               "`vesselgan predict fundus2video` runs that loop for windows n = 0 .. T-1 (window n's frames are n, "
               "n+1, n+2, clamped to the last frame T-1), averages each frame over the windows that predict it, "
               "resizes the photo to the working size and the frames back, and sets the frames to "
               "black outside the photo's field of view.",
    tags=("image-to-image", "video-generation", "fundus", "ffa", "angiography", "ophthalmology", "gan", "pix2pixhd",
          "2d", "pytorch", "napari"),
    cite=Citation("Fundus2Video: Cross-Modal Angiography Video Generation from Static Fundus Photography with Clinical "
                  "Knowledge Guidance (MICCAI 2024)",
                  url="https://scholar.google.com/scholar?q=Fundus2Video+Cross-Modal+Angiography+Video+Generation+from+"
                      "Static+Fundus+Photography+with+Clinical+Knowledge+Guidance"),
)
#: Methods that do not export, and why (said to the user).
NOT_EXPORTED: dict[str, str] = {}
#: The condition input of a window step.
CONDITION_TEXT = ("3 frames in [0, 1]: for the first window the photo scaled to [0, 1] by its min and max, then the "
                  "previous window's output")


def exportable(name: str) -> bool:
    """Whether method ``name`` can be written as a BioImage.io package."""
    return name in PACKAGES


def export_model(method: "Method", target: str | os.PathLike, *, test: bool = True,
                 progress: ExportProgress | None = None) -> Path:
    """Write ``method``'s generator as a BioImage.io package at ``target`` (atomically); with ``test``,
    run bioimageio.core's own test on it first and refuse to keep a package that fails it."""
    if method.name not in PACKAGES:
        raise InvalidInput(NOT_EXPORTED.get(method.name, f"{method.name} has no BioImage.io export"))
    target = Path(target)
    if target.suffix.lower() != ".zip":
        raise InvalidInput(f"a BioImage.io model package is a .zip file; got {target.name!r}")
    spec = _bioimageio_spec()
    plan = PACKAGES[method.name]
    steps = 4 if test else 3
    report = progress or (lambda text, done, total: None)
    with tempfile.TemporaryDirectory(prefix="vesselgan-export-") as tmp:
        folder = Path(tmp)
        report("Writing the weights", 0, steps)
        network, import_from, name, kwargs = _export_network(method, plan)
        test_inputs, test_output = _test_tensors(method, plan)
        files = _write_files(folder, network, test_inputs, test_output)
        report("Describing the model", 1, steps)
        description = _describe(method, plan, folder, files, import_from, name, kwargs, test_inputs, test_output)
        report("Packaging", 2, steps)
        target.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(target) as partial:
            spec.save_bioimageio_package(description, output_path=partial)  # partial keeps the .zip suffix
            if test:
                report("Testing with bioimageio.core", 3, steps)
                summary = check_package(partial)
                if summary.status != "passed":
                    raise RuntimeError(f"the exported package failed bioimageio.core's test:\n{summary.format()}")
    report("Done", steps, steps)
    return target


def check_package(path: str | os.PathLike):
    """bioimageio.core's own test of a package (``bioimageio test``): its ValidationSummary."""
    try:
        from bioimageio.core import test_description
    except ImportError as error:
        raise InvalidInput(f"testing a BioImage.io package needs bioimageio.core: {_INSTALL_HINT} ({error})") from None
    return test_description(Path(path))


_INSTALL_HINT = "pip install 'napari-vesselgan[bioimageio]'"


def _bioimageio_spec():
    try:
        import bioimageio.spec as spec
        from bioimageio.spec.model import v0_5  # noqa: F401  (the spec version we write)
    except ImportError as error:
        raise InvalidInput(f"exporting to BioImage.io needs bioimageio.core: {_INSTALL_HINT} ({error})") from None
    return spec


# ----------------------------------------------------------------------------------- network
def _export_network(method: "Method", plan: PackagePlan) -> tuple[torch.nn.Module, str, str, dict[str, Any]]:
    """A fresh fp32 CPU copy of the method's generator as the package names it: (net, module, class, kwargs)."""
    generator = method.generator
    import_from, name, kwargs = architecture_of(generator)
    kwargs.update(baked_spectral_norm(generator))
    if plan.upscale != 1:
        network: torch.nn.Module = UpscalingSuperResGenerator(plan.upscale, **kwargs)
        import_from, name, kwargs = architecture_of(network)
    elif plan.window_step:
        network = WindowStepGenerator(**kwargs)
        import_from, name, kwargs = architecture_of(network)
    else:
        network = type(generator)(**kwargs)
    state = {key: value.detach().to("cpu", torch.float32).contiguous() for key, value in generator.state_dict().items()}
    network.load_state_dict(state)
    return network.eval(), import_from, name, kwargs


def _network_input(plan: PackagePlan, image: np.ndarray) -> np.ndarray:
    """(C, Y, X) in [-1, 1] by our own mapping (``data.intensity``, the mask's fixed {0, 1} range)."""
    if plan.input_mapping == "mask":
        return (image != 0).astype(np.float32) * 2.0 - 1.0
    return intensity_range(image).to_network(image)


def _test_tensors(method: "Method", plan: PackagePlan) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """(1, C, Y, X) float32 test inputs by tensor id (from a bundled sample) and the output our
    prediction code gives for them (``Method.run_generator``, our own intensity mapping)."""
    from napari_vesselgan.data.samples import _load

    image = np.asarray(_load(plan.sample)[0])
    if plan.window_step:
        return _window_step_tensors(method, image)
    chw = (np.moveaxis(image, -1, 0) if image.ndim == 3 else image[None]).astype(np.float32)
    net_in = _network_input(plan, chw)
    if plan.upscale != 1:  # our predict() up-samples with skimage; the package's network does it in torch
        network, *_ = _export_network(method, plan)
        with torch.no_grad():
            out = network(torch.from_numpy(net_in[None]))[0].numpy()
    else:
        out = _generator_output(method, net_in)
    return {"input": chw[None]}, _unit(out, plan.clip_output)[None]


def _generator_output(method: "Method", net_in: np.ndarray) -> np.ndarray:
    """The method's generator on a whole (C, H, W) network input, as its prediction runs it."""
    _, height, width = net_in.shape
    return method.run_generator(lambda y0, y1, x0, x1: net_in[:, y0:y1, x0:x1], net_in.shape,
                                tile=max(height, width), precision="fp32", halo=None)


def _unit(out: np.ndarray, clip: bool) -> np.ndarray:
    unit = (out.astype(np.float32) + 1.0) / 2.0
    return (np.clip(unit, 0.0, 1.0) if clip else unit).astype(np.float32)


def _window_step_tensors(method: "Method", image: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """fundus2video: the photo at the working size, the condition of window 1 (window 0's frames)
    and window 1's frames, each window run as ``iter_frames`` runs it."""
    from skimage.transform import resize

    working = getattr(method.config, "working_size", None)
    photo = image.astype(np.float32)
    if working is not None and max(photo.shape[:2]) != working:
        factor = working / max(photo.shape[:2])
        shape = (max(1, round(photo.shape[0] * factor)), max(1, round(photo.shape[1] * factor)), photo.shape[2])
        photo = resize(photo, shape, order=1, anti_aliasing=factor < 1, preserve_range=True).astype(np.float32)
    photo_chw = np.moveaxis(photo, -1, 0)
    photo_net = intensity_range(photo_chw).to_network(photo_chw)
    first = _unit(_generator_output(method, np.concatenate([photo_net, photo_net])), True)
    second = _unit(_generator_output(method, np.concatenate([photo_net, first * 2.0 - 1.0])), True)
    return {"photo": photo_chw[None], "condition": first[None]}, second[None]


def _write_files(folder: Path, network: torch.nn.Module, test_inputs: dict[str, np.ndarray],
                 test_output: np.ndarray) -> dict[str, Path]:
    """Weights (state dict, TorchScript), test tensors (.npy) and the same tensors as TIFF images
    (for people and viewers: FAIR's sample tensors)."""
    files = {"weights.pt": folder / "weights.pt", "weights_torchscript.pt": folder / "weights_torchscript.pt"}
    torch.save(network.state_dict(), files["weights.pt"])
    examples = tuple(torch.zeros(tensor.shape) for tensor in test_inputs.values())  # only their shapes matter
    # instance norm's check that a plane has more than one pixel is traced as a constant (harmless:
    # every size the package allows has many pixels); torch warns about it, users need not see it
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        traced = torch.jit.trace(network, examples, check_trace=False)
    traced.save(str(files["weights_torchscript.pt"]))
    for tensor_id, tensor in [*test_inputs.items(), ("output", test_output)]:
        files[f"test_{tensor_id}.npy"] = folder / f"test_{tensor_id}.npy"
        np.save(files[f"test_{tensor_id}.npy"], tensor)
        files[f"sample_{tensor_id}.tif"] = folder / f"sample_{tensor_id}.tif"
        tifffile.imwrite(files[f"sample_{tensor_id}.tif"], tensor, compression="zlib", photometric="minisblack")
    return files


# -------------------------------------------------------------------------------- description
def _describe(method: "Method", plan: PackagePlan, folder: Path, files: dict[str, Path], import_from: str,
              name: str, kwargs: dict[str, Any], test_inputs: dict[str, np.ndarray], test_output: np.ndarray):
    from bioimageio.spec.model import v0_5

    stride = int(getattr(method.generator, "stride", 4))
    step = max(1, stride // plan.upscale)  # input pixels; the network's stride at the output
    minimum = -(-(2 * OUTPUT_HALO // plan.upscale + 16) // step) * step  # rounded up to the step
    first_id = v0_5.TensorId(next(iter(test_inputs)))
    working = getattr(method.config, "working_size", None)

    def channel_axis(tensor_id: str, channels: int):
        names = ("t0", "t1", "t2") if tensor_id in ("condition", "output") and plan.window_step else \
            ("r", "g", "b") if channels == 3 else ("c",)
        return v0_5.ChannelAxis(channel_names=[v0_5.Identifier(c) for c in names])

    def space_axes(tensor_id: str) -> list[Any]:
        if tensor_id == first_id:
            return [v0_5.SpaceInputAxis(id=v0_5.AxisId(a), size=v0_5.ParameterizedSize(min=minimum, step=step))
                    for a in ("y", "x")]
        return [v0_5.SpaceInputAxis(id=v0_5.AxisId(a), size=v0_5.SizeReference(tensor_id=first_id,
                                                                                   axis_id=v0_5.AxisId(a)))
                for a in ("y", "x")]

    inputs = [v0_5.InputTensorDescr(
        id=v0_5.TensorId(tensor_id),
        description=CONDITION_TEXT if tensor_id == "condition" else plan.input_text.format(working=working),
        axes=[v0_5.BatchAxis(), channel_axis(tensor_id, tensor.shape[1]), *space_axes(tensor_id)],
        test_tensor=v0_5.FileDescr(source=files[f"test_{tensor_id}.npy"]),
        sample_tensor=v0_5.FileDescr(source=files[f"sample_{tensor_id}.tif"]),
        data=v0_5.IntervalOrRatioDataDescr(type="float32"),
        preprocessing=_preprocessing(v0_5, plan, tensor_id),
    ) for tensor_id, tensor in test_inputs.items()]
    # a halo makes tools pad the referenced input only; a second input (the window step's condition)
    # would then no longer match the first, so a window step has none
    halo = {} if len(test_inputs) > 1 else {"halo": OUTPUT_HALO}
    output_axes = [
        v0_5.BatchAxis(),
        channel_axis("output", test_output.shape[1]),
        *((v0_5.SpaceOutputAxisWithHalo if halo else v0_5.SpaceOutputAxis)(
            id=v0_5.AxisId(axis), scale=1.0 / plan.upscale, **halo,
            size=v0_5.SizeReference(tensor_id=first_id, axis_id=v0_5.AxisId(axis))) for axis in ("y", "x")),
    ]
    outputs = [v0_5.OutputTensorDescr(
        id=v0_5.TensorId("output"), description=plan.output_text, axes=output_axes,
        test_tensor=v0_5.FileDescr(source=files["test_output.npy"]),
        sample_tensor=v0_5.FileDescr(source=files["sample_output.tif"]),
        data=v0_5.IntervalOrRatioDataDescr(type="float32"),
        postprocessing=_postprocessing(v0_5, plan),
    )]
    # the cover: input and output split along the diagonal (a window step's output: its first frame)
    cover_output = test_output[:, :1] if plan.window_step else test_output
    covers = v0_5.generate_covers([(inputs[0], next(iter(test_inputs.values())))], [(outputs[0], cover_output)])
    readme = folder / "README.md"
    readme.write_text(_readme(method, plan, minimum, step, test_inputs, test_output, name), encoding="utf-8")
    pytorch_version = v0_5.Version(torch.__version__.split("+")[0])
    weights = v0_5.WeightsDescr(
        pytorch_state_dict=v0_5.PytorchStateDictWeightsDescr(
            source=files["weights.pt"], pytorch_version=pytorch_version,
            architecture=v0_5.ArchitectureFromLibraryDescr(import_from=import_from, callable=v0_5.Identifier(name),
                                                           kwargs=kwargs),
            comment=f"fp32 state dict of the napari-vesselgan {method.name} generator "
                    f"(from {Path(str(method.weights)).name if method.weights else 'untrained weights'}); "
                    "needs napari-vesselgan installed",
        ),
        torchscript=v0_5.TorchscriptWeightsDescr(
            source=files["weights_torchscript.pt"], pytorch_version=pytorch_version, parent="pytorch_state_dict",
            comment="traced from the pytorch_state_dict network (torch.jit.trace)",
        ),
    )
    cite = plan.cite
    return v0_5.ModelDescr(
        name=f"napari-vesselgan {method.name}",  # the spec: at most 64 letters, digits, _+- ()
        description=f"{plan.title}. {method.summary}; exported by napari-vesselgan {__version__}.",
        authors=[v0_5.Author(name=AUTHORS)],
        cite=[v0_5.CiteEntry(text=cite.text, doi=cite.doi, url=cite.url)],
        license=LICENSE,
        documentation=v0_5.FileDescr(source=readme),
        covers=covers,
        tags=list(plan.tags),
        version=__version__,
        inputs=inputs,
        outputs=outputs,
        weights=weights,
        config=v0_5.Config(**{CONFIG_KEY: {
            "method": method.name,
            "config": method.config.model_dump(mode="json"),
            "provenance": _jsonable(method.provenance),
            "napari_vesselgan": __version__,
            "weights": Path(str(method.weights)).name if method.weights else None,
        }}),
    )


def _preprocessing(v0_5, plan: PackagePlan, tensor_id: str) -> list[Any]:
    if tensor_id == "condition":  # frames in [0, 1] -> the network's [-1, 1]
        return [v0_5.ScaleLinearDescr(kwargs=v0_5.ScaleLinearKwargs(gain=2.0, offset=-1.0))]
    if plan.input_mapping == "mask":
        first = v0_5.BinarizeDescr(kwargs=v0_5.BinarizeKwargs(threshold=0.0))
    else:
        first = v0_5.ScaleRangeDescr(kwargs=v0_5.ScaleRangeKwargs(
            axes=[v0_5.AxisId(a) for a in ("channel", "y", "x")], min_percentile=0.0, max_percentile=100.0))
    return [first, v0_5.ScaleLinearDescr(kwargs=v0_5.ScaleLinearKwargs(gain=2.0, offset=-1.0))]


def _postprocessing(v0_5, plan: PackagePlan) -> list[Any]:
    steps: list[Any] = [v0_5.ScaleLinearDescr(kwargs=v0_5.ScaleLinearKwargs(gain=0.5, offset=0.5))]
    if plan.clip_output:
        steps.append(v0_5.ClipDescr(kwargs=v0_5.ClipKwargs(min=0.0, max=1.0)))
    return steps


def _jsonable(value: Any) -> Any:
    import json

    return json.loads(json.dumps(value, default=str))


def _readme(method: "Method", plan: PackagePlan, minimum: int, step: int, test_inputs: dict[str, np.ndarray],
            test_output: np.ndarray, network_name: str) -> str:
    """The package's README: what it does, its intensity mapping, the model card, a Validation section."""
    card_path = method.default_weights().with_suffix(".md")
    bundled = method.weights is not None and Path(str(method.weights)).resolve() == method.default_weights().resolve()
    if bundled and card_path.is_file():
        card = re.sub(r"^(#+ )", r"#\1", card_path.read_text(encoding="utf-8"), flags=re.MULTILINE)  # one level down
    else:
        card = ("## Model card\n\nThese weights are not the bundled default weights, so the bundled model card does not "
                f"describe them. Provenance recorded with them:\n\n```\n{_jsonable(method.provenance)}\n```\n")
    mapping = ("any value above 0 becomes 1 (`binarize`, threshold 0), then `2x - 1`" if plan.input_mapping == "mask"
               else "each image is scaled by its own minimum and maximum over channels, y and x (`scale_range`, "
                    "percentiles 0 and 100) to [0, 1], then `2x - 1`")
    post = "`(y + 1) / 2`" + (", clipped to [0, 1]" if plan.clip_output else "")
    working = getattr(method.config, "working_size", None)
    inputs_text = plan.input_text.format(working=working)
    if "condition" in test_inputs:
        inputs_text = f"`photo`, {inputs_text}; `condition`, {CONDITION_TEXT} (pre-processing `2x - 1`)"
    tiling = ("" if len(test_inputs) > 1 else
              f"; tools that tile crop a halo of {OUTPUT_HALO} output pixels from each tile's borders")
    shapes = ", ".join(f"{tensor_id} {tuple(tensor.shape)}" for tensor_id, tensor in test_inputs.items())
    sizes = (f"y and x of at least {minimum} px in steps of {step} (the network's stride); the output is "
             + ("4x the input" if plan.upscale != 1 else "the input's size"))
    return f"""# {plan.title}

{method.summary}. Exported from napari-vesselgan {__version__} (`vesselgan export {method.name}`); the network
is `{network_name}` of that package, so the `pytorch_state_dict` weights need napari-vesselgan installed;
the `torchscript` weights need only PyTorch.

- Input{"s" if len(test_inputs) > 1 else ""}: {inputs_text}; axes (batch, channel, y, x); {sizes}.
- Output: {plan.output_text}.
- Pre-processing: {mapping}. Post-processing: {post}.
- What the spec cannot say: {plan.cannot_say}
- Tiling: y and x take `min + n * step` pixels{tiling}. The generator normalises with instance norm, so a tile is normalised by its own
  statistics and tiles can differ in brightness: predict whole images where memory allows
  (`vesselgan predict` tiles with whole-image statistics, seamlessly).
- Open this package in napari-vesselgan: `methods.load("{method.name}", weights="MODEL.zip")`,
  `vesselgan predict {method.name} IN -o OUT --weights MODEL.zip`, or the dock's weights chooser.

# Validation

The test tensors are the bundled sample `{plan.sample}` ({shapes}) and the output
napari-vesselgan's own prediction code gives for it ({tuple(test_output.shape)}); `bioimageio test MODEL.zip`
reproduces that output from both weight formats within the spec's default tolerance.
To validate on your own data quantitatively, run `vesselgan evaluate {method.name}` (napari-vesselgan's
measured evaluation, real images first) or compare the output with reference images by PSNR / SSIM.
The model card below reports the figures measured for the bundled weights.

{card}
"""
