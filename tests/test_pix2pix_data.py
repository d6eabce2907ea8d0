"""pix2pix datasets: the embedded procedural facades, aligned_folder, paired_folders, and each bad input."""

from __future__ import annotations

import warnings

import pytest
import torch
from PIL import Image

from ganzoo.errors import DataError, SplitNotFound
from ganzoo.images import to_tensor
from ganzoo_pix2pix.facades import PALETTE, SPLITS, FacadesSynthetic
from ganzoo_pix2pix.folders import AlignedFolder, PairedFolders

SMALL = {"load_size": 32, "crop_size": 32}


def _save(path, colour, size=(16, 16), mode="RGB"):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, colour).save(path)
    return path


def _side_by_side(path, left, right, height=16):
    img = Image.new("RGB", (2 * height, height), left)
    img.paste(Image.new("RGB", (height, height), right), (height, 0))
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)
    return path


def _corrupt(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"not an image")
    return path


def _truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


# facades_synthetic ----------------------------------------------------------------------------------------------
def test_facades_are_deterministic_and_splits_held_out():
    a = FacadesSynthetic(split="test", image_size=32, **SMALL)
    b = FacadesSynthetic(split="test", image_size=32, **SMALL)
    for i in (0, 5):
        assert torch.equal(a[i]["A"], b[i]["A"]) and torch.equal(a[i]["B"], b[i]["B"])
    assert not torch.equal(a[0]["A"], a[1]["A"])
    train = FacadesSynthetic(split="train", image_size=32, flip=False, **SMALL)
    assert not torch.equal(train.draw(0)[0], a.draw(0)[0])
    other_seed = FacadesSynthetic(split="test", image_size=32, seed=1, **SMALL)
    assert not torch.equal(other_seed.draw(0)[0], a.draw(0)[0])
    assert {s: len(FacadesSynthetic(split=s)) for s in SPLITS} == {"train": 400, "val": 100, "test": 106}


def test_facades_items_and_transforms():
    ds = FacadesSynthetic(split="train", image_size=64, load_size=72, crop_size=64)
    item = ds[3]
    assert FacadesSynthetic.keys == ("A", "B") and set(item) == {"A", "B"}
    assert item["A"].shape == item["B"].shape == (3, 64, 64)
    assert item["A"].min() >= -1 and item["A"].max() <= 1
    gray = FacadesSynthetic(split="test", image_size=32, grayscale=True, **SMALL)[0]
    assert gray["A"].shape == gray["B"].shape == (1, 32, 32)
    with pytest.raises(SplitNotFound, match="no split 'valid'"):
        FacadesSynthetic(split="valid")


def test_facades_label_maps_use_the_palette_only():
    photo, labels = FacadesSynthetic(split="test", image_size=64).draw(2)
    colours = labels.permute(1, 2, 0).reshape(-1, 3).unique(dim=0)
    palette = {tuple(c) for c in PALETTE.tolist()}
    assert {tuple(c) for c in colours.tolist()} <= palette
    assert len(colours) >= 5  # a building has several element classes


def test_facades_rendering_is_not_a_colour_lookup():
    """The best per-label-colour constant leaves a large residual: textures and shading depend on context."""
    photo, labels = FacadesSynthetic(split="test", image_size=128).draw(0)
    photo = photo.float().reshape(3, -1) / 255
    keys = labels.reshape(3, -1).to(torch.int64)
    code = keys[0] * 65536 + keys[1] * 256 + keys[2]
    residual = torch.zeros_like(photo)
    for c in code.unique():
        mask = code == c
        residual[:, mask] = photo[:, mask] - photo[:, mask].mean(1, keepdim=True)
    assert residual.abs().mean() > 0.04  # sensor noise alone is about 0.01


# aligned_folder ----------------------------------------------------------------------------------------------
def test_aligned_folder_cuts_a_and_b(tmp_path):
    for i in range(3):
        _side_by_side(tmp_path / "train" / f"{i}.png", (255, 0, 0), (0, 0, 255))
    ds = AlignedFolder(root=str(tmp_path), preprocess="none", flip=False)
    item = ds[0]
    assert len(ds) == 3 and item["A"].shape == (3, 16, 16)
    assert torch.allclose(item["A"], to_tensor(Image.new("RGB", (16, 16), (255, 0, 0))))
    assert torch.allclose(item["B"], to_tensor(Image.new("RGB", (16, 16), (0, 0, 255))))
    gray = AlignedFolder(root=str(tmp_path), grayscale=True, **SMALL)[1]
    assert gray["A"].shape == (1, 32, 32)


def test_aligned_folder_train_augments_test_does_not(tmp_path):
    img = Image.new("RGB", (64, 32))
    img.putdata([(x * 4, y * 8, 0) for y in range(32) for x in range(64)])
    for split in ("train", "test"):
        (tmp_path / split).mkdir()
        img.save(tmp_path / split / "g.png")
    train = AlignedFolder(root=str(tmp_path), load_size=36, crop_size=32)
    test = AlignedFolder(root=str(tmp_path), split="test", load_size=36, crop_size=32)
    torch.manual_seed(0)
    crops = {train[0]["A"].sum().item() for _ in range(8)}
    assert len(crops) > 1
    assert len({test[0]["A"].sum().item() for _ in range(3)}) == 1


def test_aligned_folder_missing_and_empty(tmp_path):
    with pytest.raises(DataError, match=r"nowhere does not exist") as info:
        AlignedFolder(root=str(tmp_path / "nowhere"))
    assert "side by side" in info.value.hint
    (tmp_path / "train").mkdir()
    with pytest.raises(DataError, match=r"no images in .*train") as info:
        AlignedFolder(root=str(tmp_path))
    assert "ROOT/train/" in info.value.hint
    with pytest.raises(SplitNotFound, match="no test split"):
        AlignedFolder(root=str(tmp_path), split="test")


def test_aligned_folder_odd_width(tmp_path):
    _side_by_side(tmp_path / "train" / "ok.png", (0, 0, 0), (9, 9, 9))
    _save(tmp_path / "train" / "odd.png", (0, 0, 0), size=(33, 16))
    with pytest.raises(DataError, match=r"1 image\(s\) .* odd width.*odd\.png \(33 px\)"):
        AlignedFolder(root=str(tmp_path))


def test_aligned_folder_corrupt_images(tmp_path):
    for i in range(3):
        _side_by_side(tmp_path / "train" / f"{i}.png", (i * 50, 0, 0), (0, 0, 0))
    _corrupt(tmp_path / "train" / "bad.png")
    ds = AlignedFolder(root=str(tmp_path), **SMALL)
    assert len(ds) == 3 and [p.name for p, _ in ds.skipped] == ["bad.png"]
    with pytest.raises(DataError, match="bad.png"):
        AlignedFolder(root=str(tmp_path), strict=True)


def test_truncated_image_found_while_loading_is_replaced(tmp_path):
    for i in range(3):
        _side_by_side(tmp_path / "train" / f"{i}.png", (i * 100, 0, 0), (0, 0, 0))
    _truncate(tmp_path / "train" / "1.png")
    ds = AlignedFolder(root=str(tmp_path), preprocess="none", flip=False)
    assert len(ds) == 3  # the header reads: only decoding finds it
    with pytest.warns(RuntimeWarning, match="1.png.*next pair"):
        item = ds[1]
    assert torch.equal(item["A"], ds[2]["A"])  # replaced by the next pair, not a crash
    assert [p.name for p, _ in ds.skipped] == ["1.png"]
    with pytest.raises(DataError, match="1.png"):  # strict decodes every file up front: before training
        AlignedFolder(root=str(tmp_path), preprocess="none", strict=True)


# paired_folders ----------------------------------------------------------------------------------------------
def test_paired_folders_match_names_across_suffixes(tmp_path):
    for name, colour in (("x", (255, 0, 0)), ("sub/y", (0, 255, 0))):
        _save(tmp_path / "A" / "train" / f"{name}.jpg", colour)
        _save(tmp_path / "B" / "train" / f"{name}.png", tuple(255 - c for c in colour), size=(32, 32))
    ds = PairedFolders(root=str(tmp_path), preprocess="none", flip=False)
    assert len(ds) == 2
    item = ds[0]  # "sub/y" sorts first; B is brought to A's size
    assert item["A"].shape == item["B"].shape == (3, 16, 16)
    assert item["A"][1].mean() > 0.9 and item["B"][1].mean() < -0.9
    with pytest.raises(SplitNotFound):
        PairedFolders(root=str(tmp_path), split="test")


def test_paired_folders_unpaired_names_are_listed(tmp_path):
    for name in ("1", "2", "3"):
        _save(tmp_path / "A" / "train" / f"{name}.png", (0, 0, 0))
    _save(tmp_path / "B" / "train" / "1.png", (0, 0, 0))
    _save(tmp_path / "B" / "train" / "9.png", (0, 0, 0))
    with pytest.raises(DataError, match=r"unpaired images: 2 only in .*A/train \(2, 3\); 1 only in .*B/train \(9\)"):
        PairedFolders(root=str(tmp_path))


def test_paired_folders_bad_layouts(tmp_path):
    _save(tmp_path / "A" / "train" / "1.png", (0, 0, 0))
    with pytest.raises(DataError, match=r"B does not exist") as info:
        PairedFolders(root=str(tmp_path))
    assert "ROOT/A/<split>/" in info.value.hint
    _save(tmp_path / "B" / "train" / "1.png", (0, 0, 0))
    _save(tmp_path / "B" / "train" / "1.jpg", (0, 0, 0))
    with pytest.raises(DataError, match="same name"):
        PairedFolders(root=str(tmp_path))


def test_paired_folders_corrupt_pairs_skipped(tmp_path):
    for name in ("1", "2"):
        _save(tmp_path / "A" / "train" / f"{name}.png", (0, 0, 0))
        _save(tmp_path / "B" / "train" / f"{name}.png", (0, 0, 0))
    _save(tmp_path / "A" / "train" / "3.png", (0, 0, 0))
    _corrupt(tmp_path / "B" / "train" / "3.png")
    ds = PairedFolders(root=str(tmp_path), **SMALL)
    assert len(ds) == 2 and [p.name for p, _ in ds.skipped] == ["3.png"]
    with pytest.raises(DataError, match="3.png"):
        PairedFolders(root=str(tmp_path), strict=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert ds[1]["A"].shape == (3, 32, 32)


def test_facades_render_at_the_smallest_size():
    """Thin elements at 16 px gave 1-row textures that used to be mistaken for solid colours (a crash)."""
    ds = FacadesSynthetic(split="train", image_size=16, load_size=16, crop_size=16)
    for i in range(100):
        item = ds[i]
        assert item["A"].shape == item["B"].shape == (3, 16, 16)
