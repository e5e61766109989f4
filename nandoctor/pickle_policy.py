"""The one pickle-safety policy: which globals a checkpoint's pickle may name, and the file's verdict.

Every command that meets a pickle (inspect-ckpt, check-data's .pt reading, triage's training_args.bin)
reads it through `nandoctor.ckpt.unpickle`, whose `find_class` asks `classify` here, so one file gets
one verdict everywhere:

- `safe`: every global is on the allow-list of what real checkpoints contain (torch's tensor rebuild
  functions, dtypes, containers, numpy reconstruction, the data classes of Ultralytics, transformers,
  Lightning, omegaconf, TorchScript) and is used the way they use it (checked by the stand-ins in
  unpickle.py). An allow-list, not a deny-list: picklescan, modelscan and torch's own weights-only
  loader were all bypassed by names nobody had thought to deny.
- `unknown`: some class or function is outside the list. Nothing is imported or called; the tensors
  are still read and scanned, but such a file is never recommended unless the user names the globals
  with `--trust`.
- `unsafe`: a global that can run code, import modules, reach attributes or touch files, or a safe
  name called with arguments no real checkpoint has. Never recommended, exit 1.
"""

from __future__ import annotations

import contextlib
import contextvars
import re
from dataclasses import dataclass, field
from typing import Iterable, Iterator

SAFE, UNKNOWN, UNSAFE = "safe", "unknown", "unsafe"
_RANK = {SAFE: 0, UNKNOWN: 1, UNSAFE: 2}

# --- the allow-list ----------------------------------------------------------------------------------
# Functions a real checkpoint calls; each has a stand-in in unpickle.py that checks torch's argument
# shapes and never runs torch.
TORCH_REBUILD = {
    f"torch._utils.{n}"
    for n in (
        "_rebuild_tensor",
        "_rebuild_tensor_v2",
        "_rebuild_tensor_v3",
        "_rebuild_parameter",
        "_rebuild_parameter_with_state",
        "_rebuild_qtensor",
        "_rebuild_sparse_tensor",
        "_rebuild_meta_tensor_no_storage",
        "_rebuild_nested_tensor",
        "_rebuild_wrapper_subclass",
        "_rebuild_device_tensor_from_numpy",
        "_rebuild_device_tensor_from_cpu_tensor",
    )
}
SAFE_FUNCTIONS = TORCH_REBUILD | {
    "torch._tensor._rebuild_from_type_v2",
    "torch.serialization._get_layout",
    "torch.Size",
    "torch.device",
    "collections.OrderedDict",
    "collections.Counter",
    "collections.defaultdict",
    "_codecs.encode",
    "copyreg._reconstructor",
    "numpy.core.multiarray._reconstruct",
    "numpy._core.multiarray._reconstruct",
    "numpy.core.multiarray.scalar",
    "numpy._core.multiarray.scalar",
    "numpy.dtype",
    "numpy.core.numeric._frombuffer",
    "numpy._core.numeric._frombuffer",
    *(
        f"builtins.{n}"
        for n in (
            "set",
            "frozenset",
            "list",
            "tuple",
            "dict",
            "complex",
            "slice",
            "range",
            "bytes",
            "bytearray",
            "int",
            "float",
            "bool",
            "str",
            "object",
        )
    ),
}
# Values a checkpoint names but never calls.
TORCH_DTYPES = {
    "float32",
    "float",
    "float64",
    "double",
    "float16",
    "half",
    "bfloat16",
    "complex32",
    "complex64",
    "complex128",
    "cfloat",
    "cdouble",
    "chalf",
    "uint8",
    "int8",
    "int16",
    "short",
    "int32",
    "int",
    "int64",
    "long",
    "bool",
    "uint16",
    "uint32",
    "uint64",
    "float8_e4m3fn",
    "float8_e5m2",
    "float8_e4m3fnuz",
    "float8_e5m2fnuz",
    "float8_e8m0fnu",
    "float4_e2m1fn_x2",
    "qint8",
    "quint8",
    "qint32",
    "quint4x2",
    "quint2x4",
    "bits8",
    "bits16",
    "bits1x8",
    "bits2x4",
    "bits4x2",
    *(f"int{i}" for i in range(1, 8)),
    *(f"uint{i}" for i in range(1, 8)),
}
TORCH_QSCHEMES = {
    "per_tensor_affine",
    "per_tensor_symmetric",
    "per_channel_affine",
    "per_channel_symmetric",
    "per_channel_affine_float_qparams",
}
TORCH_LAYOUTS = {"strided", "sparse_coo", "sparse_csr", "sparse_csc", "sparse_bsr", "sparse_bsc", "_mkldnn", "jagged"}
SAFE_VALUES = {f"torch.{n}" for n in TORCH_DTYPES | TORCH_QSCHEMES | TORCH_LAYOUTS} | {
    "typing.Any",
    "torch.Tensor",
    "torch.nn.parameter.Parameter",
    "torch.nn.parameter.Buffer",
    "torch.storage.UntypedStorage",
    "torch.storage.TypedStorage",
    "numpy.ndarray",
    "torch.contiguous_format",
    "torch.channels_last",
    "torch.channels_last_3d",
    "torch.preserve_format",
}
# torch.FloatTensor & co.: tensor types old formats record beside each tensor.
LEGACY_TENSOR_TYPES = {
    f"{t}Tensor"
    for t in (
        "Float",
        "Double",
        "Half",
        "BFloat16",
        "Long",
        "Int",
        "Short",
        "Char",
        "Byte",
        "Bool",
        "ComplexFloat",
        "ComplexDouble",
    )
}
# Classes rebuilt as inert stand-ins from class name and pickled state (never constructed).
SAFE_CLASSES = {
    "argparse.Namespace",
    "types.SimpleNamespace",
    "datetime.datetime",
    "datetime.date",
    "datetime.time",
    "datetime.timedelta",
    "datetime.timezone",
    "decimal.Decimal",
    "fractions.Fraction",
    "uuid.UUID",
    *(
        f"{m}.{c}"
        for m in ("pathlib", "pathlib._local")
        for c in ("Path", "PosixPath", "WindowsPath", "PurePath", "PurePosixPath", "PureWindowsPath")
    ),
    "lightning.fabric.utilities.data.AttributeDict",
    "lightning_fabric.utilities.data.AttributeDict",
    "pytorch_lightning.utilities.parsing.AttributeDict",
    "lightning.pytorch.utilities.parsing.AttributeDict",
    "ultralytics.utils.IterableSimpleNamespace",
    "accelerate.state.PartialState",
    "accelerate.state.AcceleratorState",
    "accelerate.state.GradientState",
}
# Modules whose classes (CamelCase names, no attribute chains) are data in real checkpoints: torch
# modules pickled whole (Ultralytics), transformers' TrainingArguments and its enums, omegaconf nodes,
# accelerate's dataclasses and enums, numpy 2's dtype classes, TorchScript's `__torch__` archive layout.
SAFE_CLASS_MODULES = (
    "torch.nn.modules.",
    "ultralytics.nn.",
    "__torch__.",
    "omegaconf.",
    "transformers.training_args",
    "transformers.trainer_utils",
    "transformers.trainer_pt_utils",
    "transformers.debug_utils",
    "transformers.utils.generic",
    "accelerate.utils.dataclasses",
    "numpy.dtypes",
    "torch.ao.quantization.",
    "torch.ao.nn.",
    "torch.distributed.checkpoint.metadata",
    "torch.distributed.checkpoint.filesystem",
    "torch.distributed.checkpoint.planner",
)

# --- what can run code ----------------------------------------------------------------------------------
# Whole modules (and their submodules) that execute, import, reach attributes, spawn, or do I/O.
UNSAFE_MODULES = {
    "os",
    "posix",
    "nt",
    "posixpath",
    "ntpath",
    "subprocess",
    "sys",
    "builtins",
    "__builtin__",
    "importlib",
    "runpy",
    "socket",
    "shutil",
    "pickle",
    "_pickle",
    "cPickle",
    "pickletools",
    "copyreg",
    "copy_reg",
    "marshal",
    "ctypes",
    "code",
    "codeop",
    "pty",
    "multiprocessing",
    "concurrent",
    "webbrowser",
    "urllib",
    "urllib2",
    "urllib3",
    "http",
    "httplib",
    "requests",
    "httpx",
    "aiohttp",
    "ftplib",
    "telnetlib",
    "smtplib",
    "poplib",
    "imaplib",
    "nntplib",
    "asyncio",
    "signal",
    "threading",
    "_thread",
    "tempfile",
    "glob",
    "commands",
    "pydoc",
    "inspect",
    "types",
    "operator",
    "_operator",
    "functools",
    "dill",
    "joblib",
    "cloudpickle",
    "timeit",
    "cProfile",
    "profile",
    "pdb",
    "bdb",
    "trace",
    "gc",
    "_posixsubprocess",
    "zipimport",
    "pkgutil",
    "distutils",
    "setuptools",
    "pip",
    "ensurepip",
    "venv",
    "site",
    "sysconfig",
    "linecache",
    "fcntl",
    "mmap",
    "io",
    "_io",
    "codecs",
    "_codecs",
    "doctest",
    "unittest",
    "logging",
    "_osx_support",
    "_aix_support",
    "mailcap",
    "uuid",
    "platform",
    "cgi",
    "cgitb",
    "xmlrpc",
    "wsgiref",
    "idlelib",
    "tkinter",
    "turtle",
    "lib2to3",
    "zipfile",
    "tarfile",
    "shelve",
    "dbm",
    "sqlite3",
    "fileinput",
    "filecmp",
    "netrc",
    "mailbox",
    "smtpd",
    "socketserver",
    "selectors",
    "select",
    "ssl",
    "readline",
    "rlcompleter",
    "atexit",
    "weakref",
    "_weakref",
    "ast",
    "compileall",
    "py_compile",
    "dis",
    "tokenize",
    "pathlib",
    "shlex",
    "resource",
    "syslog",
    "getpass",
    "contextlib",
    "numexpr",
    "sympy",
    "yaml",
    "jinja2",
    "IPython",
    "torch.hub",
    "pandas.io",
    "pandas.core.computation",
}
# Module prefixes inside otherwise data-only libraries that compile, load, save, spawn or eval.
UNSAFE_PREFIXES = (
    "torch.serialization",
    "torch.hub",
    "torch.utils.collect_env",
    "torch.utils.cpp_extension",
    "torch.utils.benchmark",
    "torch.utils._config_module",
    "torch.jit",
    "torch.fx",
    "torch._inductor",
    "torch._dynamo",
    "torch.package",
    "torch._C",
    "torch.ops",
    "torch.distributed",
    "torch.multiprocessing",
    "torch.storage",
    "torch.testing",
    "torch.onnx",
    "torch.export",
    "torch.compiler",
    "torch.library",
    "torch._ops",
    "torch._export",
    "torch._utils_internal",
    "torch._functorch",
    "torch.utils.hooks",
    "torch.utils._python_dispatch",
    "torch._higher_order_ops",
    "numpy.lib",
    "numpy.testing",
    "numpy.f2py",
    "numpy.distutils",
    "numpy.load",
    "numpy.save",
    "numpy.memmap",
    "numpy.fromfile",
    "numpy.tofile",
    "numpy.loadtxt",
    "numpy.savetxt",
    "numpy.genfromtxt",
    "numpy.fromregex",
    "numpy.ctypeslib",
    "numpy._core._internal",
    "numpy.core._internal",
    "pandas.read_",
    "pandas.eval",
    "pandas.io",
    "pandas.core.computation",
    "pandas.core.frame.DataFrame.to_",
    "scipy.io",
    "scipy.weave",
    "h5py",
    "keras",
    "tensorflow",
    "hydra",
    "fickling",
)
# Single functions elsewhere known to run code or do I/O (also reached by the rules above; kept for
# the reason they give in a report).
UNSAFE_NAMES = {
    "torch.load",
    "torch.save",
    "torch.compile",
    "torch.from_file",
    "torch.classes",
    "numpy.load",
    "numpy.save",
    "numpy.savez",
    "numpy.savetxt",
    "numpy.loadtxt",
    "numpy.fromfile",
    "numpy.genfromtxt",
    "numpy.memmap",
    "numpy.DataSource",
    "numpy.frompyfunc",
    "numpy.vectorize",
    "numpy.piecewise",
    "numpy.apply_along_axis",
    "numpy.apply_over_axes",
}
FUNCTION_CALLED = "calls {}, a function outside nandoctor's allow-list, with the pickle's own arguments"
_CLASSLIKE = re.compile(r"^_*[A-Z]")
_DUNDER_OK = {"__main__", "__torch__", "__builtin__", "__mp_main__"}


@dataclass
class Verdict:
    """One file's (or one pickle's) judgement; `merge` keeps the worst."""

    status: str = SAFE
    globals: list[str] = field(default_factory=list)  # every global named, torch's included
    unknown: list[str] = field(default_factory=list)  # outside the list, not trusted
    trusted: list[str] = field(default_factory=list)  # outside the list, named by --trust
    unsafe: dict[str, str] = field(default_factory=dict)  # global -> why it can run code
    pickles: list[str] = field(default_factory=list)  # which pickles were judged

    def saw(self, name: str) -> None:
        if name not in self.globals:
            self.globals.append(name)

    def flag(self, name: str, reason: str) -> None:
        self.saw(name)
        self.unsafe.setdefault(name, reason)
        self.status = UNSAFE

    def outside(self, name: str) -> None:
        if is_trusted(name):
            if name not in self.trusted:
                self.trusted.append(name)
        elif name not in self.unknown:
            self.unknown.append(name)
            if self.status == SAFE:
                self.status = UNKNOWN

    def merge(self, other: "Verdict") -> None:
        for name in other.globals:
            self.saw(name)
        for name in other.unknown:
            if name not in self.unknown:
                self.unknown.append(name)
        for name in other.trusted:
            if name not in self.trusted:
                self.trusted.append(name)
        for name, why in other.unsafe.items():
            self.unsafe.setdefault(name, why)
        self.pickles += [p for p in other.pickles if p not in self.pickles]
        if _RANK[other.status] > _RANK[self.status]:
            self.status = other.status

    def first_unsafe(self) -> tuple[str, str]:
        return next(iter(self.unsafe.items()), ("?", "unsafe pickle"))

    def to_dict(self) -> dict:
        cap = 500  # real checkpoints name a few dozen; a crafted one may name millions
        return {
            "verdict": self.status,
            "globals": self.globals[:cap],
            "unknown_globals": self.unknown[:cap],
            "trusted_globals": self.trusted[:cap],
            "unsafe_globals": [{"global": g, "why": w} for g, w in list(self.unsafe.items())[:cap]],
            "pickles": self.pickles[:cap],
        }


# --- --trust -------------------------------------------------------------------------------------------
_TRUST: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar("nandoctor_trust", default=())


@contextlib.contextmanager
def trusting(names: Iterable[str] | None) -> Iterator[None]:
    """While inside, globals named (or under a module named) by the user count as safe; a global that
    can run code stays unsafe whatever the user trusts."""
    token = _TRUST.set(tuple(n.strip() for n in (names or ()) if n and n.strip()))
    try:
        yield
    finally:
        _TRUST.reset(token)


def is_trusted(name: str) -> bool:
    return any(name == t or name.startswith(t + ".") for t in _TRUST.get())


# --- judging one global -----------------------------------------------------------------------------------
def resolve(module: str, name: str) -> tuple[str, str]:
    """The global the unpickler would fetch: Python 2 names mapped as pickle maps them (`__builtin__`,
    `copy_reg`, `commands`), `posix`/`nt` as `os`."""
    import _compat_pickle

    if (module, name) in _compat_pickle.NAME_MAPPING:
        module, name = _compat_pickle.NAME_MAPPING[(module, name)]
    elif module in _compat_pickle.IMPORT_MAPPING:
        module = _compat_pickle.IMPORT_MAPPING[module]
    if module in ("posix", "nt"):  # os.system pickles as posix.system: the same function
        module = "os"
    return module, name


def classify(module: str, name: str) -> tuple[str, str]:
    """(verdict, why) for `module.name` judged by name alone (nothing is imported).

    `name` may be a dotted attribute chain (protocol 4 fetches `torch` then `.os` then `.system`): the
    chain is judged as the object it reaches, so `GLOBAL 'torch' 'os.system'` is `os.system` reached
    through torch. A chain is safe only when the whole name is on the list.
    """
    module, name = resolve(module, name)
    full = f"{module}.{name}" if module else name
    parts = full.split(".")
    if any(p.startswith("__") and p.endswith("__") and p not in _DUNDER_OK for p in parts):
        return UNSAFE, "reaches a dunder attribute (globals, builtins, subclasses)"
    if not all(p.isidentifier() for p in parts):
        return UNSAFE, "not a Python name (an obfuscated import)"
    if full in SAFE_FUNCTIONS or full in SAFE_VALUES or full in SAFE_CLASSES:
        return SAFE, "on the allow-list"
    if module == "torch" and name.endswith("Storage") and name.isidentifier() and "." not in name:
        return SAFE, "a torch storage class"
    if module in ("torch", "torch.cuda") and name in LEGACY_TENSOR_TYPES:
        return SAFE, "a torch tensor type"
    root = parts[0]
    chain = name.split(".")
    if len(chain) == 1 and _CLASSLIKE.match(name) and full.startswith(SAFE_CLASS_MODULES):
        return SAFE, "a data class of a framework whose checkpoints are inspected"
    hit = next((m for m in (module, root) if m in UNSAFE_MODULES), None) or next(
        (m for m in UNSAFE_MODULES if module.startswith(m + ".")), None
    )
    if hit:
        return UNSAFE, f"{hit} can run code, import modules or do I/O"
    if full in UNSAFE_NAMES or any(
        full.startswith(p) if p.endswith(("_", ".")) else full == p or full.startswith(p + ".") for p in UNSAFE_PREFIXES
    ):
        return UNSAFE, "loads, saves, compiles or runs code"
    # An attribute chain (protocol-4 dotted name) through a module, function or method: `torch.os.system`,
    # `pathlib.Path.write_text`, `numpy.prod.a`. Nested classes (`Outer.Inner`) stay unknown.
    if len(chain) > 1 and not all(_CLASSLIKE.match(p) for p in chain):
        via = ".".join([module, *chain[:-1]])
        if any(p in UNSAFE_MODULES for p in chain):
            return UNSAFE, f"reaches {'.'.join(chain)} through {module} (an attribute chain)"
        return UNSAFE, f"an attribute chain through {via}"
    if any(p in UNSAFE_MODULES for p in parts[1:-1]) and not full.startswith(SAFE_CLASS_MODULES):
        return UNSAFE, f"reaches a module that can run code through {module}"
    return UNKNOWN, "outside nandoctor's allow-list"


def is_class_name(name: str) -> bool:
    return bool(_CLASSLIKE.match(name.split(".")[-1]))


# --- the static scan: a pickle that cannot be rebuilt is still judged ------------------------------------
MAX_OPS = 20_000_000


def scan_opcodes(data: bytes, verdict: Verdict) -> None:
    """Judge every global a pickle names from its opcodes alone, for pickles the restricted unpickler
    could not finish (a malformed tail must not hide an `os.system` before it, nor after it).

    The stack and memo are simulated from pickletools' opcode signatures, so a name assembled through
    PUT/MEMOIZE/GET (the memo confusion that bypassed picklescan) is resolved as the unpickler would; a
    STACK_GLOBAL whose operands are not plain strings is unsafe (its name is computed at load time).
    """
    import pickletools

    stack: list = []
    marks: list[int] = []
    memo: dict = {}
    opaque = object()
    try:
        for n, (op, arg, _pos) in enumerate(pickletools.genops(data)):
            if n > MAX_OPS:
                break
            code = op.name
            if code in ("GLOBAL", "INST"):
                module, _, name = str(arg).partition(" ")
                _judge_static(module, name, verdict)
            elif code == "STACK_GLOBAL":
                top = stack.pop() if stack else opaque
                below = stack.pop() if stack else opaque
                if isinstance(below, str) and isinstance(top, str):  # (module, name) pushed in that order
                    _judge_static(below, top, verdict)
                else:
                    verdict.flag("?", "STACK_GLOBAL with a computed name")
                stack.append(opaque)
                continue
            if code in ("PUT", "BINPUT", "LONG_BINPUT"):
                memo[arg] = stack[-1] if stack else opaque
                continue
            if code == "MEMOIZE":
                memo[len(memo)] = stack[-1] if stack else opaque
                continue
            if code in ("GET", "BINGET", "LONG_BINGET"):
                stack.append(memo.get(arg, opaque))
                continue
            if code == "MARK":
                marks.append(len(stack))
                continue
            before = op.stack_before
            if pickletools.markobject in before:
                del stack[marks.pop() if marks else 0 :]
                before = [b for b in before if b is not pickletools.markobject and b is not pickletools.stackslice]
            for _ in before:
                if stack:
                    stack.pop()
            for _ in op.stack_after:
                stack.append(arg if isinstance(arg, str) and code in _STRINGS else opaque)
    except (ValueError, EOFError, MemoryError):  # truncated or garbage (pickletools raises ValueError): what
        pass  # was seen so far is judged; anything else is a bug of ours and propagates


_STRINGS = {"SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE", "SHORT_BINSTRING", "BINSTRING", "STRING"}


def _judge_static(module: str, name: str, verdict: Verdict) -> None:
    module, name = resolve(module, name)
    full = f"{module}.{name}"
    status, why = classify(module, name)
    verdict.saw(full)
    if status == UNSAFE:
        verdict.flag(full, why)
    elif status == UNKNOWN:
        verdict.outside(full)
