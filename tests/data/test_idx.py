"""The IDX reader and writer: round trips, and every kind of damage refused with a ValueError."""

from __future__ import annotations

import gzip
from pathlib import Path

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tinycnn.data.idx import IDX_DTYPES, idx_bytes, load_idx, save_idx

# The six IDX element types, in both byte orders where that means something.
DTYPES = st.sampled_from(["u1", "i1", "<i2", ">i2", "<i4", ">i4", "<f4", ">f4", "<f8", ">f8"])
SHAPES = hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=5)
# tmp_path is reused across the examples of one test; each example overwrites its own file.
FIXTURE_OK = settings(
    suppress_health_check=[
        *settings.default.suppress_health_check,
        HealthCheck.function_scoped_fixture,
    ]
)


@st.composite
def idx_arrays(draw) -> np.ndarray:
    """Any array IDX can hold: one of the six types, 1-4 dimensions of size 1-5, any values."""
    return draw(hnp.arrays(draw(DTYPES), SHAPES))


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal shape, equal values as native numbers, with NaNs (and their payloads) compared."""
    a_native = a.astype(a.dtype.newbyteorder("="))
    return a.shape == b.shape and a_native.tobytes() == b.tobytes()


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@FIXTURE_OK
@given(array=idx_arrays(), compressed=st.booleans())
def test_any_array_reads_back_equal(tmp_path, array, compressed):
    path = tmp_path / ("a.idx.gz" if compressed else "a.idx")
    save_idx(path, array)
    back = load_idx(path)
    assert back.dtype == array.dtype.newbyteorder("=")
    assert back.flags.writeable and back.dtype.isnative
    assert same_bits(array, back)


@FIXTURE_OK
@given(array=idx_arrays(), data=st.data())
def test_any_truncation_is_refused(tmp_path, array, data):
    encoded = idx_bytes(array)
    cut = data.draw(st.integers(0, len(encoded) - 1), label="cut")
    path = write(tmp_path / "cut.idx", encoded[:cut])
    with pytest.raises(ValueError, match="cut.idx"):
        load_idx(path)


@FIXTURE_OK
@given(array=idx_arrays(), data=st.data())
def test_any_truncation_of_a_gzip_file_is_refused(tmp_path, array, data):
    save_idx(tmp_path / "full.gz", array)
    encoded = (tmp_path / "full.gz").read_bytes()
    cut = data.draw(st.integers(0, len(encoded) - 1), label="cut")
    path = write(tmp_path / "cut.gz", encoded[:cut])
    with pytest.raises(ValueError, match="cut.gz"):
        load_idx(path)


def header_length(array: np.ndarray) -> int:
    return 4 + 4 * array.ndim


@FIXTURE_OK
@given(array=idx_arrays(), data=st.data())
def test_any_header_byte_change_is_refused_or_only_retypes(tmp_path, array, data):
    """Change one header byte to any other value.

    Every change is refused, except one that no reader can detect: the type code replaced by
    another valid code with the same itemsize (ubyte 0x08 <-> sbyte 0x09, int 0x0C <-> float
    0x0D). That gives a valid file holding the same bytes under another type, so the test checks
    that this is all it does. Why the rest is caught (sizes are refused when 0, so every size is
    >= 1): the magic bytes must be 0; a changed size changes prod(sizes) and so the expected
    length; a changed ndim moves the header/data boundary by 4k bytes and changes the expected
    length by 4k plus a multiple of the element count that cannot cancel it (see ``idx.py``).
    """
    encoded = bytearray(idx_bytes(array))
    position = data.draw(st.integers(0, header_length(array) - 1), label="position")
    new_value = data.draw(st.integers(0, 255).filter(lambda v: v != encoded[position]))
    old_code = encoded[2]
    encoded[position] = new_value
    path = write(tmp_path / "flipped.idx", bytes(encoded))
    retyped = (
        position == 2
        and new_value in IDX_DTYPES
        and IDX_DTYPES[new_value].itemsize == IDX_DTYPES[old_code].itemsize
    )
    if not retyped:
        with pytest.raises(ValueError, match="flipped.idx"):
            load_idx(path)
        return
    back = load_idx(path)
    assert back.shape == array.shape
    assert back.astype(IDX_DTYPES[new_value]).tobytes() == bytes(encoded[header_length(array) :])
    # Knowing the expected type, as load_mnist does, closes the gap.
    with pytest.raises(ValueError, match="expected elements of type"):
        load_idx(path, dtype=array.dtype)


@FIXTURE_OK
@given(array=idx_arrays(), data=st.data())
def test_any_header_byte_change_is_refused_when_the_dtype_is_known(tmp_path, array, data):
    encoded = bytearray(idx_bytes(array))
    position = data.draw(st.integers(0, header_length(array) - 1), label="position")
    encoded[position] ^= data.draw(st.integers(1, 255), label="xor mask")
    path = write(tmp_path / "flipped.idx", bytes(encoded))
    with pytest.raises(ValueError, match="flipped.idx"):
        load_idx(path, dtype=array.dtype)


@FIXTURE_OK
@given(array=idx_arrays(), data=st.data())
def test_any_byte_change_in_a_gzip_file_is_refused_or_harmless(tmp_path, array, data):
    """A changed byte in the gzip wrapper's header (time stamp, OS) leaves the content intact;
    anywhere else the CRC-32, the length field or the IDX checks refuse the file."""
    save_idx(tmp_path / "a.gz", array)
    encoded = bytearray((tmp_path / "a.gz").read_bytes())
    position = data.draw(st.integers(0, len(encoded) - 1), label="position")
    encoded[position] ^= data.draw(st.integers(1, 255), label="xor mask")
    path = write(tmp_path / "flipped.gz", bytes(encoded))
    try:
        back = load_idx(path, dtype=array.dtype)
    except ValueError as error:
        assert "flipped.gz" in str(error)
    else:
        assert same_bits(array, back)


@FIXTURE_OK
@given(array=idx_arrays(), garbage=st.binary(min_size=1, max_size=20))
def test_trailing_bytes_are_refused(tmp_path, array, garbage):
    path = write(tmp_path / "long.idx", idx_bytes(array) + garbage)
    with pytest.raises(ValueError, match=r"long.idx: trailing bytes"):
        load_idx(path)


def test_trailing_bytes_inside_a_gzip_stream_are_refused(tmp_path):
    # A second gzip member is legal gzip: its bytes extend the decompressed IDX data.
    data = idx_bytes(np.arange(6, dtype=np.uint8))
    path = write(tmp_path / "two.gz", gzip.compress(data) + gzip.compress(b"\x07"))
    with pytest.raises(ValueError, match="two.gz: trailing bytes after the 6 bytes"):
        load_idx(path)


def test_garbage_after_a_gzip_stream_is_refused(tmp_path):
    data = idx_bytes(np.arange(6, dtype=np.uint8))
    path = write(tmp_path / "junk.gz", gzip.compress(data) + b"junk")
    with pytest.raises(ValueError, match="junk.gz: corrupt or truncated gzip"):
        load_idx(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the file is empty"),
        (b"\x00\x00\x08", "truncated header: 3 of 4 bytes"),
        (b"\x00\x01\x08\x01\x00\x00\x00\x01\x05", r"wrong magic number: .* got 00 01 08 01"),
        (b"\x00\x00\x0a\x01\x00\x00\x00\x01\x05", "unknown type code 0x0A"),
        (b"\x00\x00\x08\x00\x05", "the header declares 0 dimensions"),
        (
            b"\x00\x00\x08\x02\x00\x00\x00\x01\x00\x00",
            "truncated header: 2 dimensions need 8 bytes of sizes, got 6",
        ),
        (
            b"\x00\x00\x08\x02\x00\x00\x00\x00\x00\x00\x00\x03",
            r"a dimension of size 0 in shape \(0, 3\)",
        ),
        (
            b"\x00\x00\x0c\x01\x00\x00\x00\x02\x00\x00\x00\x01\x00",
            "truncated data: expected 8 bytes, got at most 5",
        ),
        (b"\x1f\x8b\x08\x00garbage", "corrupt or truncated gzip"),
    ],
)
def test_damaged_files_name_the_file_and_the_problem(tmp_path, content, message):
    path = write(tmp_path / "bad.idx", content)
    with pytest.raises(ValueError, match=f"bad.idx: {message}"):
        load_idx(path)


def test_a_known_file_decodes_to_the_declared_type_and_shape(tmp_path):
    content = b"\x00\x00\x0b\x02\x00\x00\x00\x02\x00\x00\x00\x01" + b"\x01\x02\xff\xfe"
    out = load_idx(write(tmp_path / "short.idx", content))
    assert out.dtype == np.int16 and out.shape == (2, 1)
    assert out.tolist() == [[0x0102], [-2]]


def test_gzip_is_detected_by_content_not_name(tmp_path):
    array = np.arange(12, dtype=np.float32).reshape(3, 4)
    save_idx(tmp_path / "a.gz", array)
    (tmp_path / "a.gz").rename(tmp_path / "compressed.idx")
    save_idx(tmp_path / "raw.idx", array)
    (tmp_path / "raw.idx").rename(tmp_path / "raw.gz")
    np.testing.assert_array_equal(load_idx(tmp_path / "compressed.idx"), array)
    np.testing.assert_array_equal(load_idx(tmp_path / "raw.gz"), array)


def test_dtype_mismatch_is_refused(tmp_path):
    save_idx(tmp_path / "a.idx", np.zeros(3, dtype=np.int32))
    with pytest.raises(ValueError, match="expected elements of type uint8.*declares int32"):
        load_idx(tmp_path / "a.idx", dtype=np.uint8)


def test_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_idx(tmp_path / "nothing.idx")


def test_gzip_output_is_reproducible(tmp_path):
    array = np.arange(1000, dtype=np.int32).reshape(10, 100)
    save_idx(tmp_path / "a.gz", array)
    save_idx(tmp_path / "b.gz", array)
    first = (tmp_path / "a.gz").read_bytes()
    assert first == (tmp_path / "b.gz").read_bytes()
    assert first[3] == 0  # no FNAME: the file name is not stored
    assert first[4:8] == b"\x00\x00\x00\x00"  # modification time 0
    assert gzip.decompress(first) == idx_bytes(array)


def test_header_layout_is_big_endian(tmp_path):
    encoded = idx_bytes(np.array([[1, 2, 3]], dtype="<i4"))
    assert encoded[:12] == b"\x00\x00\x0c\x02\x00\x00\x00\x01\x00\x00\x00\x03"
    assert encoded[12:] == b"\x00\x00\x00\x01\x00\x00\x00\x02\x00\x00\x00\x03"


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.zeros(3, dtype=np.int64), "cannot store dtype int64"),
        (np.zeros(3, dtype=bool), "cannot store dtype bool"),
        (np.zeros((2, 0), dtype=np.uint8), r"sizes must be in \[1, 2\*\*32 - 1\]"),
        (np.array(5, dtype=np.uint8), "1 to 255 dimensions"),
    ],
)
def test_save_refuses_what_idx_cannot_hold(tmp_path, array, message):
    with pytest.raises(ValueError, match=message):
        save_idx(tmp_path / "a.idx", array)
    assert not (tmp_path / "a.idx").exists()


def test_huge_declared_size_is_refused_without_allocating(tmp_path):
    content = b"\x00\x00\x08\x03" + b"\xff" * 12 + b"\x00" * 10
    with pytest.raises(ValueError, match=f"expected {(2**32 - 1) ** 3} bytes, got at most 10"):
        load_idx(write(tmp_path / "huge.idx", content))
    write(tmp_path / "huge.gz", gzip.compress(content))
    with pytest.raises(ValueError, match="huge.gz: truncated data"):
        load_idx(tmp_path / "huge.gz")
