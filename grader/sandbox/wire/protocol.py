"""The wire format between the grader and a sandboxed child: plain data only.

Kept whole, though long: the encoder and the decoder of one format, side by side, so that
the decoder's checks (which the child's bytes must pass) can be read against what is sent.

A message is a frame: a 12-byte prefix (JSON header length, payload length), a JSON
header and a payload of raw tensor bytes. Values are JSON scalars or tagged objects:

    {"$": "tuple" | "list", "items": [...]}      {"$": "dict", "items": [[key, value], ...]}
    {"$": "tensor", "dtype": "float32", "shape": [2, 3], "offset": 0, "nbytes": 24,
     "requires_grad": false, "grad": <value>}
    {"$": "opaque", "type": "numpy.ndarray", "repr": "..."}   (anything else, described)

Reading never runs code: no pickle, no torch.load. ``decode`` checks the schema and the
sizes, because the child controls every byte; a bad message raises ProtocolError. A
received tensor is always a plain ``torch.Tensor`` rebuilt from bytes (whatever class the
sender had), with the sender's ``requires_grad`` and ``.grad``.
"""

from __future__ import annotations

import json
import math
import socket
import struct
import time
from dataclasses import dataclass
from typing import Any

import torch

MAX_HEADER_BYTES = 4 * 1024 * 1024
MAX_PAYLOAD_BYTES = 32 * 1024 * 1024  # the largest legitimate message is well under 1 MiB
MAX_DEPTH = 32
MAX_NODES = 200_000
MAX_STRING = 1024 * 1024
MAX_DIMENSION = 2**31 - 1
_PREFIX = struct.Struct("!IQ")
_DTYPES = {
    str(dtype).removeprefix("torch."): dtype
    for dtype in (
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
    )
}
_NAMES = {dtype: name for name, dtype in _DTYPES.items()}
_BAD_SHAPE = f"a tensor shape must be a list of at most 16 sizes from 0 to {MAX_DIMENSION}"
# bfloat16 has no numpy twin: its bytes travel as int16.
_BYTE_VIEWS = {torch.bfloat16: torch.int16}


class ProtocolError(Exception):
    """A message broke the format or its limits."""


@dataclass(frozen=True)
class Opaque:
    """A value the protocol does not carry, described by its type and a short repr."""

    type: str
    repr: str


# ---- encoding (runs on both sides) -------------------------------------------------


def encode(value: Any) -> tuple[dict[str, Any], bytes]:
    """Turn a value into (header, payload), within the limits ``decode`` enforces.

    What the format cannot carry (a string or a nesting past the limits, a sparse or
    complex tensor, any other object) becomes an opaque description; a message that
    would be too large altogether raises ProtocolError.
    """
    chunks: list[bytes] = []
    size = [0]
    nodes = [0]

    def opaque(v: Any, why: str = "", kind: str = "") -> dict[str, Any]:
        return {"$": "opaque", "type": kind or _type_name(v), "repr": why or _repr(v)}

    def tensor(t: torch.Tensor, depth: int) -> dict[str, Any]:
        try:
            name = _NAMES.get(t.dtype) if t.layout == torch.strided and not t.is_meta else None
            data = torch.Tensor.detach(t).cpu().resolve_conj().resolve_neg().contiguous()
        except Exception:  # a tensor subclass's methods may raise anything
            name = None
        if name is None:
            layout = "" if t.layout == torch.strided else f"{t.layout} ".removeprefix("torch.")
            return opaque(t, "a tensor the grader cannot read back", f"{layout}tensor of {t.dtype}")
        if size[0] + data.numel() * data.dtype.itemsize > MAX_PAYLOAD_BYTES:
            raise ProtocolError(
                f"tensors of more than {MAX_PAYLOAD_BYTES // 2**20} MiB in one message "
                f"(one of shape {tuple(data.shape)})"
            )
        view = _BYTE_VIEWS.get(data.dtype)
        raw = (data if view is None else data.view(view)).numpy().tobytes()
        node = {
            "$": "tensor",
            "dtype": name,
            "shape": list(data.shape),
            "offset": size[0],
            "nbytes": len(raw),
            "requires_grad": bool(t.requires_grad),
        }
        chunks.append(raw)
        size[0] += len(raw)
        grad = t.grad if t.is_leaf else None  # .grad of a non-leaf is always None (and warns)
        if grad is not None:
            nodes[0] += 1  # decode counts a grad as a value of its own
        # decode counts a grad one level deeper; past the limit it is left out
        node["grad"] = None if grad is None or depth >= MAX_DEPTH else tensor(grad, depth + 1)
        return node

    def walk(v: Any, depth: int) -> Any:
        nodes[0] += 1
        if nodes[0] > MAX_NODES:
            raise ProtocolError(f"more than {MAX_NODES} values in one message")
        kind = type(v)
        if v is None or kind in (bool, int):
            return v
        if kind is str:
            return v if len(v) <= MAX_STRING else opaque(v, f"a string of {len(v)} characters")
        if kind is float:
            return v if math.isfinite(v) else {"$": "float", "repr": repr(v)}
        if isinstance(v, torch.Tensor):
            return tensor(v, depth)
        if kind is Opaque:
            return {"$": "opaque", "type": v.type, "repr": v.repr}
        if kind not in (tuple, list, dict):
            return opaque(v)
        if depth >= MAX_DEPTH:  # the container's items would sit past the limit
            return opaque(v, "(nested too deeply)")
        if kind is dict:
            return {
                "$": "dict",
                "items": [[str(k)[:MAX_STRING], walk(x, depth + 1)] for k, x in v.items()],
            }
        return {"$": kind.__name__, "items": [walk(item, depth + 1) for item in v]}

    header = {"value": walk(value, 0)}
    return header, b"".join(chunks)


def _type_name(value: Any) -> str:
    kind = type(value)
    return (
        kind.__qualname__
        if kind.__module__ == "builtins"
        else f"{kind.__module__}.{kind.__qualname__}"
    )


def _repr(value: Any) -> str:
    try:
        return repr(value)[:300]
    except Exception as error:  # a student's __repr__ may raise
        return f"(repr failed: {type(error).__name__})"


# ---- decoding (runs on the trusted side: assume hostile input) ---------------------


def decode(header: Any, payload: bytes) -> Any:
    """Rebuild a value from (header, payload), validating everything."""
    if not isinstance(header, dict) or set(header) != {"value"}:
        raise ProtocolError("the header must be an object with exactly the key 'value'")
    buffer = bytearray(payload)  # torch.frombuffer wants a writable buffer
    nodes = [0]
    consumed = [0]  # tensors must tile the payload in order: no byte is read twice

    def walk(node: Any, depth: int) -> Any:
        nodes[0] += 1
        if nodes[0] > MAX_NODES or depth > MAX_DEPTH:
            raise ProtocolError("the value is too large or nested too deeply")
        if node is None or type(node) in (bool, int):
            return node
        if type(node) is float:
            return node
        if type(node) is str:
            if len(node) > MAX_STRING:
                raise ProtocolError("a string is too long")
            return node
        if type(node) is list:
            raise ProtocolError("a bare JSON list is not a value; lists are tagged")
        if type(node) is not dict:
            raise ProtocolError(f"unexpected JSON type {type(node).__name__}")
        tag = node.get("$")
        if tag in ("tuple", "list"):
            _keys(node, {"$", "items"})
            items = node["items"]
            if type(items) is not list:
                raise ProtocolError(f"{tag} items must be a list")
            values = [walk(item, depth + 1) for item in items]
            return tuple(values) if tag == "tuple" else values
        if tag == "dict":
            _keys(node, {"$", "items"})
            pairs = node["items"]
            if type(pairs) is not list:
                raise ProtocolError("dict items must be a list")
            result = {}
            for pair in pairs:
                if type(pair) is not list or len(pair) != 2 or type(pair[0]) is not str:
                    raise ProtocolError("dict items must be [string, value] pairs")
                if len(pair[0]) > MAX_STRING:
                    raise ProtocolError("a dict key is too long")
                result[pair[0]] = walk(pair[1], depth + 1)
            return result
        if tag == "float":
            _keys(node, {"$", "repr"})
            if node["repr"] not in ("nan", "inf", "-inf"):
                raise ProtocolError("a special float must be nan, inf or -inf")
            return float(node["repr"])
        if tag == "opaque":
            _keys(node, {"$", "type", "repr"})
            if type(node["type"]) is not str or type(node["repr"]) is not str:
                raise ProtocolError("opaque type and repr must be strings")
            return Opaque(type=node["type"][:200], repr=node["repr"][:300])
        if tag == "tensor":
            return tensor(node, depth)
        raise ProtocolError(f"unknown tag {tag!r}")

    def tensor(node: dict[str, Any], depth: int) -> torch.Tensor:
        _keys(node, {"$", "dtype", "shape", "offset", "nbytes", "requires_grad", "grad"})
        dtype = _DTYPES.get(node["dtype"]) if type(node["dtype"]) is str else None
        shape, offset, nbytes = node["shape"], node["offset"], node["nbytes"]
        if dtype is None:
            raise ProtocolError(f"unsupported dtype {node['dtype']!r}")
        if type(shape) is not list or len(shape) > 16:
            raise ProtocolError(_BAD_SHAPE)
        for n in shape:  # a loop, not any(): this runs for every tensor of every message
            if type(n) is not int or not 0 <= n <= MAX_DIMENSION:
                raise ProtocolError(_BAD_SHAPE)
        if type(offset) is not int or type(nbytes) is not int or offset < 0 or nbytes < 0:
            raise ProtocolError("tensor offset and nbytes must be integers >= 0")
        if math.prod(shape) * dtype.itemsize != nbytes or offset + nbytes > len(buffer):
            raise ProtocolError("tensor bytes do not match its shape, dtype or the payload")
        if offset != consumed[0]:
            raise ProtocolError("tensors must follow one another in the payload, without overlap")
        consumed[0] += nbytes
        if type(node["requires_grad"]) is not bool:
            raise ProtocolError("tensor requires_grad must be a bool")
        view = _BYTE_VIEWS.get(dtype)
        if nbytes:
            flat = torch.frombuffer(
                buffer, dtype=view or dtype, count=nbytes // dtype.itemsize, offset=offset
            ).clone()
            result = (flat if view is None else flat.view(dtype)).reshape(shape)
        else:
            result = torch.empty(shape, dtype=dtype)
        if node["requires_grad"]:
            if not dtype.is_floating_point:
                raise ProtocolError("only a floating-point tensor can require grad")
            result.requires_grad_(True)
        if node["grad"] is not None:
            grad = walk(node["grad"], depth + 1)
            if not isinstance(grad, torch.Tensor) or (grad.shape, grad.dtype) != (
                result.shape,
                result.dtype,
            ):
                raise ProtocolError("a tensor's grad must be a tensor of its shape and dtype")
            result.grad = grad
        return result

    value = walk(header["value"], 0)
    if consumed[0] != len(buffer):
        raise ProtocolError("the payload holds bytes that no tensor uses")
    return value


def _keys(node: dict[str, Any], expected: set[str]) -> None:
    if set(node) != expected:
        raise ProtocolError(f"a {node.get('$')} node must have exactly the keys {sorted(expected)}")


# ---- framing ----------------------------------------------------------------------


def send(sock: socket.socket, value: Any) -> None:
    """Send one value as a frame."""
    header, payload = encode(value)
    raw = json.dumps(header, separators=(",", ":"), allow_nan=False).encode()
    if len(raw) > MAX_HEADER_BYTES:
        raise ProtocolError(
            f"a message header of {len(raw)} bytes (the limit is {MAX_HEADER_BYTES})"
        )
    sock.sendall(_PREFIX.pack(len(raw), len(payload)) + raw + payload)


def receive(
    sock: socket.socket, max_payload: int = MAX_PAYLOAD_BYTES, deadline: float | None = None
) -> Any:
    """Receive one frame and decode it.

    Raises EOFError if the peer is gone, TimeoutError once ``deadline`` (a
    ``time.monotonic()`` value) passes, however slowly the peer trickles bytes.
    """
    header_size, payload_size = _PREFIX.unpack(_read_exactly(sock, _PREFIX.size, deadline))
    if header_size > MAX_HEADER_BYTES or payload_size > max_payload:
        raise ProtocolError(f"a message of {header_size + payload_size} bytes is over the limit")
    raw = _read_exactly(sock, header_size, deadline)
    payload = _read_exactly(sock, payload_size, deadline)
    try:
        header = _HEADER_DECODER.decode(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise ProtocolError(f"the header is not valid JSON: {error}") from None
    try:
        return decode(header, payload)
    except ProtocolError:
        raise
    except Exception as error:  # whatever else hostile bytes provoke (RecursionError, …)
        raise ProtocolError(f"the message could not be read ({type(error).__name__})") from None


def _no_constants(name: str) -> None:
    raise ValueError(f"{name} is not allowed in a header")


_HEADER_DECODER = json.JSONDecoder(parse_constant=_no_constants)  # one, not one per message


def _read_exactly(sock: socket.socket, size: int, deadline: float | None) -> bytes:
    chunks = bytearray()
    while len(chunks) < size:
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("no complete answer before the deadline")
            sock.settimeout(remaining)
        chunk = sock.recv(min(size - len(chunks), 1 << 20))
        if not chunk:
            raise EOFError("the other side closed the connection")
        chunks += chunk
    return bytes(chunks)
