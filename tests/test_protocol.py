"""The sandbox wire format: every value kind round-trips, and hostile frames are refused.

The grader decodes whatever a student's sandboxed child sends, so ``decode`` and ``receive``
are tested as if the peer were an attacker: every malformed header must raise ProtocolError
(never another exception), and size limits must be enforced before the bytes are read.
"""

import ast
import contextlib
import io
import json
import math
import socket
import struct
import threading
import time
import tokenize
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from grader.sandbox.wire import protocol
from grader.sandbox.wire.protocol import (
    MAX_DEPTH,
    MAX_HEADER_BYTES,
    MAX_NODES,
    MAX_PAYLOAD_BYTES,
    MAX_STRING,
    Opaque,
    ProtocolError,
    decode,
    encode,
    receive,
    send,
)

PREFIX = struct.Struct("!IQ")  # the documented frame prefix: header length, payload length
DTYPES = [
    torch.float16,
    torch.bfloat16,
    torch.float32,
    torch.float64,
    torch.uint8,
    torch.int8,
    torch.int16,
    torch.int32,
    torch.int64,
    torch.bool,
]
FLOATS = [torch.float16, torch.bfloat16, torch.float32, torch.float64]


# ---- helpers ----------------------------------------------------------------------------


def roundtrip(value: Any) -> Any:
    """encode, then through real JSON text (as on the wire), then decode."""
    header, payload = encode(value)
    text = json.dumps(header, allow_nan=False)
    return decode(json.loads(text), payload)


def over_the_wire(value: Any) -> Any:
    """send on one end of a socket pair, receive on the other."""
    ours, theirs = socket.socketpair()
    with ours, theirs:
        send(theirs, value)
        return receive(ours, deadline=time.monotonic() + 5)


def receive_raw(data: bytes, *, close: bool = True, **kwargs: Any) -> Any:
    """receive() a frame whose bytes the test wrote by hand."""
    ours, theirs = socket.socketpair()

    def write() -> None:  # in a thread: a frame may be larger than the socket's buffer
        with contextlib.suppress(OSError):
            theirs.sendall(data)
            if close:
                theirs.shutdown(socket.SHUT_WR)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    try:
        kwargs.setdefault("deadline", time.monotonic() + 2)
        return receive(ours, **kwargs)
    finally:
        ours.close()  # unblocks the writer if receive stopped early
        writer.join(timeout=2)
        theirs.close()


def frame(header: bytes, payload: bytes = b"") -> bytes:
    return PREFIX.pack(len(header), len(payload)) + header + payload


def tensor_node(
    dtype: Any = "float32", shape: Any = (2,), *, wire_shape: Any = None, **overrides: Any
) -> dict[str, Any]:
    """A well-formed tensor node (zeros at offset 0), with some fields overridden."""
    known = getattr(torch, dtype, None) if isinstance(dtype, str) else None
    itemsize = known.itemsize if isinstance(known, torch.dtype) else 4
    node = {
        "$": "tensor",
        "dtype": dtype,
        "shape": list(shape),
        "offset": 0,
        "nbytes": math.prod(shape) * itemsize,
        "requires_grad": False,
        "grad": None,
    }
    if wire_shape is not None:
        node["shape"] = wire_shape
    node.update(overrides)
    return node


def nested(value: Any, levels: int) -> Any:
    for _ in range(levels):
        value = [value]
    return value


def nested_item(value: Any, levels: int) -> Any:
    for _ in range(levels):
        (value,) = value
    return value


def same_tensor(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Equal dtype, shape and bits (so nan == nan and -0.0 != 0.0)."""
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    if a.dtype.is_floating_point:
        bits = {2: torch.int16, 4: torch.int32, 8: torch.int64}[a.dtype.itemsize]
        return torch.equal(a.contiguous().view(bits), b.contiguous().view(bits))
    return torch.equal(a, b)


def sample(dtype: torch.dtype, shape: tuple[int, ...] = (2, 3)) -> torch.Tensor:
    values = torch.arange(math.prod(shape), dtype=torch.int64).reshape(shape)
    if dtype == torch.bool:
        return values % 2 == 1
    if dtype.is_floating_point:
        return (values.to(torch.float64) * 0.5 - 1).to(dtype)
    if dtype == torch.uint8:
        return (values * 37 + 200).remainder(256).to(dtype)  # values above 127 too
    return (values - 3).to(dtype)  # negative values too


# ---- round trips: plain values --------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        False,
        0,
        -7,
        2**62,
        -(2**63),
        10**30,
        1.5,
        -0.0,
        1e-310,
        1.7976931348623157e308,
        "",
        "plain",
        "ünïcødé ✓ σ(x) 🙂",
        'nul \x00 and newline \n and quote "',
    ],
    ids=repr,
)
def test_scalars_round_trip_with_their_exact_type(value):
    for result in (roundtrip(value), over_the_wire(value)):
        assert type(result) is type(value)
        assert result == value
        if isinstance(value, float):
            assert math.copysign(1, result) == math.copysign(1, value)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf], ids=repr)
def test_special_floats_round_trip(value):
    # The header must stay strict JSON (send uses allow_nan=False), so these are tagged.
    header, _ = encode(value)
    json.dumps(header, allow_nan=False)
    for result in (roundtrip(value), over_the_wire([value, {"x": value}])[0]):
        assert type(result) is float
        assert (math.isnan(result) and math.isnan(value)) or result == value


def test_tuples_and_lists_keep_their_kind():
    value = ((), [], (1,), [1], ([2, (3, [4])], [(5,)]))
    for result in (roundtrip(value), over_the_wire(value)):
        assert result == value
        assert type(result) is tuple
        assert type(result[0]) is tuple and type(result[1]) is list
        assert type(result[4][0]) is list and type(result[4][0][1]) is tuple
        assert type(result[4][0][1][1]) is list and type(result[4][1][0]) is tuple


def test_dicts_round_trip_in_order():
    value = {"z": 1, "a": [1, 2], "m": {"inner": (None, "s")}, "": {}}
    for result in (roundtrip(value), over_the_wire(value)):
        assert result == value
        assert list(result) == ["z", "a", "m", ""]
        assert type(result["m"]["inner"]) is tuple


def test_dict_keys_travel_as_strings():
    assert roundtrip({1: "one", None: "none", (1, 2): "pair"}) == {
        "1": "one",
        "None": "none",
        "(1, 2)": "pair",
    }


def test_a_nested_mixture_round_trips():
    value = {
        "ok": True,
        "result": (
            [1, 2.5, "three", None, math.inf],
            {"tensor": torch.arange(4.0), "ints": torch.tensor([[1, 2]])},
        ),
        "output": "printed\n",
    }
    result = over_the_wire(value)
    assert result["ok"] is True and result["output"] == "printed\n"
    plain, tensors = result["result"]
    assert plain == [1, 2.5, "three", None, math.inf]
    assert same_tensor(tensors["tensor"], torch.arange(4.0))
    assert same_tensor(tensors["ints"], torch.tensor([[1, 2]]))


def test_several_frames_on_one_socket_stay_apart():
    ours, theirs = socket.socketpair()
    with ours, theirs:
        values = [{"n": 1}, torch.ones(3), [], "last"]
        for value in values:
            send(theirs, value)
        deadline = time.monotonic() + 5
        received = [receive(ours, deadline=deadline) for _ in values]
    assert received[0] == {"n": 1}
    assert same_tensor(received[1], torch.ones(3))
    assert received[2:] == [[], "last"]


# ---- round trips: tensors -------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_tensors_of_every_supported_dtype_round_trip(dtype):
    original = sample(dtype)
    for result in (roundtrip(original), over_the_wire(original)):
        assert type(result) is torch.Tensor
        assert same_tensor(result, original)
        assert not result.requires_grad and result.grad is None


@pytest.mark.parametrize("dtype", FLOATS, ids=str)
def test_float_tensors_keep_nan_inf_and_negative_zero_bit_for_bit(dtype):
    original = torch.tensor([math.nan, math.inf, -math.inf, -0.0, 0.0, 1.0], dtype=dtype)
    assert same_tensor(roundtrip(original), original)


def test_bfloat16_bits_are_not_reinterpreted_as_float16():
    original = torch.tensor([1.0e30, -3.0e-30, 65504.0 * 4], dtype=torch.bfloat16)
    result = roundtrip(original)
    assert result.dtype == torch.bfloat16
    assert same_tensor(result, original)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_zero_dim_tensors_round_trip(dtype):
    original = sample(dtype, (1,)).reshape(())
    result = roundtrip(original)
    assert result.shape == () and same_tensor(result, original)


@pytest.mark.parametrize("shape", [(0,), (2, 0, 3), (0, 0)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.int64, torch.bool], ids=str)
def test_empty_tensors_round_trip(dtype, shape):
    original = torch.empty(shape, dtype=dtype)
    assert encode(original)[1] == b""
    result = roundtrip(original)
    assert result.shape == shape and result.dtype == dtype


@pytest.mark.parametrize(
    "make",
    [
        lambda: torch.arange(12.0).reshape(3, 4).t(),
        lambda: torch.arange(24).reshape(4, 6)[1:, ::2],
        lambda: torch.tensor([1.0, 2.0]).expand(3, 2),
        lambda: torch.arange(12, dtype=torch.bfloat16).reshape(3, 4).t(),
        lambda: torch.arange(60.0).reshape(3, 4, 5).permute(2, 0, 1)[..., 1],
    ],
    ids=["transposed", "strided", "expanded", "bf16-strided", "permuted"],
)
def test_non_contiguous_tensors_arrive_with_the_same_values(make):
    original = make()
    assert not original.is_contiguous()
    result = roundtrip(original)
    assert result.shape == original.shape
    assert torch.equal(result, original)


def test_a_received_tensor_owns_its_memory():
    shared = torch.arange(4.0)
    header, payload = encode([shared, shared])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. torch.frombuffer's non-writable buffer warning
        first, second = decode(header, payload)
    first += 100
    assert torch.equal(second, torch.arange(4.0))
    assert torch.equal(decode(header, payload)[0], torch.arange(4.0))


def test_requires_grad_without_grad_round_trips():
    original = torch.tensor([1.0, 2.0], requires_grad=True)
    result = over_the_wire(original)
    assert result.requires_grad and result.is_leaf and result.grad is None
    assert torch.equal(result.detach(), original.detach())


@pytest.mark.parametrize("dtype", FLOATS, ids=str)
def test_requires_grad_with_grad_round_trips(dtype):
    original = torch.tensor([1.0, -2.0, 3.0], dtype=dtype, requires_grad=True)
    (original * original).sum().backward()
    result = over_the_wire(original)
    assert result.requires_grad and result.is_leaf
    assert type(result.grad) is torch.Tensor and not result.grad.requires_grad
    assert same_tensor(result.grad, original.grad)
    assert same_tensor(result.detach(), original.detach())
    result.sum().backward()  # the rebuilt leaf still takes part in autograd
    assert same_tensor(result.grad, original.grad + 1)


def test_a_grad_without_requires_grad_round_trips():
    original = torch.ones(2)
    original.grad = torch.full((2,), 7.0)
    result = roundtrip(original)
    assert not result.requires_grad
    assert same_tensor(result.grad, original.grad)


def test_parameters_arrive_as_plain_tensors_with_their_grad():
    layer = torch.nn.Linear(3, 2)
    layer(torch.ones(1, 3)).sum().backward()
    result = roundtrip(dict(layer.named_parameters()))
    for name, parameter in layer.named_parameters():
        assert type(result[name]) is torch.Tensor
        assert result[name].requires_grad
        assert same_tensor(result[name].detach(), parameter.detach())
        assert same_tensor(result[name].grad, parameter.grad)


def test_the_grad_of_a_non_leaf_is_not_sent_and_does_not_warn():
    leaf = torch.tensor([1.0, 2.0], requires_grad=True)
    kept, plain = leaf * 2, leaf * 3
    kept.retain_grad()
    (kept.sum() + plain.sum()).backward()
    assert kept.grad is not None  # it has one, yet only leaves carry a grad on the wire
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # reading .grad of a non-leaf warns in torch
        header, payload = encode([kept, plain])
    assert [node["grad"] for node in header["value"]["items"]] == [None, None]
    for result, original in zip(decode(header, payload), (kept, plain), strict=True):
        assert result.requires_grad and result.is_leaf and result.grad is None
        assert torch.equal(result.detach(), original.detach())


class Liar(torch.Tensor):
    """A student's tensor that claims to equal anything, and to be anything."""

    def __eq__(self, other):
        return True

    __hash__ = torch.Tensor.__hash__

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        if func in (torch.equal, torch.allclose, torch.Tensor.__eq__, torch.isclose):
            return True
        return super().__torch_function__(func, types, args, kwargs or {})


def test_a_tensor_subclass_arrives_as_a_plain_tensor_with_the_same_values():
    liar = torch.tensor([1.0, 2.0, 3.0]).as_subclass(Liar)
    assert torch.equal(liar, torch.zeros(3)) is True  # the lie, before the wire
    for result in (roundtrip(liar), over_the_wire({"r": liar})["r"]):
        assert type(result) is torch.Tensor
        assert torch.equal(result, torch.tensor([1.0, 2.0, 3.0]))
        assert not torch.equal(result, torch.zeros(3))
        assert not (result == torch.zeros(3)).any()


def test_a_tensor_subclass_keeps_requires_grad_and_grad():
    liar = torch.tensor([1.0, 2.0]).as_subclass(Liar).requires_grad_()
    liar.grad = torch.tensor([5.0, 6.0])
    result = roundtrip(liar)
    assert type(result) is torch.Tensor and result.requires_grad
    assert type(result.grad) is torch.Tensor
    assert torch.equal(result.grad, torch.tensor([5.0, 6.0]))


# ---- unsupported values become Opaque -------------------------------------------------


class Thing:
    def __repr__(self) -> str:
        return "<a thing>"


class BadRepr:
    def __repr__(self) -> str:
        raise ZeroDivisionError("no repr for you")


class HugeRepr:
    def __repr__(self) -> str:
        return "x" * 10_000


def test_a_numpy_array_is_opaque():
    result = over_the_wire(np.arange(3))
    assert isinstance(result, Opaque)
    assert result.type == "numpy.ndarray"
    assert "0, 1, 2" in result.repr


def test_a_custom_object_is_opaque_with_its_qualified_type_name():
    result = roundtrip(Thing())
    assert result == Opaque(type=f"{__name__}.Thing", repr="<a thing>")


def test_an_object_whose_repr_raises_is_still_described():
    result = over_the_wire([BadRepr()])[0]
    assert isinstance(result, Opaque)
    assert result.type.endswith("BadRepr")
    assert "ZeroDivisionError" in result.repr


def test_a_long_repr_is_cut_short():
    result = roundtrip(HugeRepr())
    assert isinstance(result, Opaque) and 0 < len(result.repr) <= 300


@pytest.mark.parametrize(
    ("value", "type_name"),
    [
        (torch.tensor([1 + 2j]), "complex64"),
        (torch.tensor([1 + 2j], dtype=torch.complex128), "complex128"),
        (torch.tensor([1, 2], dtype=torch.uint16), "uint16"),
        (torch.zeros(2, dtype=torch.float8_e4m3fn), "float8"),
    ],
    ids=["complex64", "complex128", "uint16", "float8"],
)
def test_tensors_of_unsupported_dtypes_are_opaque(value, type_name):
    header, payload = encode(value)
    assert payload == b""
    result = decode(header, payload)
    assert isinstance(result, Opaque)
    assert type_name in result.type and "tensor" in result.type


@pytest.mark.parametrize(
    ("value", "type_name"),
    [
        ({1, 2}, "set"),
        (b"bytes", "bytes"),
        (np.float64(1.5), "numpy.float64"),  # exact types only: a float subclass is opaque
        (range(3), "range"),
        (Thing, "type"),
        (len, "builtin_function_or_method"),
    ],
    ids=["set", "bytes", "np.float64", "range", "class", "function"],
)
def test_other_python_objects_are_opaque(value, type_name):
    result = over_the_wire({"value": value})["value"]
    assert isinstance(result, Opaque)
    assert result.type == type_name


@pytest.mark.parametrize(
    "make",
    [
        lambda: torch.zeros(2, 2).to_sparse(),
        lambda: torch.empty(2, device="meta"),
        lambda: torch.tensor([1 + 2j]).conj().imag,  # a float32 view with the neg bit set
    ],
    ids=["sparse", "meta", "neg-bit"],
)
def test_tensors_that_cannot_be_copied_out_are_opaque(make):
    result = roundtrip(make())
    assert isinstance(result, Opaque | torch.Tensor)


def test_opaque_values_pass_through_unchanged():
    value = [Opaque(type="numpy.ndarray", repr="array([1])"), 1]
    assert roundtrip(value) == value


def test_nesting_up_to_the_limit_round_trips():
    value = nested(0, MAX_DEPTH)
    assert roundtrip(value) == value


def test_encode_replaces_values_nested_too_deeply():
    header, _ = encode(nested("deep", MAX_DEPTH + 5))
    node = header["value"]
    while node.get("$") == "list":
        (node,) = node["items"]
    assert node == {"$": "opaque", "type": "list", "repr": "(nested too deeply)"}


def test_values_nested_too_deeply_come_back_as_opaque():
    result = roundtrip(nested("deep", MAX_DEPTH + 5))
    while isinstance(result, list):
        (result,) = result
    assert isinstance(result, Opaque) and result.type == "list"


def test_a_tensor_at_the_deepest_level_round_trips_without_its_grad():
    leaf = torch.ones(2, requires_grad=True)
    leaf.grad = torch.ones(2)
    result = nested_item(roundtrip(nested(leaf, MAX_DEPTH)), MAX_DEPTH)
    assert torch.equal(result, torch.ones(2)) and result.grad is None  # one level too deep


def test_a_tensor_with_grad_one_level_up_keeps_it():
    leaf = torch.ones(2, requires_grad=True)
    leaf.grad = torch.ones(2)
    result = nested_item(roundtrip(nested(leaf, MAX_DEPTH - 1)), MAX_DEPTH - 1)
    assert torch.equal(result.grad, torch.ones(2))


# ---- decode refuses hostile headers ---------------------------------------------------


def bad_headers() -> list[tuple[str, Any, bytes]]:
    """(id, header, payload): each must make decode raise ProtocolError."""
    float4 = b"\x00" * 4
    return [
        ("header-is-a-list", [1], b""),
        ("header-is-a-string", "value", b""),
        ("header-is-null", None, b""),
        ("header-missing-value", {}, b""),
        ("header-extra-key", {"value": 1, "pickle": "x"}, b""),
        ("bare-json-list", {"value": [1, 2]}, b""),
        ("bare-json-list-nested", {"value": {"$": "tuple", "items": [[1]]}}, b""),
        ("unknown-tag", {"value": {"$": "pickle", "data": "gASV"}}, b""),
        ("untagged-object", {"value": {"a": 1}}, b""),
        ("tag-not-a-string", {"value": {"$": ["tuple"], "items": []}}, b""),
        ("tuple-extra-key", {"value": {"$": "tuple", "items": [], "class": "x"}}, b""),
        ("tuple-missing-items", {"value": {"$": "tuple"}}, b""),
        ("list-items-not-list", {"value": {"$": "list", "items": "abc"}}, b""),
        ("dict-items-not-list", {"value": {"$": "dict", "items": {"a": 1}}}, b""),
        ("dict-pair-non-string-key", {"value": {"$": "dict", "items": [[1, 2]]}}, b""),
        ("dict-pair-too-short", {"value": {"$": "dict", "items": [["a"]]}}, b""),
        ("dict-pair-too-long", {"value": {"$": "dict", "items": [["a", 1, 2]]}}, b""),
        ("dict-pair-not-list", {"value": {"$": "dict", "items": ["a"]}}, b""),
        ("float-bad-repr", {"value": {"$": "float", "repr": "NaN"}}, b""),
        ("float-repr-expression", {"value": {"$": "float", "repr": "1e999"}}, b""),
        ("float-repr-not-string", {"value": {"$": "float", "repr": 1.0}}, b""),
        ("float-extra-key", {"value": {"$": "float", "repr": "nan", "x": 1}}, b""),
        ("opaque-type-not-string", {"value": {"$": "opaque", "type": 1, "repr": ""}}, b""),
        ("opaque-missing-repr", {"value": {"$": "opaque", "type": "t"}}, b""),
        ("tensor-missing-key", {"value": _without(tensor_node(), "grad")}, bytes(8)),
        ("tensor-extra-key", {"value": tensor_node(storage="x")}, bytes(8)),
        ("dtype-unknown", {"value": tensor_node(dtype="complex64")}, bytes(16)),
        ("dtype-torch-prefixed", {"value": tensor_node(dtype="torch.float32")}, bytes(8)),
        ("dtype-object", {"value": tensor_node(dtype="object")}, bytes(16)),
        ("dtype-not-string", {"value": tensor_node(dtype=4, nbytes=8)}, bytes(8)),
        ("dtype-null", {"value": tensor_node(dtype=None, nbytes=8)}, bytes(8)),
        ("nbytes-too-small", {"value": tensor_node(shape=(2,), nbytes=4)}, bytes(8)),
        ("nbytes-too-large", {"value": tensor_node(shape=(2,), nbytes=12)}, bytes(12)),
        ("nbytes-for-another-dtype", {"value": tensor_node(dtype="float64", nbytes=8)}, float4),
        ("shape-negative", {"value": tensor_node(shape=(-2, -2), nbytes=16)}, bytes(16)),
        ("shape-negative-one", {"value": tensor_node(shape=(1,), wire_shape=[-1])}, float4),
        ("shape-float", {"value": tensor_node(shape=(1,), wire_shape=[1.0])}, float4),
        ("shape-string", {"value": tensor_node(shape=(1,), wire_shape=["1"])}, float4),
        ("shape-bool", {"value": tensor_node(shape=(1,), wire_shape=[True])}, float4),
        ("shape-null", {"value": tensor_node(shape=(1,), wire_shape=[None])}, float4),
        ("shape-not-list", {"value": tensor_node(shape=(1,), wire_shape=1)}, float4),
        ("shape-too-many-dims", {"value": tensor_node(shape=(1,) * 17)}, float4),
        ("offset-negative", {"value": tensor_node(shape=(1,), offset=-4)}, bytes(8)),
        ("offset-float", {"value": tensor_node(shape=(1,), offset=0.0)}, float4),
        ("offset-bool", {"value": tensor_node(shape=(1,), offset=False)}, float4),
        ("nbytes-negative", {"value": tensor_node(shape=(0,), nbytes=-4)}, float4),
        ("nbytes-string", {"value": tensor_node(shape=(1,), nbytes="4")}, float4),
        ("beyond-payload", {"value": tensor_node(shape=(2,))}, float4),
        ("offset-beyond-payload", {"value": tensor_node(shape=(1,), offset=1)}, float4),
        ("far-beyond-payload", {"value": tensor_node(shape=(1,), offset=2**62)}, float4),
        ("empty-payload", {"value": tensor_node(shape=(1,))}, b""),
        ("requires-grad-int", {"value": tensor_node("int64", (1,), requires_grad=True)}, bytes(8)),
        ("requires-grad-bool", {"value": tensor_node("bool", (1,), requires_grad=True)}, bytes(1)),
        ("requires-grad-not-bool", {"value": tensor_node(shape=(1,), requires_grad=1)}, float4),
        (
            "grad-other-shape",
            {"value": tensor_node(shape=(1,), grad=tensor_node(shape=(2,)))},
            bytes(8),
        ),
        (
            "grad-other-dtype",
            {"value": tensor_node(shape=(1,), grad=tensor_node("float64", (1,)))},
            bytes(8),
        ),
        ("grad-not-a-tensor", {"value": tensor_node(shape=(1,), grad=0.0)}, float4),
        (
            "grad-a-list",
            {"value": tensor_node(shape=(1,), grad={"$": "list", "items": []})},
            float4,
        ),
        (
            "grad-an-opaque",
            {"value": tensor_node(shape=(1,), grad={"$": "opaque", "type": "t", "repr": ""})},
            float4,
        ),
        ("string-over-limit", {"value": "x" * (MAX_STRING + 1)}, b""),
        (
            "string-over-limit-nested",
            {
                "value": {
                    "$": "dict",
                    "items": [["k", {"$": "list", "items": ["x" * (MAX_STRING + 1)]}]],
                }
            },
            b"",
        ),
        ("opaque-repr-not-string", {"value": {"$": "opaque", "type": "t", "repr": 5}}, b""),
        ("too-many-nodes", {"value": {"$": "list", "items": [0] * MAX_NODES}}, b""),
        ("too-deep", {"value": _tagged_nesting(MAX_DEPTH + 1)}, b""),
        ("far-too-deep", {"value": _tagged_nesting(200)}, b""),
        ("unexpected-json-type", {"value": {"$": "tuple", "items": [(1, 2)]}}, b""),
    ]


def _without(node: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in node.items() if k != key}


def _tagged_nesting(levels: int) -> Any:
    value: Any = 0
    for _ in range(levels):
        value = {"$": "list", "items": [value]}
    return value


BAD_HEADERS = bad_headers()


@pytest.mark.parametrize(
    ("header", "payload"), [case[1:] for case in BAD_HEADERS], ids=[case[0] for case in BAD_HEADERS]
)
def test_decode_refuses_a_hostile_header(header, payload):
    with pytest.raises(ProtocolError):
        decode(header, payload)


@pytest.mark.parametrize(
    ("header", "payload"), [case[1:] for case in BAD_HEADERS], ids=[case[0] for case in BAD_HEADERS]
)
def test_receive_refuses_the_same_headers_from_a_socket(header, payload):
    raw = json.dumps(header).encode()
    with pytest.raises(ProtocolError):
        receive_raw(frame(raw, payload))


def test_limits_are_inclusive():
    assert decode({"value": "x" * MAX_STRING}, b"") == "x" * MAX_STRING
    items = [0] * (MAX_NODES - 1)  # the list itself is one node
    assert decode({"value": {"$": "list", "items": items}}, b"") == items
    assert decode({"value": _tagged_nesting(MAX_DEPTH)}, b"") == nested(0, MAX_DEPTH)
    assert decode({"value": tensor_node(shape=(1,) * 16)}, bytes(4)).shape == (1,) * 16


def test_the_node_limit_counts_the_whole_message():
    # Many small lists, each well within limits, together over MAX_NODES.
    chunk = {"$": "list", "items": [0] * 999}
    header = {"value": {"$": "list", "items": [chunk] * (MAX_NODES // 1000 + 1)}}
    with pytest.raises(ProtocolError):
        decode(header, b"")


def test_tensors_may_not_share_or_skip_payload_bytes():
    """Overlapping tensors would let a small message claim gigabytes of copies."""
    payload = struct.pack("<3f", 1.0, 2.0, 3.0)
    in_order = [tensor_node(shape=(2,), offset=0), tensor_node(shape=(1,), offset=8)]
    first, second = decode({"value": {"$": "tuple", "items": in_order}}, payload)
    assert first.tolist() == [1.0, 2.0] and second.tolist() == [3.0]
    overlapping = [tensor_node(shape=(2,), offset=0), tensor_node(shape=(2,), offset=4)]
    with pytest.raises(ProtocolError, match="without overlap"):
        decode({"value": {"$": "tuple", "items": overlapping}}, payload)
    with pytest.raises(ProtocolError, match="no tensor uses"):
        decode({"value": tensor_node(shape=(2,), offset=0)}, payload)


def test_opaque_strings_from_the_peer_are_cut_short():
    header = {"value": {"$": "opaque", "type": "t" * 5000, "repr": "r" * 5000}}
    result = decode(header, b"")
    assert len(result.type) <= 200 and len(result.repr) <= 300


@pytest.mark.parametrize("shape", [[0, 2**63], [0, 2**40, 2**40]], ids=["overflow", "strides"])
def test_decode_refuses_absurd_dimensions_of_an_empty_tensor(shape):
    with pytest.raises(ProtocolError):
        header = {"value": tensor_node(shape=(0,), wire_shape=shape, nbytes=0)}
        decode(header, b"")


def test_decode_refuses_a_dict_key_over_the_string_limit():
    with pytest.raises(ProtocolError):
        decode({"value": {"$": "dict", "items": [["k" * (MAX_STRING + 1), 1]]}}, b"")


# ---- receive: the raw frame ------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        b'{"value":NaN}',
        b'{"value":Infinity}',
        b'{"value":-Infinity}',
        b'{"value":{"$":"list","items":[1,NaN]}}',
    ],
    ids=["NaN", "Infinity", "-Infinity", "nested-NaN"],
)
def test_receive_refuses_non_standard_json_constants(raw):
    with pytest.raises(ProtocolError):
        receive_raw(frame(raw))


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"{",
        b'{"value": 1} trailing',
        b"\xff\xfe{}",
        b'{"value": "\xc3"}',
        b"[" * 100_000 + b"]" * 100_000,
        b'{"value": ' + b"9" * 5000 + b"}",
        b"\x80\x04\x95pickle",
    ],
    ids=[
        "empty",
        "unclosed",
        "trailing",
        "utf16-bom",
        "bad-utf8",
        "deep-json",
        "huge-int",
        "pickle",
    ],
)
def test_receive_refuses_a_header_that_is_not_json(raw):
    with pytest.raises(ProtocolError):
        receive_raw(frame(raw))


def test_receive_refuses_a_header_over_the_limit_before_reading_it():
    # Only the prefix is sent and the socket stays open: reading on would hang (and time out).
    started = time.monotonic()
    with pytest.raises(ProtocolError):
        receive_raw(PREFIX.pack(MAX_HEADER_BYTES + 1, 0), close=False)
    assert time.monotonic() - started < 1


@pytest.mark.parametrize(
    ("limit", "announced"),
    [(None, MAX_PAYLOAD_BYTES + 1), (None, 2**64 - 1), (16, 17), (0, 1)],
    ids=["default", "absurd", "custom", "zero"],
)
def test_receive_refuses_a_payload_over_the_limit_before_reading_it(limit, announced):
    kwargs = {} if limit is None else {"max_payload": limit}
    started = time.monotonic()
    with pytest.raises(ProtocolError):
        receive_raw(PREFIX.pack(2, announced) + b"{}", close=False, **kwargs)
    assert time.monotonic() - started < 1


def test_a_payload_at_the_limit_is_accepted():
    header, payload = encode(torch.ones(4))
    raw = json.dumps(header).encode()
    result = receive_raw(frame(raw, payload), max_payload=len(payload))
    assert torch.equal(result, torch.ones(4))


@pytest.mark.parametrize("cut", [0, 5, PREFIX.size, PREFIX.size + 3, -1], ids=str)
def test_a_truncated_frame_raises_eof(cut):
    header, payload = encode({"t": torch.arange(4.0), "s": "text"})
    data = frame(json.dumps(header).encode(), payload)
    with pytest.raises(EOFError):
        receive_raw(data[:cut])


def test_a_silent_peer_times_out_at_the_deadline():
    ours, theirs = socket.socketpair()
    with ours, theirs:
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            receive(ours, deadline=started + 0.2)
        assert 0.15 < time.monotonic() - started < 1.5  # generous: the machine may be busy


def test_a_deadline_already_passed_times_out_at_once():
    ours, theirs = socket.socketpair()
    with ours, theirs:
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            receive(ours, deadline=started - 1)
        assert time.monotonic() - started < 1


def test_a_peer_trickling_bytes_cannot_outlast_the_deadline():
    header, payload = encode({"value": list(range(50))})
    data = frame(json.dumps(header).encode(), payload)
    ours, theirs = socket.socketpair()
    stop = threading.Event()
    sent = [0]

    def trickle() -> None:
        for byte in data:  # one byte every 20 ms: each recv gets something, never all of it
            if stop.wait(0.02):
                return
            try:
                theirs.sendall(bytes([byte]))
                sent[0] += 1
            except OSError:
                return

    sender = threading.Thread(target=trickle, daemon=True)
    sender.start()
    try:
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            receive(ours, deadline=started + 0.3)
        elapsed = time.monotonic() - started
    finally:
        stop.set()
        sender.join(timeout=2)
        ours.close()
        theirs.close()
    assert 0.25 < elapsed < 1.5  # far less than the trickle needs
    assert sent[0] >= 5  # the peer was not silent: bytes kept arriving until the deadline
    assert len(data) * 0.02 > 3  # the whole frame would take seconds


# ---- the module itself -----------------------------------------------------------------


def test_protocol_never_uses_pickle_or_torch_load():
    source = Path(protocol.__file__).read_text(encoding="utf-8")
    # The docstring says "no pickle, no torch.load": look at code tokens only.
    tokens = tokenize.generate_tokens(io.StringIO(source).readline)
    names = {token.string for token in tokens if token.type == tokenize.NAME}
    forbidden = {"pickle", "cPickle", "marshal", "shelve", "dill", "cloudpickle", "joblib"}
    forbidden |= {"load", "from_file", "eval", "exec", "compile", "__import__", "importlib"}
    assert not names & forbidden

    tree = ast.parse(source)
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add((node.module or "").split(".")[0])
    allowed = {"__future__", "json", "math", "socket", "struct", "time", "dataclasses", "typing"}
    assert imported <= allowed | {"torch"}
    readers = [
        ast.unparse(node)
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and ("load" in node.attr.lower() or "Decoder" in node.attr)
    ]
    assert readers and set(readers) <= {"json.loads", "json.JSONDecoder"}  # JSON text, no objects
