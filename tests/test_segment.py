"""Tests for digitnet.images.segment: connected components and grouping them into digits."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import ndimage

from digitnet.images.segment import (
    Component,
    Region,
    find_digits,
    label,
)
from digitnet.images.touching import split_touching, typical_width


def same_partition(ours: np.ndarray, theirs: np.ndarray) -> bool:
    """Two label images describe the same components (labels may be numbered apart)."""
    if not np.array_equal(ours > 0, theirs > 0):
        return False
    pairs = {(int(a), int(b)) for a, b in zip(ours[ours > 0], theirs[theirs > 0], strict=True)}
    return len(pairs) == len({a for a, _ in pairs}) == len({b for _, b in pairs})


@settings(deadline=None, max_examples=200)
@given(arrays(np.bool_, st.tuples(st.integers(1, 30), st.integers(1, 30))))
def test_label_matches_scipy_8_connectivity(mask):
    labels, components = label(mask)
    expected, n = ndimage.label(mask, structure=np.ones((3, 3), dtype=int))
    assert len(components) == n
    assert same_partition(labels, expected)
    for c in components:
        rows, cols = np.nonzero(labels == c.label)
        assert (c.top, c.bottom, c.left, c.right) == (
            rows.min(),
            rows.max() + 1,
            cols.min(),
            cols.max() + 1,
        )
        assert c.area == len(rows)


def test_label_diagonal_and_u_shapes():
    mask = np.array(
        [
            [1, 0, 0, 1, 0, 1],
            [0, 1, 0, 1, 0, 1],
            [0, 0, 1, 1, 1, 1],
            [0, 0, 0, 0, 0, 0],
            [1, 1, 0, 0, 0, 1],
        ],
        dtype=bool,
    )
    labels, components = label(mask)
    assert len(components) == 3  # the diagonal joins the U; two specks below
    assert labels[0, 0] == labels[0, 5] == 1  # raster order of first pixels


def test_label_empty():
    labels, components = label(np.zeros((4, 5), dtype=bool))
    assert components == []
    assert not labels.any()


def box(label_: int, top: int, bottom: int, left: int, right: int, area: int = 50) -> Component:
    return Component(label_, top, bottom, left, right, area)


def test_digits_side_by_side_are_ordered_left_to_right():
    comps = [box(1, 10, 50, 200, 225), box(2, 10, 50, 100, 125), box(3, 12, 50, 150, 175)]
    regions = find_digits(comps)
    assert [r.labels for r in regions] == [(2,), (3,), (1,)]


def test_stacked_pieces_of_a_broken_digit_are_merged():
    # The top bar of a 5 drawn apart from its body, beside a 1.
    comps = [box(1, 10, 18, 100, 125), box(2, 20, 50, 100, 124), box(3, 10, 50, 160, 168)]
    regions = find_digits(comps)
    assert [r.labels for r in regions] == [(1, 2), (3,)]


def test_dust_far_away_is_dropped_and_near_pieces_join():
    comps = [
        box(1, 100, 140, 100, 125),  # a digit
        box(2, 10, 13, 400, 403, 9),  # a speck far away
        box(3, 138, 146, 126, 130, 12),  # a small piece just beside the digit
    ]
    (region,) = find_digits(comps)
    assert region.labels == (1, 3)


def test_a_narrow_pair_of_tall_pieces_is_one_digit():
    # A 4 drawn in two strokes: two tall pieces, together taller than wide.
    comps = [box(1, 0, 40, 0, 14), box(2, 0, 40, 16, 24)]
    assert len(find_digits(comps)) == 1


@pytest.mark.parametrize("single", [True, False])
def test_single_takes_everything_as_one(single):
    comps = [box(1, 0, 40, 0, 25), box(2, 0, 40, 40, 65)]
    assert len(find_digits(comps, single=single)) == (1 if single else 2)


def test_nothing_gives_no_digits():
    assert find_digits([]) == []


def test_touching_digits_are_cut_at_the_thin_bridge():
    # Three 20-px-tall blocks 12 px wide, joined by 1-px bridges: one wide component.
    mask = np.zeros((20, 40), dtype=bool)
    for left in (0, 14, 28):
        mask[:, left : left + 12] = True
    mask[10, 12:14] = True
    mask[10, 26:28] = True
    _, components = label(mask)
    (region,) = find_digits(components)
    parts = split_touching(region, mask)
    assert [(p.left, p.right) for p in parts] == [(0, 12), (12, 26), (26, 40)]  # in the bridges


def test_a_wide_digit_without_a_valley_is_not_cut():
    mask = np.zeros((20, 30), dtype=bool)  # a wide, solid bar-and-stem shape
    mask[:4, :] = True
    mask[:, 13:17] = True
    mask[16:, :] = True
    _, components = label(mask)
    (region,) = find_digits(components)
    assert split_touching(region, mask) == [region]


def test_a_zero_broken_at_its_hairlines_is_one_digit():
    # Two narrow arcs 2 px apart (a small serif 0), then a 7 farther right.
    comps = [box(1, 0, 40, 0, 9), box(2, 0, 40, 11, 20), box(3, 0, 40, 40, 64)]
    regions = find_digits(comps)
    assert [r.labels for r in regions] == [(1, 2), (3,)]


def test_two_ones_stay_two():
    comps = [box(1, 0, 40, 0, 8), box(2, 0, 40, 22, 30), box(3, 0, 40, 44, 68)]
    assert len(find_digits(comps)) == 3


def test_a_pair_twice_as_wide_as_the_other_digits_is_cut():
    mask = np.ones((20, 30), dtype=bool)  # two fused digits: no bridge, no valley
    region = Region((1,), 0, 20, 0, 30)
    assert split_touching(region, mask) == [region]  # aspect 1.5: could be one digit
    parts = split_touching(region, mask, typical=14.0)  # the number's digits are 14 wide
    assert len(parts) == 2
    assert parts[0].right == parts[1].left
    assert typical_width([region, Region((2,), 0, 20, 40, 54), Region((3,), 0, 20, 60, 74)]) == 14
    assert typical_width([region]) is None


# ---------------------------------------------------------------------------
# Small pieces: joined to the digit they lie near on any side, dropped beyond NEAR


@pytest.mark.parametrize(
    ("side", "piece"),
    [
        ("left", (120, 126, 80, 85)),  # top, bottom, left, right; the digit is 100..140 × 100..125
        ("right", (120, 126, 140, 145)),
        # above and below: sharing 1 of its 5 columns, too few to be stacked on the digit
        ("above", (80, 85, 124, 129)),
        ("below", (155, 160, 124, 129)),
    ],
)
def test_a_piece_on_any_side_joins_within_a_quarter_of_the_height_else_is_dust(side, piece):
    digit = box(1, 100, 140, 100, 125, area=600)
    top, bottom, left, right = piece
    near = box(2, top, bottom, left, right, area=20)  # 15 px away: more than 40 / 4
    (region,) = find_digits([digit, near])
    assert region.labels == (1,), side
    # moved to 10 px from the digit (= NEAR × 40): joins it
    shift = {"left": (0, 5), "right": (0, -5), "above": (5, 0), "below": (-5, 0)}[side]
    closer = box(2, top + shift[0], bottom + shift[0], left + shift[1], right + shift[1], 20)
    (region,) = find_digits([digit, closer])
    assert region.labels == (1, 2), side


def test_a_piece_goes_to_the_digit_it_touches_not_to_a_neighbour():
    # Two digits 4 px apart; a small piece touching the right one and 1 px from the left.
    left_digit = box(1, 0, 40, 0, 25, area=500)
    right_digit = box(2, 0, 40, 29, 54, area=500)
    piece = box(3, 20, 24, 26, 29, area=8)
    regions = find_digits([left_digit, right_digit, piece])
    assert [r.labels for r in regions] == [(1,), (2, 3)]


def test_digits_whose_boxes_share_a_column_stay_apart():
    # Slanted digits: the boxes overlap by 2 of 20 columns, far less than STACK_OVERLAP.
    comps = [box(1, 0, 40, 0, 20), box(2, 0, 40, 18, 38)]
    regions = find_digits(comps)
    assert [(r.labels, r.left, r.right) for r in regions] == [((1,), 0, 20), ((2,), 18, 38)]


def test_thin_strokes_far_apart_are_separate_digits():
    # "11" written with a fine pen: two 2-px-wide strokes with no shared column.
    comps = [box(1, 0, 40, 0, 2), box(2, 0, 40, 40, 42)]
    regions = find_digits(comps)
    assert [r.labels for r in regions] == [(1,), (2,)]


def test_typical_width_counts_square_digits_and_needs_two_regions():
    square = Region((1,), 0, 20, 0, 20)
    wide = Region((2,), 0, 20, 30, 70)
    assert typical_width([square, wide]) == 20  # width = height still counts as narrow
    assert typical_width([square]) is None  # one digit: nothing to compare with
    assert typical_width([Region((1,), 0, 20, 0, 12), wide]) == 12


# ---------------------------------------------------------------------------
# Cutting touching digits: where, how many, and what each part keeps


def blocks(height: int, widths: list[int], bridge_rows: int, gap: int = 1) -> np.ndarray:
    """Solid blocks side by side, each pair joined across a ``gap``-column bridge of
    ``bridge_rows`` rows of ink (a thin bridge: 1 row; a thick fusion: many)."""
    mask = np.zeros((height, sum(widths) + gap * (len(widths) - 1)), dtype=bool)
    left = 0
    for k, width in enumerate(widths):
        mask[:, left : left + width] = True
        if k:
            mask[:bridge_rows, left - gap : left] = True
        left += width + gap
    return mask


def test_parts_keep_the_groups_labels_rows_and_cover_its_columns():
    mask = blocks(20, [12, 12, 12], bridge_rows=1, gap=2)
    region = Region((4, 7), 30, 50, 100, 100 + mask.shape[1])
    parts = split_touching(region, mask)
    assert parts == [
        Region((4, 7), 30, 50, 100, 112),
        Region((4, 7), 30, 50, 112, 126),
        Region((4, 7), 30, 50, 126, 140),
    ]


def test_a_group_up_to_1_2_times_as_wide_as_tall_is_one_digit():
    # A thin bridge in the middle, but 12 × 10 may be one wide digit (a 2, a 7): not cut.
    at_limit = blocks(10, [6, 5], bridge_rows=1)
    assert at_limit.shape == (10, 12)
    region = Region((1,), 0, 10, 0, 12)
    assert split_touching(region, at_limit) == [region]
    wider = blocks(10, [6, 6], bridge_rows=1)  # 13 wide: two digits
    region = Region((1,), 0, 10, 0, 13)
    assert [(p.left, p.right) for p in split_touching(region, wider)] == [(0, 6), (6, 13)]


def test_two_touching_digits_give_two_parts_not_more():
    mask = blocks(20, [13, 14], bridge_rows=2)  # 28 × 20: round(28 / 14) = 2 digits
    region = Region((1,), 0, 20, 0, 28)
    assert [(p.left, p.right) for p in split_touching(region, mask)] == [(0, 13), (13, 28)]


def test_a_thick_fusion_is_cut_only_when_surely_several_digits():
    # Bridges half as tall as the digits: too much ink for a thin bridge.
    three = blocks(10, [7, 7, 7], bridge_rows=5)  # 23 × 10: wider than 1.8 × 10
    region = Region((1,), 0, 10, 0, 23)
    assert [(p.left, p.right) for p in split_touching(region, three)] == [(0, 7), (7, 15), (15, 23)]
    two = blocks(10, [8, 9], bridge_rows=5)  # 18 × 10: exactly 1.8, could be one digit
    region = Region((1,), 0, 10, 0, 18)
    assert split_touching(region, two) == [region]


def test_a_group_at_least_1_6_times_the_typical_width_is_cut():
    mask = blocks(20, [12, 13], bridge_rows=10)  # 26 × 20, no thin bridge, aspect 1.3
    region = Region((1,), 0, 20, 0, 26)
    assert split_touching(region, mask, typical=17.0) == [region]  # 26 < 1.6 × 17
    parts = split_touching(region, mask, typical=16.25)  # 26 = 1.6 × 16.25
    assert [(p.left, p.right) for p in parts] == [(0, 12), (12, 26)]


# ---------------------------------------------------------------------------
# Stacked pieces, the height rule, and the number-or-one-digit rules at their limits


@pytest.mark.parametrize(
    "pieces",
    [
        [(0, 18), (19, 40)],  # an 8 whose loops came apart
        [(0, 10), (11, 21), (22, 40)],  # in three pieces: merged one after another
    ],
)
def test_stacked_pieces_as_tall_as_digits_are_still_one_digit(pieces):
    # Every piece is at least half as tall as the 20-px digit beside it, so only their
    # shared columns say they are one digit.
    comps = [box(k + 1, top, bottom, 0, 20) for k, (top, bottom) in enumerate(pieces)]
    comps.append(box(len(pieces) + 1, 0, 20, 40, 46))
    regions = find_digits(comps)
    assert [r.labels for r in regions] == [tuple(range(1, len(pieces) + 1)), (len(pieces) + 1,)]


def test_a_group_exactly_half_as_tall_as_the_tallest_is_a_digit():
    comps = [box(1, 0, 40, 0, 25), box(2, 20, 40, 60, 75)]  # a 20-px digit far from a 40-px one
    regions = find_digits(comps)
    assert [r.labels for r in regions] == [(1,), (2,)]


@pytest.mark.parametrize(
    ("right_stroke", "digits"),
    [
        ((20, 30), 1),  # 30 px wide, 40 tall: narrower than 0.9 × 40 = 36, one broken digit
        ((26, 36), 2),  # exactly 36 wide: a number of two digits
    ],
)
def test_tall_strokes_apart_are_one_digit_only_when_narrower_than_0_9_of_the_height(
    right_stroke, digits
):
    left, right = right_stroke
    comps = [box(1, 0, 40, 0, 10), box(2, 0, 40, left, right)]
    assert len(find_digits(comps)) == digits


@pytest.mark.parametrize(
    ("first", "second", "merged"),
    [
        ((0, 10), (16, 26), True),  # gap 6 = 0.12 × 50: a hairline break
        ((0, 10), (17, 27), False),  # gap 7: two digits
        ((0, 25), (27, 37), False),  # a half 25 wide = 0.5 × 50: not a narrow arc
        ((0, 24), (30, 45), True),  # together 45 wide = 0.9 × 50: still one digit
    ],
)
def test_hairline_breaks_are_merged_within_their_limits(first, second, merged):
    # Two pieces of a 50-px-tall number, then a third digit far to the right.
    comps = [box(1, 0, 50, *first), box(2, 0, 50, *second), box(3, 0, 50, 80, 105)]
    regions = find_digits(comps)
    expected = [(1, 2), (3,)] if merged else [(1,), (2,), (3,)]
    assert [r.labels for r in regions] == expected


def test_label_takes_any_truthy_mask_and_gives_int32_labels():
    ink = np.zeros((6, 9), dtype=np.uint8)
    ink[1:3, 1:4] = 255  # an 8-bit image's ink
    ink[4, 6:8] = 1
    labels, components = label(ink)
    expected, _ = label(ink > 0)
    np.testing.assert_array_equal(labels, expected)
    assert labels.dtype == np.int32
    assert [(c.top, c.bottom, c.left, c.right, c.area) for c in components] == [
        (1, 3, 1, 4, 6),
        (4, 5, 6, 8, 2),
    ]
    with pytest.raises(ValueError, match=r"^label expects a 2-D mask$"):
        label(np.ones((2, 2, 2), dtype=bool))


def test_a_bridge_is_found_anywhere_within_a_quarter_digit_of_the_even_cut():
    # 26 wide, 20 tall, two digits: the even cut is at column 13 and the search window
    # ± round(0.25 × 13) = 3 columns, so a thin bridge at column 10 or 16 is found.
    for widths, cut in (([10, 15], 10), ([16, 9], 16)):
        mask = blocks(20, widths, bridge_rows=1)
        region = Region((1,), 0, 20, 0, 26)
        assert [(p.left, p.right) for p in split_touching(region, mask)] == [(0, cut), (cut, 26)]
    # one column beyond the window (column 17) is too far from the even cut: not cut
    mask = blocks(20, [17, 8], bridge_rows=1)
    region = Region((1,), 0, 20, 0, 26)
    assert split_touching(region, mask) == [region]


def test_a_bridge_with_a_fifth_of_the_fullest_columns_ink_is_still_thin():
    mask = blocks(20, [13, 14], bridge_rows=4)  # 4 of 20 rows = CUT_INK
    region = Region((1,), 0, 20, 0, 28)
    assert [(p.left, p.right) for p in split_touching(region, mask)] == [(0, 13), (13, 28)]
    thicker = blocks(20, [13, 14], bridge_rows=5)
    assert split_touching(region, thicker) == [region]


def test_pieces_sharing_half_the_narrower_ones_columns_are_stacked():
    # A 2 whose top arc and base came apart, offset by half their width; a 1 beside it.
    comps = [box(1, 0, 18, 0, 20), box(2, 19, 40, 10, 30), box(3, 0, 20, 50, 56)]
    regions = find_digits(comps)
    assert [r.labels for r in regions] == [(1, 2), (3,)]
