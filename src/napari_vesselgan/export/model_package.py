"""Open a BioImage.io model package exported by napari-vesselgan, without running anything in it.

``methods.load(name, weights="MODEL.zip")`` (and so ``vesselgan predict --weights`` and the docks'
weights chooser) comes here. The package is read in place (nothing is extracted): its
``rdf.yaml`` with PyYAML's safe loader (YAML 1.2 booleans); the architecture it names must be one of ours
(``export.architectures``) and is checked before anything is imported; the
``pytorch_state_dict`` weights are read with ``torch.load(weights_only=True)`` and must be a
plain mapping of names to tensors; the method and configuration recorded in
``config.napari_vesselgan`` must be the method asked for and must build the same network.
Needs no bioimageio library: opening a package works with the base install.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
import yaml
from pydantic import ValidationError

from napari_vesselgan.engine.checkpoint import CheckpointError, load_network
from napari_vesselgan.export.architectures import is_ours, prediction_architecture
from napari_vesselgan.nn.architecture import architecture_of

if TYPE_CHECKING:
    from napari_vesselgan.methods.base import Method

RDF_NAMES = ("rdf.yaml", "bioimageio.yaml")
#: The key of our record in the package's ``config``.
CONFIG_KEY = "napari_vesselgan"
#: Network kwargs that change how weights are stored, not what the network computes.
STORAGE_KWARGS = frozenset({"spectral"})


@dataclass(frozen=True)
class PackagedModel:
    """What a package of ours holds: the method's config, the provenance and the loaded generator."""

    method: str
    config: dict[str, Any]
    provenance: dict[str, Any]
    generator: torch.nn.Module


def is_model_package(path: str | os.PathLike) -> bool:
    """Whether ``path`` is meant as a model package: a ``.zip`` file, or any zip holding an ``rdf.yaml``."""
    path = Path(path)
    if path.suffix.lower() == ".zip":
        return True
    try:
        with zipfile.ZipFile(path) as archive:
            return any(Path(name).name in RDF_NAMES for name in archive.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


def _rdf_name(names: list[str]) -> str | None:
    for candidate in RDF_NAMES:
        if candidate in names:
            return candidate
    return next((name for name in names if name.endswith(".bioimageio.yaml")), None)


def read_model_package(path: str | os.PathLike, *, expected_method: str | None = None) -> tuple[dict[str, Any], PackagedModel]:
    """The package's description and its network with the weights loaded; refuses what is not ours."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such model package")
    try:
        with zipfile.ZipFile(path) as archive:
            broken = archive.testzip()
            if broken is not None:
                raise CheckpointError(f"{path}: damaged zip file ({broken} fails its checksum)")
            names = archive.namelist()
            rdf_name = _rdf_name(names)
            if rdf_name is None:
                raise CheckpointError(f"{path}: a zip file without rdf.yaml, not a BioImage.io model package")
            rdf = _parse_rdf(path, archive.read(rdf_name))
            entry = _state_dict_entry(path, rdf)
            record = _our_record(path, rdf, expected_method)
            source = str(entry.get("source", ""))
            if source not in names:
                raise CheckpointError(f"{path}: the weights file {source!r} named in {rdf_name} is not in the package")
            data = archive.read(source)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError) as error:
        raise CheckpointError(f"{path}: damaged or unreadable zip file, not a BioImage.io model package ({error})") from None
    expected_hash = entry.get("sha256")
    if expected_hash and hashlib.sha256(data).hexdigest() != str(expected_hash):
        raise CheckpointError(f"{path}: the weights file {source!r} does not match its sha256 in the package (damaged)")
    state = _plain_state_dict(path, data)
    architecture = entry["architecture"]
    cls, kwargs = prediction_architecture(architecture["import_from"], architecture["callable"], architecture["kwargs"])
    try:
        generator = cls(**kwargs)
    except (TypeError, ValueError) as error:
        raise CheckpointError(f"{path}: the package's network arguments do not build {cls.__name__} ({error})") from None
    load_network(generator, state, name=f"{path.name} network")
    return rdf, PackagedModel(record["method"], dict(record.get("config") or {}), dict(record.get("provenance") or {}),
                              generator.eval())


def load_packaged_method(path: str | os.PathLike, method_class: type["Method"], device: str | torch.device) -> "Method":
    """A ``method_class`` instance predicting with the package's network (``methods.load`` with a zip)."""
    path = Path(path)
    _, packaged = read_model_package(path, expected_method=method_class.name)
    try:
        config = method_class.config_class(**packaged.config)
    except ValidationError as error:
        raise CheckpointError(f"{path}: the package's {method_class.name} configuration is invalid "
                              f"({error.errors()[0]['msg']})") from None
    _check_same_network(path, method_class.build_generator(config), packaged.generator)
    return method_class(config, packaged.generator, device=device, weights=path, provenance=packaged.provenance)


class _Yaml12Loader(yaml.SafeLoader):
    """``yaml.SafeLoader`` with YAML 1.2's booleans (bioimageio writes YAML 1.2): only true / false,
    so that a string such as ``off`` or ``no`` (superres's ``perceptual: off``) stays a string."""


_Yaml12Loader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Yaml12Loader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                                    list("tTfF"))


def _parse_rdf(path: Path, raw: bytes) -> dict[str, Any]:
    try:
        rdf = yaml.load(raw.decode("utf-8"), Loader=_Yaml12Loader)  # noqa: S506 - a SafeLoader
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise CheckpointError(f"{path}: unreadable rdf.yaml ({str(error).splitlines()[0]})") from None
    if not isinstance(rdf, dict) or rdf.get("type") != "model":
        raise CheckpointError(f"{path}: rdf.yaml does not describe a model")
    return rdf


def _state_dict_entry(path: Path, rdf: dict[str, Any]) -> dict[str, Any]:
    """The ``pytorch_state_dict`` weights entry, its architecture checked to be ours (nothing imported yet)."""
    weights = rdf.get("weights") or {}
    entry = weights.get("pytorch_state_dict") if isinstance(weights, dict) else None
    if not isinstance(entry, dict):
        raise CheckpointError(f"{path}: the package has no pytorch_state_dict weights, which napari-vesselgan needs")
    architecture = entry.get("architecture")
    if not isinstance(architecture, dict) or "import_from" not in architecture or "callable" not in architecture:
        where = "a source file" if isinstance(architecture, dict) and "source" in architecture else "no importable network"
        raise CheckpointError(f"{path}: the package's architecture is {where}, not one of napari-vesselgan's networks; "
                              "refused without running it")
    name = f"{architecture['import_from']}.{architecture['callable']}"
    if not is_ours(str(architecture["import_from"]), str(architecture["callable"])):
        raise CheckpointError(f"{path}: the package's architecture {name} is not one of napari-vesselgan's networks; "
                              "refused without importing it")
    if not isinstance(architecture.get("kwargs", {}), dict):
        raise CheckpointError(f"{path}: the package's network arguments are not a mapping")
    architecture.setdefault("kwargs", {})
    return entry


def _our_record(path: Path, rdf: dict[str, Any], expected_method: str | None) -> dict[str, Any]:
    record = (rdf.get("config") or {}).get(CONFIG_KEY) if isinstance(rdf.get("config"), dict) else None
    if not isinstance(record, dict) or "method" not in record:
        raise CheckpointError(f"{path}: the package has no config.{CONFIG_KEY} record of its method and configuration")
    if expected_method is not None and record["method"] != expected_method:
        raise CheckpointError(f"{path}: this package is for method {record['method']!r}, not {expected_method!r}")
    return record


def _plain_state_dict(path: Path, data: bytes) -> dict[str, torch.Tensor]:
    """``torch.load(weights_only=True)``: tensors and containers only, no code; then a flat name -> tensor map."""
    try:
        state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, AttributeError, TypeError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise CheckpointError(f"{path}: the pytorch_state_dict weights are not a plain state dict; refused by "
                              f"torch.load(weights_only=True) without running them ({first})") from None
    if not isinstance(state, dict) or not all(isinstance(k, str) and torch.is_tensor(v) for k, v in state.items()):
        raise CheckpointError(f"{path}: the pytorch_state_dict weights are not a mapping of parameter names to tensors")
    return state


def _check_same_network(path: Path, reference: torch.nn.Module, packaged: torch.nn.Module) -> None:
    """The package's network must be the one the method's configuration builds (storage details aside)."""
    _, ref_name, ref_kwargs = architecture_of(reference)
    _, name, kwargs = architecture_of(packaged)
    differing = sorted(key for key in set(ref_kwargs) | set(kwargs)
                       if key not in STORAGE_KWARGS and ref_kwargs.get(key) != kwargs.get(key))
    if ref_name != name or differing:
        raise CheckpointError(f"{path}: the package's network ({name}) is not the one its configuration builds "
                              f"({ref_name}; differing: {', '.join(differing) or 'class'})")
