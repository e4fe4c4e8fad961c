"""ctypes binding of libpairrm (the PairRM-Swift C ABI, pairrm.h). Standard library only.

    import pairrm
    model = pairrm.Model("llm-blender/PairRM")         # or a .prm file or checkpoint folder;
                                                       # libpairrm found via $PAIRRM_LIBRARY,
    model.compare("prompt", "answer A", "answer B")    # ctypes.util.find_library or lib=...
    # -> Comparison(logit=0.73, verdict='a')
    model.rank("prompt", ["c1", "c2", "c3"])           # -> Ranking(scores=[...], ranks=[...])

One Model may be used from many threads at once (the library is thread-safe and ctypes
releases the GIL during each call). Errors raise PairRMError with the library's status code
and message.
"""
import ctypes
import ctypes.util
import math
import os
import threading
from collections import namedtuple

__all__ = ["Model", "PairRMError", "Comparison", "Ranking", "Selection", "load_library"]

OK = 0
STATUS_NAMES = {
    0: "PAIRRM_OK", 1: "PAIRRM_ERR_INVALID_ARGUMENT", 2: "PAIRRM_ERR_INVALID_UTF8", 3: "PAIRRM_ERR_BUFFER_TOO_SMALL",
    4: "PAIRRM_ERR_INVALID_HANDLE", 5: "PAIRRM_ERR_IO", 6: "PAIRRM_ERR_INVALID_MODEL", 7: "PAIRRM_ERR_INPUT_TOO_LONG",
    8: "PAIRRM_ERR_INVALID_CONVERSATION", 9: "PAIRRM_ERR_NOT_FOUND", 100: "PAIRRM_ERR_INTERNAL",
}
ERR_BUFFER_TOO_SMALL = 3
MODES = {"[A,B]+[B,A]": 0, "both": 0, "[A,B]": 1, "ab": 1, "[B,A]": 2, "ba": 2}
VERDICTS = {0: "tie", 1: "a", 2: "b"}
RANK_STRATEGIES = {"full": 0, "merge-sort": 1}
SELECT_STRATEGIES = {"bubble": 0, "full": 1}
ABI_MAJOR = 1

Comparison = namedtuple("Comparison", "logit verdict")
Ranking = namedtuple("Ranking", "scores ranks")
Selection = namedtuple("Selection", "index order")


class PairRMError(Exception):
    """A libpairrm call failed: `status` is the pairrm_status code, `name` its name."""

    def __init__(self, status, message):
        self.status = status
        self.name = STATUS_NAMES.get(status, "PAIRRM_ERR_UNKNOWN")
        super().__init__("%s: %s" % (self.name, message))


class _ModelParams(ctypes.Structure):
    _fields_ = [("size", ctypes.c_uint32), ("threads", ctypes.c_int32), ("batch_size", ctypes.c_int32),
                ("source_max_length", ctypes.c_int32), ("candidate_max_length", ctypes.c_int32),
                ("replace_separator_literals", ctypes.c_int32), ("reject_truncation", ctypes.c_int32),
                ("verify_tensors", ctypes.c_int32), ("max_pooled_contexts", ctypes.c_int32),
                ("buffer_no_copy", ctypes.c_int32), ("read_into_memory", ctypes.c_int32)]


class _ModelInfo(ctypes.Structure):
    _fields_ = [("size", ctypes.c_uint32), ("hidden_size", ctypes.c_int32), ("num_layers", ctypes.c_int32),
                ("num_heads", ctypes.c_int32), ("intermediate_size", ctypes.c_int32), ("vocab_size", ctypes.c_int32),
                ("max_tokens", ctypes.c_int32), ("source_max_length", ctypes.c_int32),
                ("candidate_max_length", ctypes.c_int32), ("tensors_zero_copy", ctypes.c_int32),
                ("tensor_count", ctypes.c_uint64)]


class _Turn(ctypes.Structure):
    _fields_ = [("role", ctypes.c_char_p), ("content", ctypes.c_char_p)]


_lib = None
_lib_lock = threading.Lock()


def load_library(path=None):
    """Loads libpairrm once: `path`, else $PAIRRM_LIBRARY, else the system search (find_library)."""
    global _lib
    with _lib_lock:
        if _lib is not None:
            return _lib
        path = path or os.environ.get("PAIRRM_LIBRARY") or ctypes.util.find_library("pairrm") or "libpairrm.so"
        lib = ctypes.CDLL(path)
        c = ctypes
        P, S, I32, F = c.c_void_p, c.c_size_t, c.c_int32, c.c_float
        CHARS = c.POINTER(c.c_char_p)
        sigs = {
            "pairrm_version": (c.c_char_p, []),
            "pairrm_abi_version": (c.c_uint32, []),
            "pairrm_status_name": (c.c_char_p, [I32]),
            "pairrm_last_error": (c.c_char_p, []),
            "pairrm_model_default_params": (_ModelParams, []),
            "pairrm_model_load": (I32, [c.c_char_p, c.c_char_p, c.POINTER(_ModelParams), c.POINTER(P)]),
            "pairrm_model_load_from_file": (I32, [c.c_char_p, c.POINTER(_ModelParams), c.POINTER(P)]),
            "pairrm_model_load_from_buffer": (I32, [c.c_char_p, S, c.POINTER(_ModelParams), c.POINTER(P)]),
            "pairrm_model_free": (I32, [P]),
            "pairrm_model_get_info": (I32, [P, c.POINTER(_ModelInfo)]),
            "pairrm_model_get_metadata": (I32, [P, c.c_char_p, c.c_char_p, S, c.POINTER(S)]),
            "pairrm_model_compare": (I32, [P, c.c_char_p, c.c_char_p, c.c_char_p, c.c_char_p, I32, c.POINTER(F), c.POINTER(I32)]),
            "pairrm_model_rank": (I32, [P, c.c_char_p, c.c_char_p, CHARS, S, I32, c.POINTER(F), c.POINTER(I32), S]),
            "pairrm_model_best_of_n": (I32, [P, c.c_char_p, c.c_char_p, CHARS, S, I32, c.POINTER(I32), c.POINTER(I32), c.POINTER(I32), S]),
            "pairrm_model_worst_of_n": (I32, [P, c.c_char_p, c.c_char_p, CHARS, S, I32, c.POINTER(I32), c.POINTER(I32), c.POINTER(I32), S]),
            "pairrm_model_compare_conversations": (I32, [P, c.POINTER(_Turn), S, c.POINTER(_Turn), S, I32, c.POINTER(F), c.POINTER(I32)]),
            "pairrm_model_tokenize": (I32, [P, c.c_char_p, c.POINTER(I32), S, c.POINTER(S)]),
        }
        for name, (restype, argtypes) in sigs.items():
            fn = getattr(lib, name)
            fn.restype, fn.argtypes = restype, argtypes
        abi = lib.pairrm_abi_version()
        if abi >> 16 != ABI_MAJOR:
            raise OSError("%s has ABI %d.%d; this module needs %d.x" % (path, abi >> 16, (abi >> 8) & 0xFF, ABI_MAJOR))
        _lib = lib
        return lib


def _check(status):
    if status != OK:
        raise PairRMError(status, _lib.pairrm_last_error().decode("utf-8", "replace"))


def _text(value, name):
    """str -> UTF-8 bytes. (bytes pass through unchanged: the library validates them.)"""
    if isinstance(value, bytes):
        return value
    if not isinstance(value, str):
        raise TypeError("%s must be str, not %s" % (name, type(value).__name__))
    return value.encode("utf-8", "surrogatepass")  # lone surrogates reach the library, which rejects them


def _texts(values, name):
    values = [_text(v, "%s[%d]" % (name, i)) for i, v in enumerate(values)]
    return (ctypes.c_char_p * max(1, len(values)))(*values), len(values)


def _mode(mode):
    try:
        return MODES[mode]
    except KeyError:
        raise ValueError("mode must be one of %s" % sorted(MODES)) from None


class Model:
    """A loaded PairRM model (pairrm_model). Thread-safe; close() or `with` frees it.

    `model` is a .prm file, a checkpoint folder or a hub id ("llm-blender/PairRM",
    "org/name@revision") already in the Hugging Face cache (the library never uses the
    network: fetch with `pairrm download` or huggingface_hub first); None means
    $PAIRRM_MODEL, else llm-blender/PairRM. A checkpoint is converted once with `recipe`
    (default "q8") and cached. `data` loads a .prm container from bytes instead.

    Options (all optional) are pairrm_model_params fields: threads, batch_size,
    source_max_length, candidate_max_length, replace_separator_literals, reject_truncation,
    verify_tensors, max_pooled_contexts, read_into_memory (1: read the file instead of mapping it).
    """

    def __init__(self, model=None, *, data=None, recipe=None, lib=None, **options):
        self._lib = load_library(lib)
        params = self._lib.pairrm_model_default_params()
        for key, value in options.items():
            if key in ("size", "buffer_no_copy") or not hasattr(params, key):
                raise TypeError("unknown option %r" % key)
            setattr(params, key, int(value))
        handle = ctypes.c_void_p()
        if data is None:
            name = None if model is None else _text(os.fspath(model), "model")
            recipe_text = None if recipe is None else _text(recipe, "recipe")
            _check(self._lib.pairrm_model_load(name, recipe_text, ctypes.byref(params), ctypes.byref(handle)))
        elif model is not None:
            raise TypeError("pass model or data, not both")
        else:
            data = bytes(data)  # the library copies it (buffer_no_copy = 0)
            _check(self._lib.pairrm_model_load_from_buffer(data, len(data), ctypes.byref(params), ctypes.byref(handle)))
        self._handle = handle

    # lifetime
    def close(self):
        """Frees the model (idempotent here; the library itself rejects a double free)."""
        handle, self._handle = getattr(self, "_handle", None), None
        if handle is not None and handle.value:
            _check(self._lib.pairrm_model_free(handle))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    @property
    def handle(self):
        if self._handle is None:
            raise PairRMError(4, "the model was closed")
        return self._handle

    # description
    @property
    def info(self):
        info = _ModelInfo(size=ctypes.sizeof(_ModelInfo))
        _check(self._lib.pairrm_model_get_info(self.handle, ctypes.byref(info)))
        return {name: getattr(info, name) for name, _ in _ModelInfo._fields_ if name != "size"}

    def metadata(self, key):
        need = ctypes.c_size_t()
        _check(self._lib.pairrm_model_get_metadata(self.handle, _text(key, "key"), None, 0, ctypes.byref(need)))
        buf = ctypes.create_string_buffer(need.value)
        _check(self._lib.pairrm_model_get_metadata(self.handle, _text(key, "key"), buf, need.value, ctypes.byref(need)))
        return buf.value.decode("utf-8")

    # scoring
    def compare(self, prompt, a, b, instruction="", mode="[A,B]+[B,A]"):
        """LLM-Blender's compare: Comparison(logit, verdict 'a' | 'b' | 'tie')."""
        logit, verdict = ctypes.c_float(), ctypes.c_int32()
        _check(self._lib.pairrm_model_compare(self.handle, _text(prompt, "prompt"), _text(a, "a"), _text(b, "b"),
                                              _text(instruction, "instruction"), _mode(mode), ctypes.byref(logit), ctypes.byref(verdict)))
        return Comparison(logit.value, VERDICTS[verdict.value])

    def rank(self, prompt, candidates, instruction="", strategy="full"):
        """LLM-Blender's rank: Ranking(scores (None for merge-sort), ranks; 1 = best)."""
        array, n = _texts(candidates, "candidates")
        scores, ranks = (ctypes.c_float * max(1, n))(), (ctypes.c_int32 * max(1, n))()
        _check(self._lib.pairrm_model_rank(self.handle, _text(prompt, "prompt"), _text(instruction, "instruction"), array, n,
                                           RANK_STRATEGIES[strategy], scores, ranks, n))
        values = list(scores)[:n]
        return Ranking(None if all(math.isnan(s) for s in values) else values, list(ranks)[:n])

    def _select(self, fn, prompt, candidates, instruction, strategy, start_order):
        array, n = _texts(candidates, "candidates")
        start = None
        if start_order is not None:
            if len(start_order) != n:
                raise ValueError("start_order must have one entry per candidate")
            start = (ctypes.c_int32 * n)(*start_order)
        index, order = ctypes.c_int32(), (ctypes.c_int32 * max(1, n))()
        _check(fn(self.handle, _text(prompt, "prompt"), _text(instruction, "instruction"), array, n,
                  SELECT_STRATEGIES[strategy], start, ctypes.byref(index), order, n))
        return Selection(index.value, list(order)[:n])

    def best_of_n(self, prompt, candidates, instruction="", strategy="bubble", start_order=None):
        """LLM-Blender's get_best_of_n: Selection(index, order)."""
        return self._select(self._lib.pairrm_model_best_of_n, prompt, candidates, instruction, strategy, start_order)

    def worst_of_n(self, prompt, candidates, instruction="", strategy="bubble", start_order=None):
        return self._select(self._lib.pairrm_model_worst_of_n, prompt, candidates, instruction, strategy, start_order)

    def compare_conversations(self, a, b, mode="[A,B]+[B,A]"):
        """a, b: lists of {"role": "USER"|"ASSISTANT", "content": str} (Blender's format)."""
        def turns(conversation, name):
            encoded = [(_text(t["role"], name + ".role"), _text(t["content"], name + ".content")) for t in conversation]
            return (_Turn * max(1, len(encoded)))(*[_Turn(r, c) for r, c in encoded]), len(encoded)
        ta, na = turns(a, "a")
        tb, nb = turns(b, "b")
        logit, verdict = ctypes.c_float(), ctypes.c_int32()
        _check(self._lib.pairrm_model_compare_conversations(self.handle, ta, na, tb, nb, _mode(mode), ctypes.byref(logit), ctypes.byref(verdict)))
        return Comparison(logit.value, VERDICTS[verdict.value])

    def tokenize(self, text):
        """Token ids (no [CLS]/[SEP])."""
        data = _text(text, "text")
        need = ctypes.c_size_t()
        _check(self._lib.pairrm_model_tokenize(self.handle, data, None, 0, ctypes.byref(need)))
        ids = (ctypes.c_int32 * max(1, need.value))()
        _check(self._lib.pairrm_model_tokenize(self.handle, data, ids, need.value, ctypes.byref(need)))
        return list(ids)[:need.value]

    # reward-model helpers
    def reward(self, prompt, response, reference, instruction=""):
        """A scalar reward: the order-averaged logit of `response` against a `reference` answer
        (> 0: better than the reference)."""
        return self.compare(prompt, response, reference, instruction=instruction).logit

    def rewards(self, prompt, responses, instruction=""):
        """Blender's max_logits scores of several responses to one prompt (higher is better)."""
        return self.rank(prompt, responses, instruction=instruction).scores


def version():
    return load_library().pairrm_version().decode()
