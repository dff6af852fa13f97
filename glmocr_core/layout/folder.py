"""The layout-model folder check: everything wrong with a PP-DocLayoutV3 folder, read from file names, its JSON
files and the safetensors headers only (never tensor data, no torch), so the window's model manager and the command
line can say what is wrong before anything loads.

The file names are the published repository's (``checkpoint.hub.LAYOUT_MODEL``). A GLM-OCR folder, or any other
model, given where the layout model belongs is named as what it is.
"""

from __future__ import annotations

from pathlib import Path

from ..checkpoint.check import checked_folder_state, read_config_object, read_weight_shapes, require_folder
from ..checkpoint.hub import LAYOUT_MODEL
from ..checkpoint.layout import CONFIG_FILE, PREPROCESSOR_FILE, WEIGHTS_FILE, Problem, read_marker
from ..errors import GlmOcrError, ModelError
from .config import MODEL_TYPE, LayoutConfig, load_layout_preprocessor_config

# model_type values of folders that users mistake for the layout model
OTHER_MODELS = {"glm_ocr": "the GLM-OCR recognition model"}
DECODER_LAYER = "model.decoder.layers."


def check_layout_dir(path: str | Path) -> list[Problem]:
    """Everything wrong with a layout-model folder; an empty list means it looks like a complete PP-DocLayoutV3."""
    folder = Path(path)
    if not folder.is_dir():
        return [Problem(str(folder), "the layout model folder does not exist")]
    problems = _missing(folder) + _marker_problems(folder)
    config, config_problem = _config(folder) if (folder / CONFIG_FILE).is_file() else (None, None)
    problems += [config_problem] if config_problem else []
    problems += _preprocessor_problems(folder)
    if config is not None and not _missing(folder):
        problems += _weight_problems(folder, config)
    return problems


def require_layout_dir(path: str | Path) -> Path:
    """``check_layout_dir`` for callers that must stop: raises ModelError listing every problem."""
    return require_folder(path, check_layout_dir, f"layout model ({LAYOUT_MODEL.repo_id})")


def layout_folder_state(path: str | Path | None) -> tuple[str, list[Problem]]:
    """("missing" | "problems" | "ready", problems), as ``checkpoint.check.folder_state`` for GLM-OCR."""
    return checked_folder_state(path, check_layout_dir)


def _missing(folder: Path) -> list[Problem]:
    problems = []
    for item in LAYOUT_MODEL.required:
        if (folder / item.name).is_file() or (item.alternative and (folder / item.alternative).is_file()):
            continue
        instead = f" (or {item.alternative})" if item.alternative else ""
        problems.append(Problem(item.name, f"missing: the {item.purpose} file{instead} is not in the folder"))
    return problems


def _config(folder: Path) -> tuple[LayoutConfig | None, Problem | None]:
    data, problem = read_config_object(folder)
    if problem is not None:
        return None, problem
    model_type = data.get("model_type")
    if model_type != MODEL_TYPE:
        what = OTHER_MODELS.get(model_type, f"a model of type {model_type!r}")
        return None, Problem(CONFIG_FILE, f"this folder holds {what}, not the PP-DocLayoutV3 layout model "
                                          f"(model_type '{MODEL_TYPE}', {LAYOUT_MODEL.repo_id})")
    try:
        return LayoutConfig.from_dict(data, CONFIG_FILE), None
    except GlmOcrError as exc:
        return None, Problem(CONFIG_FILE, exc.reason)


def _preprocessor_problems(folder: Path) -> list[Problem]:
    if not (folder / PREPROCESSOR_FILE).is_file():
        return []  # optional: the image processor's defaults apply
    try:
        load_layout_preprocessor_config(folder)
    except ModelError as exc:
        return [Problem(PREPROCESSOR_FILE, exc.reason)]
    return []


def _weight_problems(folder: Path, config: LayoutConfig) -> list[Problem]:
    """A few telling tensors against config.json: the class head (labels, width) and the decoder's depth. The
    loader checks every name and shape when it loads; this catches a mismatched pair of files early."""
    shapes, problems = read_weight_shapes(folder)
    if problems or not shapes:
        return problems
    where = WEIGHTS_FILE if (folder / WEIGHTS_FILE).is_file() else "the weight shards"
    head = shapes.get("model.enc_score_head.weight")
    if head is None:
        return [Problem(where, "tensor model.enc_score_head.weight is missing: these are not PP-DocLayoutV3 weights")]
    if head != [config.num_labels, config.d_model]:
        problems.append(Problem(where, f"the class head has shape {head} but config.json implies "
                                       f"{[config.num_labels, config.d_model]}: the config does not match the weights"))
    layers = {int(name[len(DECODER_LAYER):].split(".")[0]) for name in shapes if name.startswith(DECODER_LAYER)}
    if layers != set(range(config.decoder_layers)):
        problems.append(Problem(where, f"holds {len(layers)} decoder layers but config.json says decoder_layers = "
                                       f"{config.decoder_layers}"))
    return problems


def _marker_problems(folder: Path) -> list[Problem]:
    """A file whose size changed since its download was verified has been damaged or replaced."""
    marker = read_marker(folder) or {"files": {}}
    return [Problem(name, f"is {(folder / name).stat().st_size} bytes but the verified download was "
                          f"{meta.get('size')} bytes: the file changed after download")
            for name, meta in marker["files"].items()
            if (folder / name).is_file() and isinstance(meta, dict)
            and (folder / name).stat().st_size != meta.get("size")]
