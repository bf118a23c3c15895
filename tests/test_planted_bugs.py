"""Tests aimed at bugs that once passed the suite when planted (issue 15): each pins the
behaviour a small, realistic slip would change, with numbers worked out by hand."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

from digitnet.data.idx import read_idx
from digitnet.errors import DatasetError
from digitnet.images.segment import Component, find_digits
from digitnet.insight import metrics

# ---------------------------------------------------------------------------
# metrics: orientation of the confusion matrix, precision against recall


def test_confusion_matrix_rows_are_true_digits_columns_predictions() -> None:
    labels = np.array([3, 3, 3, 5])
    predicted = np.array([3, 5, 5, 5])
    counts = metrics.confusion_matrix(labels, predicted)
    assert counts[3, 3] == 1
    assert counts[3, 5] == 2  # two true 3s read as 5
    assert counts[5, 3] == 0
    assert counts[5, 5] == 1
    assert counts.sum() == 4


def test_precision_and_recall_by_hand() -> None:
    # true 3: 3 images, one read right -> recall(3) = 1/3; predicted 3: only that one -> 1.
    # true 5: 1 image, read right -> recall(5) = 1; predicted 5: 3, one right -> 1/3.
    labels = np.array([3, 3, 3, 5])
    predicted = np.array([3, 5, 5, 5])
    rep = metrics.report(labels, predicted)
    assert rep.precision[3] == 1.0
    assert rep.recall[3] == pytest.approx(1 / 3)
    assert rep.precision[5] == pytest.approx(1 / 3)
    assert rep.recall[5] == 1.0
    assert rep.support[3] == 3
    assert rep.support[5] == 1
    assert rep.accuracy == 0.5
    assert rep.confusion[3][5] == 2
    assert rep.to_dict()["error"] == 0.5


def test_accuracy_counts_the_matches() -> None:
    assert metrics.accuracy(np.array([1, 2, 3, 4]), np.array([1, 2, 3, 0])) == 0.75
    assert metrics.accuracy(np.array([], dtype=np.int64), np.array([], dtype=np.int64)) == 0.0


def test_report_json_keys_and_values() -> None:
    labels = np.array([0, 0, 1, 2])
    predicted = np.array([0, 1, 1, 2])
    data = metrics.report(labels, predicted).to_dict()
    assert set(data) == {"accuracy", "error", "precision", "recall", "support", "confusion_matrix"}
    assert data["accuracy"] == 0.75
    assert data["error"] == 0.25
    assert data["precision"][:3] == [1.0, 0.5, 1.0]
    assert data["recall"][:3] == [0.5, 1.0, 1.0]
    assert data["support"] == [2, 1, 1, 0, 0, 0, 0, 0, 0, 0]
    assert data["confusion_matrix"][0][:3] == [1, 1, 0]


def test_a_class_never_predicted_or_absent_scores_zero_not_nan() -> None:
    # 7 is never predicted (precision 0/0) and 9 never occurs (recall 0/0): both 0.0.
    labels = np.array([7, 7, 1])
    predicted = np.array([1, 1, 9])
    for _ in range(3):
        rep = metrics.report(labels, predicted)
        assert rep.precision[7] == 0.0
        assert rep.recall[9] == 0.0
        assert rep.precision[1] == 0.0  # predicted twice, never right
        assert rep.recall[7] == 0.0
        assert all(np.isfinite(rep.precision))
        assert all(np.isfinite(rep.recall))


# ---------------------------------------------------------------------------
# segmentation: how near a small piece must be, measured against the digit's height


def box(label: int, top: int, bottom: int, left: int, right: int, area: int = 30) -> Component:
    return Component(label, top, bottom, left, right, area)


def test_a_piece_beside_a_narrow_digit_joins_it_within_a_quarter_of_its_height() -> None:
    # A "1" 80 px tall and 8 px wide; a small piece 12 px to its right. NEAR × height = 20
    # px, so it belongs to the digit (NEAR × width would be 2 px and drop it as dust).
    one = box(1, 0, 80, 100, 108, area=600)
    piece = box(2, 70, 76, 120, 124)
    (region,) = find_digits([one, piece])
    assert region.labels == (1, 2)
    assert region.right == 124
    # 25 px away is more than a quarter of 80: dust, dropped
    far = box(3, 70, 76, 133, 137)
    (region,) = find_digits([one, far])
    assert region.labels == (1,)


def test_a_piece_beside_a_wide_digit_is_dust_beyond_a_quarter_of_its_height() -> None:
    # A digit 40 px tall and 120 px wide; a speck 15 px to its right: NEAR × height = 10
    # < 15, dust (NEAR × width would be 30 and keep it).
    wide = box(1, 0, 40, 0, 120, area=2000)
    speck = box(2, 30, 33, 135, 138)
    (region,) = find_digits([wide, speck])
    assert region.labels == (1,)


# ---------------------------------------------------------------------------
# IDX: only unsigned bytes are accepted, whatever else the header says


@pytest.mark.parametrize("element_type", [0x09, 0x0B, 0x0C, 0x0D, 0x0E, 0x00])
def test_idx_reader_refuses_every_element_type_but_unsigned_byte(
    tmp_path: Path, element_type: int
) -> None:
    # 0x09 is *signed* byte: same size, so a reader that let it through would hand back
    # bytes with the wrong meaning and every size check would still pass.
    path = tmp_path / "x.gz"
    header = struct.pack(">BBBBI", 0, 0, element_type, 1, 4)
    path.write_bytes(gzip.compress(header + bytes([1, 2, 3, 4])))
    with pytest.raises(DatasetError, match=f"element type 0x{element_type:02x} is not unsigned"):
        read_idx(path)


# ---------------------------------------------------------------------------
# relu′ read off a = max(0, z): a dead unit (a = 0) passes no gradient, with or without scratch


@pytest.mark.parametrize("with_scratch", [False, True])
def test_relu_derivative_is_zero_exactly_where_a_is_zero(with_scratch: bool) -> None:
    from digitnet.nn.activations import relu_prime_times

    A = np.array([[0.0, 0.5, 2.0, 0.0]], dtype=np.float32)
    delta = np.array([[1.0, 2.0, 3.0, 4.0]], dtype=np.float32)
    scratch = np.empty_like(A) if with_scratch else None
    out = relu_prime_times(A, delta, scratch)
    np.testing.assert_array_equal(out, [[0.0, 2.0, 3.0, 0.0]])
    np.testing.assert_array_equal(delta, [[0.0, 2.0, 3.0, 0.0]])  # in place


# ---------------------------------------------------------------------------
# IDX hints for the labels file and a dataset in a sub-folder


def test_a_bad_labels_file_names_the_download_for_its_data_dir(tmp_path: Path) -> None:
    from digitnet.data.idx import load_split

    folder = tmp_path / "mine"
    folder.mkdir()
    images = np.zeros((3, 28, 28), dtype=np.uint8)
    for name, array in (
        ("t10k-images-idx3-ubyte.gz", images),
        ("t10k-labels-idx1-ubyte.gz", np.array([1, 2, 12], dtype=np.uint8)),  # 12 > 9
    ):
        header = struct.pack(">I", 0x0800 | array.ndim)
        header += struct.pack(f">{array.ndim}I", *array.shape)
        (folder / name).write_bytes(gzip.compress(header + array.tobytes()))
    with pytest.raises(DatasetError) as info:
        load_split("mnist", folder, "test")
    assert "label 12 is out of range 0..9" in str(info.value)
    assert str(info.value).endswith(f"run `digitnet download --data-dir {folder}`")
    wrong_shape = np.zeros((3, 28, 27), dtype=np.uint8)
    header = struct.pack(">IIII", 0x0803, 3, 28, 27)
    (folder / "t10k-images-idx3-ubyte.gz").write_bytes(
        gzip.compress(header + wrong_shape.tobytes())
    )
    with pytest.raises(DatasetError) as info:
        load_split("mnist", folder, "test")
    assert "expected images of shape (n, 28, 28)" in str(info.value)
    assert str(info.value).endswith(f"run `digitnet download --data-dir {folder}`")


def test_a_missing_dataset_in_a_sub_folder_says_where_it_is_looked_for(tmp_path: Path) -> None:
    from digitnet.data.idx import load_split

    with pytest.raises(DatasetError) as info:
        load_split("kmnist", tmp_path, "train")
    message = str(info.value)
    assert f"run `digitnet download --dataset kmnist --data-dir {tmp_path}`" in message
    assert "whose kmnist/ sub-folder holds the kmnist files" in message
    with pytest.raises(DatasetError) as info:
        load_split("mnist", tmp_path, "train")
    assert "point --data-dir at the folder that holds the mnist files" in str(info.value)
