"""Unconditional image datasets: fashion_mnist (local IDX files), image_folder, the embedded shapes."""

import gzip

import pytest
import torch
from PIL import Image

from ganzoo.errors import DataError, SplitNotFound
from ganzoo_wgan.fashion_mnist import FashionMNIST
from ganzoo_wgan.folder import ImageFolder
from ganzoo_wgan.shapes import Shapes


def write_idx(path, images, compress):
    """An IDX3 unsigned-byte file, as Fashion-MNIST ships them."""
    n, h, w = images.shape
    data = bytes([0, 0, 8, 3]) + b"".join(v.to_bytes(4, "big") for v in (n, h, w)) + bytes(images.flatten().tolist())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(data) if compress else data)


@pytest.fixture
def images():
    x = torch.zeros(3, 28, 28, dtype=torch.uint8)
    x[0, 10:18, 10:18] = 255
    x[1] = 128
    return x


@pytest.mark.parametrize("layout,compress", [("", True), ("", False), ("FashionMNIST/raw/", False),
                                             ("FashionMNIST/raw/", True)])
def test_fashion_mnist_reads_a_tiny_idx_file(tmp_path, images, layout, compress):
    suffix = ".gz" if compress else ""
    write_idx(tmp_path / f"{layout}train-images-idx3-ubyte{suffix}", images, compress)
    data = FashionMNIST(root=str(tmp_path))
    assert len(data) == 3
    x = data[0]["x"]
    assert x.shape == (1, 32, 32)
    assert x[0, 0, 0] == -1.0  # padding is background black
    assert x[0, 14, 14] == 1.0  # 255 -> 1, shifted by the 2-pixel pad
    assert torch.allclose(data[1]["x"][0, 2:30, 2:30], torch.full((28, 28), 128 / 127.5 - 1), atol=1e-6)


def test_fashion_mnist_resize_channels_and_test_split(tmp_path, images):
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", images[:2], True)
    data = FashionMNIST(split="test", root=str(tmp_path), image_size=16, channels=3)
    x = data[0]["x"]
    assert len(data) == 2 and x.shape == (3, 16, 16)
    assert torch.equal(x[0], x[2]) and x.min() >= -1 and x.max() <= 1 and x.max() > 0.5
    with pytest.raises(SplitNotFound):
        FashionMNIST(split="val", root=str(tmp_path))


def test_fashion_mnist_at_28_px_keeps_the_original_pixels(tmp_path, images):
    write_idx(tmp_path / "train-images-idx3-ubyte", images, False)
    data = FashionMNIST(root=str(tmp_path), image_size=28, channels=3)
    x = data[0]["x"]
    assert x.shape == (3, 28, 28)
    assert torch.equal(x[0], images[0].float() / 127.5 - 1)  # no border, no resampling


def test_fashion_mnist_missing_files_give_an_install_hint(tmp_path):
    with pytest.raises(DataError) as info:
        FashionMNIST(root=str(tmp_path))
    assert "train-images-idx3-ubyte" in info.value.message and str(tmp_path) in info.value.message
    assert "apt install dataset-fashion-mnist" in info.value.hint


def test_fashion_mnist_rejects_a_bad_file(tmp_path):
    (tmp_path / "train-images-idx3-ubyte").write_bytes(b"not an idx file at all")
    with pytest.raises(DataError, match="IDX"):
        FashionMNIST(root=str(tmp_path))
    write_idx(tmp_path / "train-images-idx3-ubyte", torch.zeros(2, 4, 4, dtype=torch.uint8), False)
    with open(tmp_path / "train-images-idx3-ubyte", "ab") as f:
        f.write(b"xx")
    with pytest.raises(DataError, match="truncated"):
        FashionMNIST(root=str(tmp_path))


def test_image_folder_resizes_center_crops_and_skips_unreadable(tmp_path):
    (tmp_path / "sub").mkdir()
    wide = Image.new("RGB", (40, 20), (255, 0, 0))
    wide.paste((0, 0, 255), (0, 0, 6, 20))  # blue left edge: cropped away by the centre crop
    wide.save(tmp_path / "sub" / "wide.png")
    Image.new("L", (12, 12), 0).save(tmp_path / "gray.jpg")
    (tmp_path / "broken.png").write_bytes(b"not a png")
    (tmp_path / "notes.txt").write_text("ignored")
    data = ImageFolder(root=str(tmp_path), image_size=8)
    assert len(data) == 2 and [p.name for p, _ in data.skipped] == ["broken.png"]
    shapes = {tuple(data[i]["x"].shape) for i in range(2)}
    assert shapes == {(3, 8, 8)}
    red = data[[p.name for p in data.paths].index("wide.png")]["x"]
    assert torch.allclose(red[0], torch.ones(8, 8), atol=0.02) and red[2].max() < -0.9
    assert ImageFolder(root=str(tmp_path), image_size=8, channels=1)[0]["x"].shape == (1, 8, 8)
    with pytest.raises(DataError, match="broken.png"):
        ImageFolder(root=str(tmp_path), image_size=8, strict=True)


def test_image_folder_errors_name_the_path(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        ImageFolder(root=str(tmp_path / "nowhere"))
    with pytest.raises(DataError, match="no images"):
        ImageFolder(root=str(tmp_path))
    with pytest.raises(SplitNotFound):
        ImageFolder(split="test", root=str(tmp_path))


def test_shapes_are_deterministic_per_index_and_seed():
    data = Shapes(size=10, image_size=16)
    a, b = data[3]["x"], Shapes(size=10, image_size=16)[3]["x"]
    assert a.shape == (3, 16, 16) and torch.equal(a, b)
    assert not torch.equal(a, data[4]["x"])
    assert not torch.equal(a, Shapes(size=10, image_size=16, seed=1)[3]["x"])
    assert a.min() >= -1 and a.max() <= 1 and a.std() > 0.05
    assert Shapes(size=2, image_size=8, channels=1)[0]["x"].shape == (1, 8, 8)
    with pytest.raises(SplitNotFound):
        Shapes(split="test")
