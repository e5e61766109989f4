"""A pickle reader that never runs a checkpoint's code, judging every global by `pickle_policy`.

`pickle.load` calls whatever callables a file names, so a checkpoint can run `os.system` the moment it
is opened. This module's `find_class` never imports. Each global is classified by the one policy
(`nandoctor.pickle_policy.classify`) and replaced by a stand-in:

- allow-listed functions (torch's tensor rebuilders, `OrderedDict`, numpy reconstruction, ...) by
  checkers that accept only the argument shapes real checkpoints have and return lazy `TensorRef`s or
  plain data; any other use flags the file unsafe;
- allow-listed classes, unknown classes and blocked globals by inert `Stub` classes that record
  their arguments and state (so an Ultralytics `DetectionModel` can still be walked through
  `_parameters`/`_buffers`/`_modules` on a machine without ultralytics);
- unknown functions by stubs that flag the file unsafe the moment the pickle calls them.

Nothing aborts on the first unsafe global: the whole pickle is read (inertly) so the report names every
global, then `UnsafePickle` carries the verdict. Memory is bounded before the C unpickler allocates:
`next_pickle` walks the opcodes first and refuses memo indices no writer produces (a 12-byte pickle can
otherwise ask for a 2e8-slot memo) and lengths the data does not hold.
"""

from __future__ import annotations

import collections
import io
import pickle
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from nandoctor import pickle_policy as policy
from nandoctor.ckpt.tensors import DTYPES, STORAGE_DTYPES, TensorRef, _numel
from nandoctor.pickle_policy import SAFE, UNSAFE, Verdict

MAX_PICKLE = 64 << 20  # real data.pkl files are a few MB even for 10,000 tensors
MAX_MEMO = 1 << 22  # memo slots; torch.save of a 10,000-tensor model uses ~60,000
MAX_ARGS = 1 << 16  # elements checked per argument of a rebuild call
MAX_MEMBERS = 1000  # .pkl members judged per zip; torch writes one or two


class _Misuse(Exception):
    """An allow-listed function called with arguments no real checkpoint has."""


# What the C unpickler and the stand-ins raise on a malformed or lying pickle: its opcodes call
# constructors with whatever arguments the file holds (dict(1): TypeError), BUILD state onto objects
# that take none (AttributeError), index a memo or stack that is not there. Anything else (NameError,
# AssertionError, ZeroDivisionError...) is a bug in nandoctor and propagates as one.
MALFORMED = (
    pickle.UnpicklingError,
    EOFError,
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    AttributeError,
    OverflowError,
    RecursionError,
    _Misuse,
)


class UnsafePickle(Exception):
    """The pickle names a global that can run code (or is a bomb); nothing from the file may be trusted."""

    def __init__(self, global_name: str | Verdict, reason: str = "can run code"):
        if isinstance(global_name, Verdict):
            self.verdict = global_name
        else:
            self.verdict = Verdict()
            self.verdict.flag(global_name, reason)
        self.global_name, self.reason = self.verdict.first_unsafe()
        more = len(self.verdict.unsafe) - 1
        super().__init__(f"{self.reason}: {self.global_name}" + (f" (and {more} more)" if more > 0 else ""))


class _StateSetter:
    """`__setstate__` for instances records the state; on the class itself (BUILD applied to a global,
    the attribute-planting trick that bypassed modelscan) it flags the file."""

    def __get__(self, obj: Any, cls: type[Stub]) -> Callable:
        if obj is None:

            def on_class(state: Any) -> None:
                verdict = cls.__dict__.get("_nd_verdict")
                if verdict is not None:
                    verdict.flag(cls._nd_global, "sets attributes on the global itself (BUILD on a class)")

            return on_class

        def on_instance(state: Any) -> None:
            object.__setattr__(obj, "_nd_state", state)

        return on_instance


class Stub:
    """Inert stand-in for any class the pickle names: records args and state, runs nothing."""

    _nd_global = "?"
    _nd_on_call: str | None = None  # why calling this global makes the file unsafe (unknown functions)
    _nd_verdict: Verdict  # set on each unpickler's own stub classes (read from the class __dict__)
    _nd_args: tuple  # per instance: the call's arguments, BUILD state, APPENDS, SETITEMS
    _nd_state: Any
    _nd_items: list
    _nd_map: dict
    __setstate__ = _StateSetter()

    def __new__(cls, *args: Any, **kwargs: Any) -> "Stub":
        if cls._nd_on_call and cls.__dict__.get("_nd_verdict") is not None:
            cls._nd_verdict.flag(cls._nd_global, cls._nd_on_call)
        obj = object.__new__(cls)
        object.__setattr__(obj, "_nd_args", args)
        object.__setattr__(obj, "_nd_state", None)
        object.__setattr__(obj, "_nd_items", [])
        object.__setattr__(obj, "_nd_map", {})
        return obj

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Only a call (REDUCE) runs __init__; NEWOBJ does not. Real checkpoints call their data classes
        # with plain values at most (an enum's value, a path's parts, datetime's bytes); anything else
        # would run the class's constructor on the pickle's own objects.
        cls = type(self)
        verdict = cls.__dict__.get("_nd_verdict")
        if (
            cls.__dict__.get("_nd_safe")
            and verdict is not None
            and not all(
                isinstance(a, (str, bytes, int, float, bool, type(None), Stub)) for a in (*args, *kwargs.values())
            )
        ):
            verdict.flag(cls._nd_global, "constructed with arguments that are not plain data")

    # pickle's APPENDS / SETITEMS on an object go through these.
    def append(self, item: Any) -> None:
        self._nd_items.append(item)

    def extend(self, items: Any) -> None:
        self._nd_items.extend(items)

    def __setitem__(self, key: Any, value: Any) -> None:
        try:
            self._nd_map[key] = value
        except TypeError:  # an unhashable key: keep the pair
            self._nd_items.append((key, value))

    def __repr__(self) -> str:
        return f"<{self._nd_global}>"

    @property
    def fields(self) -> dict:
        """The object's attribute dict as pickled (nn.Module keeps `_parameters`, `_modules` here)."""
        state = self._nd_state
        if isinstance(state, tuple) and len(state) == 2 and isinstance(state[1], dict):
            state = {**(state[0] if isinstance(state[0], dict) else {}), **state[1]}  # (dict, slots) form
        return state if isinstance(state, dict) else {}


class _TensorType(Stub):
    """torch.Tensor / nn.Parameter named as `new_type` of `_rebuild_from_type_v2`."""


@dataclass
class StorageType:
    """What `torch.FloatStorage` & co. stand for: just a dtype name."""

    dtype: str


@dataclass
class Unsupported:
    """A tensor we cannot view as numpy (quantized, sparse, nested): named, never scanned."""

    kind: str
    args: tuple = ()


class _NumpyDtype(Stub):
    _nd_global = "numpy.dtype"


class _NumpyArray(Stub):
    _nd_global = "numpy.ndarray"


def numpy_dtype(stub: Any):
    """A plain numeric numpy dtype from a pickled `numpy.dtype` stub, else None."""
    import numpy as np

    if not isinstance(stub, _NumpyDtype) or not stub._nd_args or not isinstance(stub._nd_args[0], str):
        return None
    code = stub._nd_args[0]
    if code.lstrip("<>=|")[:1] not in ("f", "i", "u", "b", "c") or len(code) > 4:
        return None
    try:
        dt = np.dtype(code)
    except TypeError:
        return None
    state = stub._nd_state
    if isinstance(state, tuple) and len(state) > 1 and state[1] in ("<", ">"):
        dt = dt.newbyteorder(state[1])
    return dt


def numpy_array(stub: Any):
    """A numeric ndarray from a pickled ndarray stub (state = (ver, shape, dtype, fortran, bytes)), else None."""
    import numpy as np

    state = stub._nd_state if isinstance(stub, _NumpyArray) else None
    if not (isinstance(state, tuple) and len(state) == 5 and isinstance(state[4], bytes)):
        return None
    _, shape, dtype, fortran, raw = state
    dt = numpy_dtype(dtype)
    if dt is None or not isinstance(shape, tuple) or not all(isinstance(s, int) and s >= 0 for s in shape):
        return None
    if _numel(shape) * dt.itemsize != len(raw):
        return None
    return np.frombuffer(raw, dtype=dt).reshape(shape, order="F" if fortran else "C")


# --- argument checks ------------------------------------------------------------------------------------
_PLAIN = (type(None), bool, int, float, complex, str, bytes, bytearray, range, slice)


def _inert(x: Any, budget: list[int] | None = None) -> bool:
    """Data only: no class, function or blocked global anywhere inside."""
    budget = budget if budget is not None else [MAX_ARGS]
    stack = [x]
    while stack:
        v = stack.pop()
        budget[0] -= 1
        if budget[0] < 0:
            return True  # large plain containers: what is inside was judged as it was read
        if isinstance(v, _PLAIN) or isinstance(v, (TensorRef, Unsupported, StorageType)):
            continue
        if isinstance(v, Stub):  # an instance: inert by construction
            continue
        if isinstance(v, dict):
            stack.extend(v.keys())
            stack.extend(v.values())
        elif isinstance(v, (list, tuple, set, frozenset)):
            stack.extend(v)
        else:
            return False
    return True


def _ints(x: Any) -> bool:
    return (
        isinstance(x, (tuple, list)) and len(x) <= 64 and all(isinstance(i, int) and not isinstance(i, bool) for i in x)
    )


def _need(ok: bool, what: str) -> None:
    if not ok:
        raise _Misuse(what)


def _hooks(x: Any) -> bool:
    return x is None or (isinstance(x, dict) and _inert(x))


class _Standins:
    """The allow-listed functions of one unpickler, each checking the arguments torch writes."""

    def __init__(self) -> None:
        self.rebuilders: set[int] = set()

    def table(self) -> dict[str, Any]:
        t: dict[str, Any] = {
            "torch._utils._rebuild_tensor": self.rebuild_tensor,
            "torch._utils._rebuild_tensor_v2": self.rebuild_tensor_v2,
            "torch._utils._rebuild_tensor_v3": self.rebuild_tensor_v3,
            "torch._utils._rebuild_parameter": self.rebuild_parameter,
            "torch._utils._rebuild_parameter_with_state": self.rebuild_parameter_with_state,
            "torch._utils._rebuild_qtensor": self.rebuild_qtensor,
            "torch._utils._rebuild_sparse_tensor": self.rebuild_sparse,
            "torch._utils._rebuild_meta_tensor_no_storage": self.rebuild_meta,
            "torch._utils._rebuild_nested_tensor": self.rebuild_nested,
            "torch._utils._rebuild_wrapper_subclass": self.rebuild_wrapper_subclass,
            "torch._utils._rebuild_device_tensor_from_numpy": self.rebuild_from_numpy,
            "torch._utils._rebuild_device_tensor_from_cpu_tensor": self.rebuild_from_cpu,
        }
        self.rebuilders = {id(f) for f in t.values()}
        t.update(
            {
                "torch._tensor._rebuild_from_type_v2": self.rebuild_from_type_v2,
                "torch.serialization._get_layout": _get_layout,
                "torch.Size": _size,
                "torch.device": _device,
                "collections.OrderedDict": _container(collections.OrderedDict),
                "collections.Counter": _container(collections.Counter),
                "collections.defaultdict": _defaultdict,
                "_codecs.encode": _codecs_encode,
                "copyreg._reconstructor": _reconstructor,
                "numpy.core.multiarray._reconstruct": _np_reconstruct,
                "numpy._core.multiarray._reconstruct": _np_reconstruct,
                "numpy.core.multiarray.scalar": _np_scalar,
                "numpy._core.multiarray.scalar": _np_scalar,
                "numpy.core.numeric._frombuffer": _np_frombuffer,
                "numpy._core.numeric._frombuffer": _np_frombuffer,
                "numpy.dtype": _NumpyDtype,
                "builtins.set": _container(set),
                "builtins.frozenset": _container(frozenset),
                "builtins.list": _container(list),
                "builtins.tuple": _container(tuple),
                "builtins.dict": _container(dict),
                "builtins.complex": _scalar(complex, (int, float)),
                "builtins.slice": _scalar(slice, (int, type(None))),
                "builtins.range": _scalar(range, (int,)),
                "builtins.int": _scalar(int, (int, float, str, bool)),
                "builtins.float": _scalar(float, (int, float, str)),
                "builtins.bool": _scalar(bool, (int, bool)),
                "builtins.str": _scalar(str, (str,)),
                "builtins.bytes": _bytes,
                "builtins.bytearray": _bytearray,
                "builtins.object": _Object,
            }
        )
        return t

    def _view(self, storage: Any, offset: Any, size: Any, stride: Any) -> Any:
        _need(isinstance(storage, (TensorRef, Unsupported)), "a tensor rebuilt from something that is not a storage")
        _need(isinstance(offset, int) and _ints(size) and _ints(stride), "tensor offset/size/stride are not integers")
        if isinstance(storage, Unsupported):
            return storage
        view = storage.view(int(offset), tuple(size), tuple(stride))
        if view.numel > 64 * storage.numel_storage + 1024:  # an expanded (stride-0) view: a time bomb to iterate
            return Unsupported("expanded view", (view.shape,))
        return view

    def rebuild_tensor(self, storage, offset, size, stride):
        return self._view(storage, offset, size, stride)

    def rebuild_tensor_v2(self, storage, offset, size, stride, requires_grad=False, hooks=None, metadata=None):
        _need(isinstance(requires_grad, bool) and _hooks(hooks) and _hooks(metadata), "tensor flags are not data")
        return self._view(storage, offset, size, stride)

    def rebuild_tensor_v3(self, storage, offset, size, stride, requires_grad, hooks, dtype, metadata=None):
        """Newer dtypes (float8, uint16, ...) are saved as an UntypedStorage (bytes) plus the dtype."""
        _need(isinstance(dtype, str) and dtype.startswith("torch."), "tensor dtype is not a torch dtype")
        _need(isinstance(requires_grad, bool) and _hooks(hooks) and _hooks(metadata), "tensor flags are not data")
        name = dtype.replace("torch.", "")
        if not isinstance(storage, TensorRef) or name not in DTYPES:
            self._view(storage if isinstance(storage, Unsupported) else Unsupported(name), offset, size, stride)
            return Unsupported(name)
        typed = storage.retype(name) if storage.dtype == "Untyped" else storage
        return self._view(typed, offset, size, stride)

    def rebuild_parameter(self, data, requires_grad=False, hooks=None):
        _need(
            isinstance(data, (TensorRef, Unsupported)) and isinstance(requires_grad, bool) and _hooks(hooks),
            "a parameter rebuilt from something that is not a tensor",
        )
        return data

    def rebuild_parameter_with_state(self, data, requires_grad, hooks, state):
        _need(_inert(state), "parameter state is not data")
        return self.rebuild_parameter(data, requires_grad, hooks)

    def rebuild_qtensor(self, storage, offset, size, stride, qparams, requires_grad, hooks):
        _need(
            isinstance(qparams, tuple)
            and _inert(qparams)
            and qparams
            and isinstance(qparams[0], str)
            and qparams[0].startswith("torch.per_"),
            "quantizer parameters are not a torch qscheme",
        )
        self.rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks)
        return Unsupported("quantized", (qparams[0],))

    def rebuild_sparse(self, layout, data):
        _need(
            isinstance(layout, str) and layout.startswith("torch.") and isinstance(data, tuple) and _inert(data),
            "sparse tensor parts are not tensors",
        )
        return Unsupported("sparse", (layout,))

    def rebuild_meta(self, dtype, size, stride, requires_grad):
        _need(isinstance(dtype, str) and _ints(size) and _ints(stride), "meta tensor shape is not integers")
        return Unsupported("meta")

    def rebuild_nested(self, buffer, sizes, strides, offsets):
        _need(_inert((buffer, sizes, strides, offsets)), "nested tensor parts are not tensors")
        return Unsupported("nested")

    def rebuild_wrapper_subclass(self, cls, dtype, size, stride, offset, layout, device, requires_grad):
        _need(
            isinstance(cls, type)
            and issubclass(cls, Stub)
            and not cls._nd_on_call
            and _inert((dtype, size, stride, offset, layout, device, requires_grad)),
            "tensor subclass is not a class",
        )
        return Unsupported("tensor subclass", (cls._nd_global,))

    def rebuild_from_numpy(self, data, dtype, device, requires_grad):
        _need(isinstance(data, _NumpyArray) and _inert((dtype, device, requires_grad)), "not a numpy array")
        arr = numpy_array(data)
        return TensorRef.from_array(arr) if arr is not None else Unsupported("numpy-backed tensor")

    def rebuild_from_cpu(self, data, dtype, device, requires_grad):
        _need(isinstance(data, (TensorRef, Unsupported)) and _inert((dtype, device, requires_grad)), "not a tensor")
        return data

    def rebuild_from_type_v2(self, func, new_type, args, state):
        """torch's wrapper for tensors with attributes or subclasses; torch calls `func(*args)`, so `func`
        must be one of its tensor rebuilders and `new_type` a tensor class."""
        _need(id(func) in self.rebuilders, "func is not a torch tensor rebuild function")
        _need(
            isinstance(new_type, type) and issubclass(new_type, Stub) and not new_type._nd_on_call,
            "new_type is not a tensor class",
        )
        _need(isinstance(args, tuple) and len(args) <= 16 and _inert(state), "arguments are not data")
        return func(*args)


def _get_layout(name: Any) -> str:
    _need(isinstance(name, str) and name.startswith("torch."), "layout is not a torch layout name")
    return name


def _size(dims: Any = ()) -> tuple:
    _need(_ints(dims), "torch.Size of non-integers")
    return tuple(dims)


def _device(kind: Any, index: Any = None) -> str:
    _need(
        isinstance(kind, str) and len(kind) < 64 and (index is None or isinstance(index, int)), "device is not a name"
    )
    return kind if index is None else f"{kind}:{index}"


def _container(cls: type) -> Callable:
    def make(*args: Any) -> Any:
        _need(
            len(args) <= 1 and all(isinstance(a, (list, tuple, dict, set, frozenset, str)) for a in args),
            f"{cls.__name__} built from something that is not a container",
        )
        return cls(*args)

    make.__name__ = cls.__name__
    return make


def _defaultdict(factory: Any = None, *rest: Any) -> dict:
    """A dict that never calls its factory (the factory global was judged on its own)."""
    _need(not rest and (factory is None or callable(factory)), "defaultdict with a factory that is not a global")
    return collections.defaultdict(None)


def _scalar(cls: type, kinds: tuple) -> Callable:
    def make(*args: Any) -> Any:
        _need(
            len(args) <= 3
            and all(isinstance(a, kinds) for a in args)
            and not (cls in (int, float) and any(isinstance(a, str) and len(a) > 400 for a in args)),
            f"{cls.__name__} called with arguments that are not plain numbers",
        )
        return cls(*args)

    return make


def _bytes(*args: Any) -> bytes:
    _need(not args or (len(args) == 1 and isinstance(args[0], (list, tuple, bytes))), "bytes of a size, not of data")
    return bytes(*args)


def _bytearray(*args: Any) -> bytearray:
    """Protocol 2 writes bytearray(b) as bytearray(str, 'latin-1'); never from a size (a memory bomb)."""
    _need(
        not args or isinstance(args[0], (str, bytes, list)) and all(isinstance(a, str) for a in args[1:]),
        "bytearray of a size, not of data",
    )
    return bytearray(*args)


def _codecs_encode(text: Any, encoding: str = "utf-8", errors: str = "strict") -> bytes:
    """Protocol-2 pickles spell bytes as `_codecs.encode(str, 'latin1')`: allow only that."""
    _need(
        isinstance(text, str)
        and isinstance(encoding, str)
        and encoding.lower().replace("-", "").replace("_", "") in ("latin1", "utf8", "ascii"),
        "not a bytes literal",
    )
    return text.encode(encoding)


class _Object(Stub):
    _nd_global = "builtins.object"


def _reconstructor(cls: Any, base: Any, state: Any = None) -> Any:
    """Protocol 0/1 objects: `copyreg._reconstructor(cls, object, None)`; the class must be a stand-in."""
    _need(
        isinstance(cls, type) and issubclass(cls, Stub) and _inert(state), "reconstructs something that is not a class"
    )
    return cls()


def _np_reconstruct(cls: Any, shape: Any, typecode: Any) -> "_NumpyArray":
    _need(cls is _NumpyArray and _ints(shape) and isinstance(typecode, bytes), "not numpy's array reconstruction")
    return _NumpyArray()


def _np_scalar(dtype: Any, data: Any = None) -> Any:
    import numpy as np

    _need(isinstance(dtype, _NumpyDtype) and (data is None or isinstance(data, bytes)), "not a numpy scalar")
    dt = numpy_dtype(dtype)
    if dt is None or not isinstance(data, bytes) or len(data) != dt.itemsize:
        return Unsupported("numpy scalar")
    return np.frombuffer(data, dtype=dt)[0].item()


def _np_frombuffer(buf: Any, dtype: Any, shape: Any, order: Any) -> "_NumpyArray":
    _need(
        isinstance(buf, (bytes, bytearray)) and isinstance(dtype, _NumpyDtype) and _ints(shape) and order in ("C", "F"),
        "not numpy's buffer reconstruction",
    )
    arr = _NumpyArray()
    object.__setattr__(arr, "_nd_state", (1, tuple(shape), dtype, order == "F", bytes(buf)))
    return arr


def _value(full: str) -> Any:
    """What an allow-listed value global stands for."""
    if full in ("torch.Tensor", "torch.nn.parameter.Parameter", "torch.nn.parameter.Buffer"):
        return type(full.rsplit(".", 1)[1], (_TensorType,), {"_nd_global": full})
    if full in ("torch.storage.UntypedStorage", "torch.storage.TypedStorage"):
        return StorageType("Untyped")
    if full == "numpy.ndarray":
        return _NumpyArray
    module, _, name = full.rpartition(".")
    if module == "torch" and name.endswith("Storage"):
        stem = name[: -len("Storage")]
        return StorageType(STORAGE_DTYPES.get(stem, stem or "Untyped"))
    return full  # dtypes, layouts, qschemes, typing.Any: their name


class RestrictedUnpickler(pickle.Unpickler):
    """find_class never imports; persistent ids become lazy storages via `storage_for`."""

    def __init__(
        self, file: Any, storage_for: Callable[[str, str, int], Any] | None = None, verdict: Verdict | None = None
    ):
        super().__init__(file, encoding="latin1")
        self.storage_for = storage_for
        self.verdict = verdict if verdict is not None else Verdict()
        self._stubs: dict[str, Any] = {}
        self._standins = _Standins()
        self._table = self._standins.table()

    @property
    def globals(self) -> list[str]:
        return self.verdict.globals

    def find_class(self, module: str, name: str) -> Any:
        module, name = policy.resolve(module, name)
        full = f"{module}.{name}"
        if full in self._stubs:
            return self._stubs[full]
        self.verdict.saw(full)
        status, why = policy.classify(module, name)
        on_call = None
        if status == UNSAFE:
            self.verdict.flag(full, why)
        elif status == SAFE:
            if full in self._table:
                found = self._guard(full, self._table[full])
            elif full in policy.SAFE_VALUES or (module == "torch" and name.endswith("Storage")):
                found = _value(full)
            elif name in policy.LEGACY_TENSOR_TYPES:
                found = type(name, (_TensorType,), {"_nd_global": full})
            else:
                found = self._stub(full, None, safe=True)
            self._stubs[full] = found
            return found
        else:
            self.verdict.outside(full)
            if not policy.is_class_name(name) and not policy.is_trusted(full):
                on_call = policy.FUNCTION_CALLED.format(full)
        return self._stubs.setdefault(full, self._stub(full, on_call))

    def _stub(self, full: str, on_call: str | None, safe: bool = False) -> type:
        return type(
            full.rsplit(".", 1)[-1],
            (Stub,),
            {"_nd_global": full, "_nd_on_call": on_call, "_nd_verdict": self.verdict, "_nd_safe": safe},
        )

    def _guard(self, full: str, fn: Any) -> Any:
        if isinstance(fn, type):
            return type(fn.__name__, (fn,), {"_nd_verdict": self.verdict})
        verdict = self.verdict

        def guarded(*args: Any, **kwargs: Any) -> Any:
            try:
                if kwargs:
                    raise _Misuse("called with keyword arguments")
                return fn(*args)
            except (_Misuse, TypeError) as exc:
                # a real checkpoint never calls it this way; record and go on reading inertly
                verdict.flag(full, f"called the way no checkpoint does ({exc})")
                return Unsupported("blocked call", (full,))

        if id(fn) in self._standins.rebuilders:
            self._standins.rebuilders.add(id(guarded))
        return guarded

    def persistent_load(self, pid: Any) -> Any:
        if (
            isinstance(pid, tuple)
            and len(pid) in (5, 6)
            and pid[0] == "storage"
            and self.storage_for is not None
            and isinstance(pid[1], StorageType)
            and isinstance(pid[2], (str, int))
            and isinstance(pid[4], int)
        ):
            return self.storage_for(str(pid[2]), pid[1].dtype, int(pid[4]))
        return Unsupported("persistent id", (repr(pid)[:80],))


# --- reading pickles: bounded first, then rebuilt inertly --------------------------------------------------
def _pickle_end(data: bytes) -> int | None:
    """Offset just past the STOP of the pickle starting at data[0], or None when data ends first.

    pickletools walks the opcodes without building objects (and reads a claimed length only as far
    as the data goes); a memo index beyond what any writer produces (each slot needs an object pushed
    before it) is a memory bomb for the C unpickler, which sizes its memo by the largest index.
    """
    import pickletools

    stream = io.BytesIO(data)
    try:
        for count, (op, arg, _pos) in enumerate(pickletools.genops(stream), 1):
            if op.name in ("PUT", "BINPUT", "LONG_BINPUT") and not (
                isinstance(arg, int) and 0 <= arg <= min(MAX_MEMO, count)
            ):
                raise UnsafePickle("pickle memo", f"a memory bomb (memo index {arg} after {count} opcodes)")
    except ValueError:
        if stream.tell() >= len(data):
            return None  # ran out of data: the caller reads more, or calls it truncated
        raise
    return stream.tell() if data else None


def next_pickle(f: Any, end: int | None = None) -> bytes:
    """The bytes of the pickle starting at f's position (f is left after its STOP).

    Walked opcode by opcode first: lengths the data does not hold, or memo indices beyond what any
    writer produces, end here as errors before anything is allocated. Read in growing chunks, so the
    pickles at the head of a multi-GB legacy file cost what they hold, not the file's size.
    """
    start = f.tell()
    if end is None:
        f.seek(0, 2)
        end = f.tell()
        f.seek(start)
    limit = min(end - start, MAX_PICKLE)
    if limit <= 0:
        raise ValueError("no pickle where one was expected (file ends)")
    want = min(limit, 1 << 20)
    while True:
        f.seek(start)
        data = f.read(want)
        try:
            stop = _pickle_end(data)
        except ValueError as exc:
            raise _judge_broken(data, exc) from None
        if stop is not None:
            f.seek(start + stop)
            return data[:stop]
        if len(data) < want or want >= limit:
            raise _judge_broken(
                data,
                ValueError(
                    "the pickle ends before its STOP opcode"
                    + (f" (or is larger than {MAX_PICKLE >> 20} MiB)" if want >= MAX_PICKLE else "")
                ),
            )
        want = min(limit, want * 4)


def _judge_broken(data: bytes, exc: Exception) -> Exception:
    """The error for a pickle with a broken tail. The unpickler would run what comes before the break,
    so that part is judged: unsafe if it names a global that can run code, else unreadable."""
    verdict = Verdict()
    policy.scan_opcodes(data, verdict)
    if verdict.status == UNSAFE:
        return UnsafePickle(verdict)
    return ValueError(f"malformed or truncated pickle ({' '.join(str(exc).split())[:160]})")


def judge_pickle(
    data: bytes, storage_for: Callable | None = None, label: str = "pickle", verdict: Verdict | None = None
) -> tuple[Any, Verdict]:
    """(object, verdict) for one pickle's bytes: rebuilt inertly, every global judged. A pickle the
    unpickler cannot finish is still judged from its opcodes; it raises only when nothing unsafe was
    found (then the file is unreadable, not unsafe)."""
    verdict = verdict if verdict is not None else Verdict()
    if label not in verdict.pickles:
        verdict.pickles.append(label)
    up = RestrictedUnpickler(io.BytesIO(data), storage_for, verdict)
    try:
        obj = up.load()
    except MALFORMED as exc:
        policy.scan_opcodes(data, verdict)
        if verdict.status == UNSAFE:
            return None, verdict
        raise ValueError(f"{label}: {' '.join(str(exc).split())[:200] or type(exc).__name__}") from None
    return obj, verdict


def restricted_loads(data: bytes, storage_for: Callable | None = None) -> tuple[Any, list[str]]:
    """Unpickle bytes without running them; returns (object, globals named). Raises UnsafePickle."""
    obj, verdict = judge_pickle(next_pickle(io.BytesIO(data)), storage_for)
    if verdict.status == UNSAFE:
        raise UnsafePickle(verdict)
    return obj, verdict.globals


@dataclass
class TorchZip:
    obj: Any
    globals: list[str] = field(default_factory=list)
    verdict: Verdict = field(default_factory=Verdict)


def torch_zip_pickles(zf: zipfile.ZipFile) -> tuple[str, list[zipfile.ZipInfo], zipfile.ZipInfo | None]:
    """(prefix, every .pkl member, the data.pkl torch reads).

    torch's reader takes the archive name from the first member and reads `<prefix>/data.pkl`; of two
    members with that name it reads the last one (torch 2.13, like Python's zipfile). Decoys
    (`archive/xdata.pkl`, other folders) are never read by torch, but are judged all the same.
    """
    infos = zf.infolist()
    prefix = infos[0].filename.split("/", 1)[0] + "/" if infos and "/" in infos[0].filename else ""
    pickles = [i for i in infos if i.filename.endswith(".pkl")]
    main = [i for i in pickles if i.filename == f"{prefix}data.pkl"]
    return prefix, pickles, (main[-1] if main else None)


def load_torch_zip(path: Path, zf: zipfile.ZipFile | None = None) -> TorchZip:
    """Read torch's zip checkpoint: every .pkl member judged, `<prefix>/data.pkl` rebuilt with storages as
    TensorRefs over `<prefix>/data/<key>` (no tensor bytes are read here). Raises UnsafePickle."""
    own = zf is None
    zf = zf or zipfile.ZipFile(path)
    try:
        prefix, pickles, main = torch_zip_pickles(zf)
        names = {i.filename: i for i in zf.infolist()}
        byteorder = "little"
        if prefix + "byteorder" in names:
            byteorder = zf.read(prefix + "byteorder").decode("ascii", "replace").strip() or "little"
        cache: dict[str, TensorRef] = {}

        def storage_for(key: str, dtype: str, numel: int) -> TensorRef:
            if key not in cache:
                info = names.get(f"{prefix}data/{key}")
                if info is None:
                    raise ValueError(f"storage {key!r} is missing from the zip")
                cache[key] = TensorRef.for_zip_member(path, zf, info, dtype, numel, byteorder)
            return cache[key]

        verdict = Verdict()
        obj = None
        # what torch reads first (data.pkl, TorchScript's constants.pkl), then every decoy
        pickles.sort(key=lambda i: i is not main and i.filename != f"{prefix}constants.pkl")
        unjudged = len(pickles) - MAX_MEMBERS
        if unjudged > 0:
            del pickles[MAX_MEMBERS:]
        for info in pickles:
            if info.file_size > MAX_PICKLE:
                raise ValueError(f"{info.filename} claims {info.file_size:,} bytes")
            data = next_pickle(io.BytesIO(zf.read(info)))
            label = info.filename + (f" (#{pickles.index(info) + 1})" if names[info.filename] is not info else "")
            value, _ = judge_pickle(data, storage_for if info is main else None, label, verdict)
            if info is main:
                obj = value
        if verdict.status == UNSAFE:
            raise UnsafePickle(verdict)
        if unjudged > 0:  # no checkpoint holds that many; the rest cannot be vouched for
            raise ValueError(
                f"the zip holds {MAX_MEMBERS + unjudged:,} pickles; {unjudged:,} beyond the first "
                f"{MAX_MEMBERS:,} were not judged"
            )
        if main is None:
            raise ValueError(f"zip has no {prefix or '<prefix>/'}data.pkl: not a torch checkpoint")
        return TorchZip(obj, verdict.globals, verdict)
    finally:
        if own:
            zf.close()


__all__ = [
    "RestrictedUnpickler",
    "Stub",
    "TensorRef",
    "UnsafePickle",
    "judge_pickle",
    "load_torch_zip",
    "next_pickle",
    "numpy_array",
    "restricted_loads",
]
