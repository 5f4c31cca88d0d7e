"""The dataset of the recipe, read from the same files cnntui reads and prepared exactly as cnntui prepares it.

No torchvision and no downloads: the files are where cnntui found them (their paths are in recipe.json), or in
the folder given with ``--data-dir``:

- MNIST and Fashion-MNIST: the four IDX files (``train-images-idx3-ubyte.gz`` ..., gzipped or not);
- CIFAR-10: the binary batches (``data_batch_1.bin`` ... ``test_batch.bin``), or ``cifar-10-binary.tar.gz`` itself;
- an image folder: ``ROOT/train/CLASS/*.png|jpg`` and ``ROOT/test/CLASS/...`` (or ``train/`` alone, whose test
  split is then held out as cnntui holds it out: ``held_out_test`` in the recipe), resized with PIL's bilinear
  filter (the filter cnntui's resize follows) by the recipe's rule (``stretch`` to the square, or ``crop``: the
  shorter side to the square's side, then the centre, as torchvision's ``Resize(n)`` + ``CenterCrop(n)``), and
  kept grey when every picture is grey. The pictures cnntui could not read (``skipped``) are left out. The mean
  and std are the ones cnntui measured on the training pictures, read from the recipe.

Images stay bytes (N, C, H, W) until a batch is made. A batch is normalised as cnntui's loader does it,
``(byte / 255 - mean) / std`` in float32 per channel, and augmented the same way: zero-pad by ``pad_crop``
pixels and crop back at a random offset, then mirror left-right with probability 1/2 (torchvision's
``RandomCrop(padding=p)`` then ``RandomHorizontalFlip``, done on the bytes so the padding is a zero byte).
The validation hold-out and ``limit_train``/``limit_test`` pick the same images cnntui picks.
"""
from __future__ import annotations

import gzip
import io
import os
import struct
import tarfile

import numpy as np
import torch
from torch.utils.data import Dataset

MASK64 = (1 << 64) - 1


class ImageSet:
    """Bytes and labels of one split: ``pixels`` uint8 (N, C, H, W), ``labels`` int64 (N,)."""

    def __init__(self, pixels: np.ndarray, labels: np.ndarray):
        self.pixels = pixels
        self.labels = labels.astype(np.int64)

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, indices) -> "ImageSet":
        indices = np.asarray(indices, dtype=np.int64)
        return ImageSet(self.pixels[indices], self.labels[indices])


# ---------------------------------------------------------------------------------------------------- readers


def _read_maybe_gzip(path: str) -> bytes:
    with open(path, "rb") as f:
        data = f.read()
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data


def _idx_file(folder: str, base: str) -> str:
    """The IDX file ``base`` in ``folder``: gzipped or not, ``-idx3-ubyte`` or ``.idx3-ubyte`` (as cnntui accepts)."""
    dotted = base.replace("-idx", ".idx")
    for name in (base + ".gz", base, dotted + ".gz", dotted):
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            return path
    raise FileNotFoundError(f"{os.path.join(folder, base + '.gz')}: missing file (the IDX dataset needs it)")


def read_idx(path: str) -> np.ndarray:
    """An IDX array (magic 0x0000 0x08 dims, big-endian sizes, unsigned bytes)."""
    data = _read_maybe_gzip(path)
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise ValueError(f"{path}: not an IDX file of unsigned bytes")
    dims = data[3]
    shape = struct.unpack(">" + "I" * dims, data[4:4 + 4 * dims])
    array = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims)
    if array.size != int(np.prod(shape)):
        raise ValueError(f"{path}: truncated, {array.size} bytes for shape {shape}")
    return array.reshape(shape)


def load_idx(folder: str):
    """Train and test splits of an IDX folder (MNIST, Fashion-MNIST, or any folder of the four files)."""
    splits = []
    for prefix in ("train", "t10k"):
        images = read_idx(_idx_file(folder, f"{prefix}-images-idx3-ubyte"))
        labels = read_idx(_idx_file(folder, f"{prefix}-labels-idx1-ubyte"))
        if len(images) != len(labels):
            raise ValueError(f"{folder}: {len(images)} {prefix} images but {len(labels)} labels")
        splits.append(ImageSet(images[:, None, :, :].copy(), labels))
    return splits[0], splits[1]


CIFAR_RECORD = 1 + 3 * 32 * 32
CIFAR_TRAIN = [f"data_batch_{i}.bin" for i in range(1, 6)]
CIFAR_TEST = "test_batch.bin"


def _cifar_records(data: bytes, source: str) -> ImageSet:
    if len(data) == 0 or len(data) % CIFAR_RECORD != 0:
        raise ValueError(f"{source}: size {len(data)} is not a whole number of {CIFAR_RECORD}-byte CIFAR-10 records")
    records = np.frombuffer(data, dtype=np.uint8).reshape(-1, CIFAR_RECORD)
    return ImageSet(records[:, 1:].reshape(-1, 3, 32, 32).copy(), records[:, 0])


def load_cifar10(location: str):
    """CIFAR-10's binary version, from the folder of .bin files or from cifar-10-binary.tar.gz."""
    if os.path.isfile(location):
        members = {}
        with tarfile.open(location, "r:*") as archive:
            for member in archive:
                base = os.path.basename(member.name)
                if member.isfile() and base in CIFAR_TRAIN + [CIFAR_TEST]:
                    members[base] = archive.extractfile(member).read()
        missing = [name for name in CIFAR_TRAIN + [CIFAR_TEST] if name not in members]
        if missing:
            raise ValueError(f"{location}: archive lacks cifar-10-batches-bin/{missing[0]}")
        read = lambda name: members[name]  # noqa: E731
    else:
        def read(name):
            path = os.path.join(location, name)
            if not os.path.isfile(path):
                raise FileNotFoundError(f"{path}: missing file (CIFAR-10 needs {', '.join(CIFAR_TRAIN)} and {CIFAR_TEST})")
            with open(path, "rb") as f:
                return f.read()
    train = _cifar_records(b"".join(read(name) for name in CIFAR_TRAIN), f"{location} (train batches)")
    test = _cifar_records(read(CIFAR_TEST), f"{location} ({CIFAR_TEST})")
    return train, test


IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg"}  # the files cnntui's image-folder scan takes
HELD_OUT_TEST_STREAM = 0x7E57_5B17  # cnntui's HeldOutTest.stream


def square_picture(picture, side: int, resize: str = "stretch"):
    """A PIL picture as an RGB side x side one: stretched, or (``crop``) its shorter side scaled to ``side`` and the
    centre cut out, with torchvision's sizes: the longer side ``int(side * long / short)``, the corner
    ``round((length - side) / 2)``."""
    from PIL import Image

    rgb = picture.convert("RGB")
    if resize == "stretch":
        return rgb.resize((side, side), Image.BILINEAR)
    if resize != "crop":
        raise ValueError(f"resize '{resize}' is not one of stretch, crop")
    w, h = rgb.size
    rw, rh = (side, max(side, side * h // w)) if w <= h else (max(side, side * w // h), side)
    resized = rgb.resize((rw, rh), Image.BILINEAR)
    left, top = int(round((rw - side) / 2.0)), int(round((rh - side) / 2.0))
    return resized.crop((left, top, left + side, top + side))


def _class_files(root: str, split: str, classes: list):
    """[(label, path)] of a split, class after class, files sorted (hidden ones left out), as cnntui lists them."""
    files = []
    for label, cls in enumerate(classes):
        folder = os.path.join(root, split, cls)
        if not os.path.isdir(folder):
            continue
        for entry in sorted(os.listdir(folder)):
            if not entry.startswith(".") and os.path.splitext(entry)[1].lower() in IMAGE_EXTENSIONS:
                files.append((label, os.path.join(folder, entry)))
    return files


def load_image_folder(root: str, classes: list, side: int, resize: str = "stretch", skipped=(), held_out_test=None):
    """ROOT/train/CLASS/* and ROOT/test/CLASS/* (or train/ alone, split by ``held_out_test``), classes in the
    recipe's order, pictures resized to side x side by ``resize``; ``skipped`` (paths relative to ROOT) left out."""
    from PIL import Image  # only image folders need PIL

    skip = {os.path.normpath(os.path.join(root, path)) for path in skipped}
    train_files = _class_files(root, "train", classes)
    if held_out_test:
        order = shuffled_order(len(train_files), int(held_out_test["seed"]), HELD_OUT_TEST_STREAM)
        held = set(order[:max(0, min(len(train_files), int(np.floor(len(train_files) * held_out_test["fraction"] + 0.5))))])
        test_files = [f for i, f in enumerate(train_files) if i in held]
        train_files = [f for i, f in enumerate(train_files) if i not in held]
    else:
        test_files = _class_files(root, "test", classes)

    def split(files):
        pixels, labels, colour = [], [], False
        for label, path in files:
            if os.path.normpath(path) in skip:
                continue
            with Image.open(path) as picture:
                colour = colour or picture.mode not in ("L", "LA", "I", "I;16", "1", "P")
                rgb = square_picture(picture, side, resize)
            pixels.append(np.asarray(rgb, dtype=np.uint8).transpose(2, 0, 1))
            labels.append(label)
        return np.stack(pixels), np.asarray(labels), colour

    train_pixels, train_labels, train_colour = split(train_files)
    test_pixels, test_labels, test_colour = split(test_files)
    if not (train_colour or test_colour):  # all grey: one plane per image, as cnntui keeps them
        train_pixels, test_pixels = train_pixels[:, :1].copy(), test_pixels[:, :1].copy()
    return ImageSet(train_pixels, train_labels), ImageSet(test_pixels, test_labels)


def load_splits(dataset: dict, data_dir: str | None = None):
    """The full train and test splits of the recipe's ``dataset`` section; ``data_dir`` replaces its folder."""
    kind, path = dataset["kind"], dataset["path"]
    if data_dir:
        path = _relocate(kind, dataset, data_dir)
    if kind == "idx":
        return load_idx(path)
    if kind == "cifar10":
        return load_cifar10(path)
    if kind == "image-folder":
        return load_image_folder(path, dataset["class_names"], dataset.get("image_size", 32), dataset.get("resize") or "stretch",
                                 dataset.get("skipped") or (), dataset.get("held_out_test"))
    raise ValueError(f"dataset kind '{kind}' is not one data.py reads (idx, cifar10, image-folder)")


def _relocate(kind: str, dataset: dict, data_dir: str) -> str:
    """Where the dataset is under ``data_dir``: the folder itself, or a folder named as cnntui names it in it."""
    candidates = [data_dir, os.path.join(data_dir, dataset["name"]), os.path.join(data_dir, os.path.basename(dataset["path"]))]
    if kind == "cifar10":
        candidates += [os.path.join(data_dir, "cifar-10-batches-bin"), os.path.join(data_dir, "cifar-10-binary.tar.gz"),
                       os.path.join(data_dir, "cifar10", "cifar-10-binary.tar.gz")]
    for candidate in candidates:
        if kind == "idx" and os.path.isdir(candidate) and any(
                os.path.exists(os.path.join(candidate, n)) for n in ("train-images-idx3-ubyte.gz", "train-images-idx3-ubyte")):
            return candidate
        if kind == "cifar10" and (os.path.isfile(candidate) and candidate.endswith((".tar.gz", ".tgz"))
                                  or os.path.isfile(os.path.join(candidate, CIFAR_TEST))):
            return candidate
        if kind == "image-folder" and os.path.isdir(os.path.join(candidate, "train")):
            return candidate
    raise FileNotFoundError(f"--data-dir {data_dir}: no {dataset['name']} files there (looked in {', '.join(candidates)})")


# ------------------------------------------------------------------------------------- cnntui's random draws


def splitmix64_stream(seed: int, stream: int, index: int = 0) -> int:
    """The state cnntui's ``SplitMix64(seed:stream:index:)`` starts from."""
    state = (seed ^ 0x5EED_DA7A_0000_0000) & MASK64

    def nxt():
        nonlocal state
        state = (state + 0x9E37_79B9_7F4A_7C15) & MASK64
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58_476D_1CE4_E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D0_49BB_1331_11EB) & MASK64
        return z ^ (z >> 31)

    a = nxt()
    state ^= (stream * 0x9E37_79B9_7F4A_7C15) & MASK64
    b = nxt()
    state ^= (index * 0xD1B5_4A32_D192_ED03) & MASK64
    return a ^ b ^ nxt()


def validation_split(count: int, fraction: float, seed: int):
    """cnntui's hold-out: a SplitMix64 Fisher-Yates shuffle (stream 0xDA7A5B17); the first part is held out.
    Returns the kept training indices, sorted."""
    held = max(0, min(count, int(np.floor(count * fraction + 0.5))))
    return sorted(shuffled_order(count, seed, 0xDA7A_5B17)[held:])


def shuffled_order(count: int, seed: int, stream: int):
    """cnntui's ``shuffledIndices`` with ``SplitMix64(seed:stream:)``: a Fisher-Yates shuffle of range(count)."""
    state = splitmix64_stream(seed, stream)
    order = list(range(count))
    for i in range(count - 1, 0, -1):
        state = (state + 0x9E37_79B9_7F4A_7C15) & MASK64
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58_476D_1CE4_E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D0_49BB_1331_11EB) & MASK64
        z ^= z >> 31
        j = (z * (i + 1)) >> 64  # Lemire's multiply-shift, as cnntui's `below`
        order[i], order[j] = order[j], order[i]
    return order


# ----------------------------------------------------------------------------------------- the torch datasets


def normalisation_table(mean, std, channels: int) -> np.ndarray:
    """``table[c, v] = (v / 255 - mean[c]) / std[c]`` in float32, as cnntui computes it."""
    values = np.arange(256, dtype=np.float32)
    rows = []
    for c in range(channels):
        m = np.float32(mean[0] if len(mean) == 1 else mean[c])
        s = np.float32(std[0] if len(std) == 1 else std[c])
        rows.append((values / np.float32(255) - m) / s)
    return np.stack(rows).astype(np.float32)


class AugmentedBytes(Dataset):
    """An ``ImageSet`` whose items are ``(bytes, label, index)``: the image as uint8 (C, H, W), padded-and-cropped
    and flipped when ``pad_crop``/``flip`` say so (on the bytes, so the padding is a zero byte, as in cnntui).

    The draws come from torch's generator (seeded by the run's seed), so a run is reproducible; they are not
    cnntui's SplitMix64 draws, only the same distribution. The index lets an evaluation show a prediction's pixels.
    """

    def __init__(self, images: ImageSet, pad_crop: int = 0, flip: bool = False):
        self.images, self.pad_crop, self.flip = images, pad_crop, flip

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int):
        raw = self.images.pixels[index]
        if self.pad_crop or self.flip:
            p = self.pad_crop
            draw = int(torch.randint(0, 1 << 62, (1,)).item())
            dy, dx, mirror = draw % (2 * p + 1) - p, (draw // (2 * p + 1)) % (2 * p + 1) - p, draw >> 61 & 1
            if p:
                _, height, width = raw.shape
                shifted = np.zeros_like(raw)  # out[y, x] = raw[y + dy, x + dx], zero outside
                shifted[:, max(0, -dy):height - max(0, dy), max(0, -dx):width - max(0, dx)] = \
                    raw[:, max(0, dy):height - max(0, -dy), max(0, dx):width - max(0, -dx)]
                raw = shifted
            if self.flip and mirror:
                raw = raw[:, :, ::-1]
        return torch.from_numpy(np.ascontiguousarray(raw)), int(self.images.labels[index]), index


class Normalise:
    """Makes a batch: stacks the items' bytes and maps each through ``(v / 255 - mean[c]) / std[c]``, one table
    lookup per pixel as cnntui does it. Used as the DataLoader's ``collate_fn``."""

    def __init__(self, mean, std, channels: int):
        self.table = torch.from_numpy(normalisation_table(mean, std, channels))

    def __call__(self, items):
        raw = torch.stack([item[0] for item in items]).long()
        channels = torch.arange(raw.shape[1])[None, :, None, None]
        images = self.table[channels, raw]
        labels = torch.tensor([item[1] for item in items], dtype=torch.int64)
        indices = torch.tensor([item[2] for item in items], dtype=torch.int64)
        return images, labels, indices


def make_datasets(recipe: dict, data_dir: str | None = None):
    """The recipe's images, with the hold-out, the limits and the augmentation cnntui applies. Returns
    ``(train, test, test_images, normalise)``: two ``AugmentedBytes`` datasets, the raw test ``ImageSet``, and the
    ``Normalise`` that turns a list of items into a normalised batch (the DataLoaders' ``collate_fn``)."""
    dataset, config = recipe["dataset"], recipe["config"]
    train, test = load_splits(dataset, data_dir)
    fraction = float(config.get("validation_fraction") or 0)
    if fraction > 0:
        train = train.subset(validation_split(len(train), fraction, int(config["seed"])))
    if config.get("limit_train") and config["limit_train"] < len(train):
        train = train.subset(np.arange(config["limit_train"]))
    if config.get("limit_test") and config["limit_test"] < len(test):
        test = test.subset(np.arange(config["limit_test"]))
    if len(train) == 0 or len(test) == 0:
        raise ValueError(f"dataset {dataset['name']}: {len(train)} training and {len(test)} test images")
    expected = list(dataset["shape"])
    if list(train.pixels.shape[1:]) != expected:
        raise ValueError(f"dataset {dataset['name']}: images are {list(train.pixels.shape[1:])}, the recipe says {expected}")
    augment = dataset["augmentation"]
    normalise = Normalise(dataset["mean"], dataset["std"], expected[0])
    return AugmentedBytes(train, augment["pad_crop"], augment["flip"]), AugmentedBytes(test), test, normalise
