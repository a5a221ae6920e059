"""Data preparation: bad, duplicate and missing images; adding a class; downloading an archive."""

from __future__ import annotations

import hashlib
import io
import random
import shutil
import tarfile
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from tests.training.conftest import SHAPES, ImageTreeFactory, draw_shape
from training.addclass import add_class, split_files
from training.cli import main
from training.download import ArchiveSource, download_dataset
from training.errors import DownloadFailed, EmptyClass, SkippedImageWarning
from training.labelmap import wnid_names
from training.pack import load_split, pack


@pytest.fixture
def corrupt_jpeg(image_tree: ImageTreeFactory) -> Path:
    data = image_tree(n_train=4, n_val=2)
    (data / "train" / "red_circle" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not a jpeg")
    return data


@pytest.fixture
def duplicate_across_splits(image_tree: ImageTreeFactory) -> Path:
    data = image_tree(n_train=4, n_val=2)
    original = data / "train" / "green_square" / "green_square_000.jpg"
    shutil.copy(original, data / "val" / "green_square" / "copy_of_a_train_image.jpg")
    return data


@pytest.fixture
def empty_class(image_tree: ImageTreeFactory) -> Path:
    data = image_tree(n_train=4, n_val=2)
    for path in (data / "val" / "blue_triangle").iterdir():
        path.unlink()
    return data


def test_a_corrupt_file_is_skipped_with_a_warning(corrupt_jpeg: Path, tmp_path: Path) -> None:
    with pytest.warns(SkippedImageWarning, match=r"skipping unreadable .*broken\.jpg"):
        report = pack(corrupt_jpeg, tmp_path / "packed", side=32)
    images, labels = load_split(tmp_path / "packed", "train")
    assert images.shape == (12, 32, 32, 3) and images.dtype == np.uint8
    assert len(labels) == 12
    assert [Path(s["file"]).name for s in report.skipped] == ["broken.jpg"]
    assert report.counts["train"] == {"blue_triangle": 4, "green_square": 4, "red_circle": 4}


def test_a_duplicate_is_reported_and_dropped_from_val(
    duplicate_across_splits: Path, tmp_path: Path
) -> None:
    with pytest.warns(SkippedImageWarning, match="duplicate of"):
        report = pack(duplicate_across_splits, tmp_path / "packed", side=32)
    (duplicate,) = report.duplicates
    assert Path(duplicate["file"]).name == "copy_of_a_train_image.jpg"
    assert Path(duplicate["same_as"]).name == "green_square_000.jpg"
    assert report.counts["val"]["green_square"] == 2


def test_an_empty_class_fails_with_a_clear_message(empty_class: Path, tmp_path: Path) -> None:
    with pytest.raises(EmptyClass, match=r"Class .blue_triangle. has no images in .*val"):
        pack(empty_class, tmp_path / "packed", side=32)


def test_letterbox_packing_keeps_the_whole_image(
    image_tree: ImageTreeFactory, tmp_path: Path
) -> None:
    data = image_tree(n_train=2, n_val=1)
    pack(data, tmp_path / "packed", side=32, mode="letterbox")
    images, _ = load_split(tmp_path / "packed", "train")
    assert images.shape == (6, 32, 32, 3)


def test_add_class_splits_a_folder_into_train_and_val(
    image_tree: ImageTreeFactory, tmp_path: Path
) -> None:
    data = image_tree(n_train=4, n_val=2)
    source = tmp_path / "new_photos"
    source.mkdir()
    rng = random.Random(1)
    for i in range(10):
        draw_shape("red_circle", rng, 40).save(source / f"photo_{i}.png")

    counts = add_class(data, "pink_circle", source, val_fraction=0.2, seed=0)

    assert counts == {"train": 8, "val": 2}
    in_val = sorted(p.name.split("_", 1)[1] for p in (data / "val" / "pink_circle").iterdir())
    seeded = split_files(sorted(source.iterdir()), val_fraction=0.2, seed=0)["val"]
    assert in_val == [p.name for p in seeded]
    report = pack(data, tmp_path / "packed", side=32)
    assert report.classes == ["blue_triangle", "green_square", "pink_circle", "red_circle"]
    assert report.counts["train"]["pink_circle"] == 8


def test_adding_an_empty_folder_fails_clearly(image_tree: ImageTreeFactory, tmp_path: Path) -> None:
    data = image_tree(n_train=2, n_val=1)
    (tmp_path / "nothing").mkdir()
    with pytest.raises(EmptyClass, match="holds no images for class 'ghost'"):
        add_class(data, "ghost", tmp_path / "nothing", 0.2, 0)


@pytest.fixture
def small_archive(tmp_path: Path) -> Path:
    """imagewoof2-320.tgz in miniature: imagewoof2-320/{train,val}/<wnid>/*.JPEG, 10 wnids."""
    rng = random.Random(0)
    buffer = io.BytesIO()
    kinds = sorted(SHAPES)
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for split, n in (("train", 2), ("val", 1)):
            for c, wnid in enumerate(wnid_names()):
                kind = kinds[c % len(kinds)]
                for i in range(n):
                    image = io.BytesIO()
                    draw_shape(kind, rng, 40).save(image, format="JPEG")
                    info = tarfile.TarInfo(f"imagewoof2-320/{split}/{wnid}/{wnid}_{i}.JPEG")
                    info.size = image.tell()
                    image.seek(0)
                    tar.addfile(info, image)
    served = tmp_path / "served"
    served.mkdir()
    (served / "imagewoof2-320.tgz").write_bytes(buffer.getvalue())
    return served / "imagewoof2-320.tgz"


@pytest.fixture
def local_http_server(small_archive: Path) -> Iterator[str]:
    """A real HTTP server on 127.0.0.1 in a thread, serving the archive's folder."""
    handler = partial(SimpleHTTPRequestHandler, directory=str(small_archive.parent))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_download_fetches_verifies_and_unpacks(
    small_archive: Path, local_http_server: str, tmp_path: Path
) -> None:
    sha256 = hashlib.sha256(small_archive.read_bytes()).hexdigest()
    source = ArchiveSource(
        url=f"{local_http_server}/imagewoof2-320.tgz",
        folder="imagewoof2-320",
        sha256=sha256,
        n_classes=10,
        counts={"train": 20, "val": 10},
    )
    data_dir = download_dataset(source, tmp_path / "data", timeout_s=10)

    assert data_dir == tmp_path / "data" / "imagewoof2-320"
    assert len(list((data_dir / "train" / "n02086240").glob("*.JPEG"))) == 2
    assert f"sha256 {sha256}" in (data_dir / "SOURCE.txt").read_text()
    assert not (tmp_path / "data" / "imagewoof2-320.tgz").exists()
    # a second call keeps what is there (the server could be gone)
    assert download_dataset(source, tmp_path / "data", timeout_s=10) == data_dir


def test_download_refuses_an_archive_with_the_wrong_checksum(
    local_http_server: str, tmp_path: Path
) -> None:
    source = ArchiveSource(
        url=f"{local_http_server}/imagewoof2-320.tgz", folder="imagewoof2-320", sha256="0" * 64
    )
    with pytest.raises(DownloadFailed, match="sha256"):
        download_dataset(source, tmp_path / "data", timeout_s=10)


def test_download_of_a_missing_file_fails_clearly(local_http_server: str, tmp_path: Path) -> None:
    source = ArchiveSource(url=f"{local_http_server}/nothing.tgz", folder="nothing")
    with pytest.raises(DownloadFailed, match="Could not download"):
        download_dataset(source, tmp_path / "data", timeout_s=10)


def test_data_imagewoof_command_reads_its_url_from_the_settings(
    local_http_server: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("KENNEL_TRAINING_IMAGEWOOF_URL", f"{local_http_server}/imagewoof2-320.tgz")
    main(["data", "imagewoof", "--root", str(tmp_path / "data")])
    assert "Imagewoof is in" in capsys.readouterr().out
    assert len(list((tmp_path / "data" / "imagewoof2-320" / "val").iterdir())) == 10


def test_data_commands_add_a_class_and_prepare_a_pack(
    image_tree: ImageTreeFactory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = image_tree(n_train=3, n_val=1)
    source = tmp_path / "photos"
    source.mkdir()
    rng = random.Random(2)
    for i in range(5):
        draw_shape("green_square", rng, 40).save(source / f"{i}.png")
    main(["data", "add-class", "lime", str(source), "--data", str(data), "--val-fraction", "0.4"])
    main(["data", "prepare", str(data), "--size", "24", "--out", str(tmp_path / "packed")])

    out = capsys.readouterr().out
    assert "added class 'lime'" in out and "3 train, 2 val" in out
    images, labels = load_split(tmp_path / "packed", "val")
    assert images.shape == (5, 24, 24, 3) and sorted(set(labels.tolist())) == [0, 1, 2, 3]
