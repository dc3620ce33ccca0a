"""py3langid's language model, read and scored with the standard library alone (no numpy).

py3langid (a maintained fork of langid.py) ships its model as ``data/model.npz.xz``: an LZMA-compressed
NumPy ``.npz`` archive holding a byte-level automaton that finds the model's n-gram features in a text,
and a naive-Bayes table of per-class log-probabilities. Its inference is a walk of the automaton and one
sparse dot product, but importing it imports numpy, which is 52 MB of the enrich function's 70 MB asset
for that one product (docs/decisions.md, "Operations"). This module reads the same file (the ``.npz`` is a
zip of ``.npy`` arrays, whose format is a short header and the raw little-endian values) and computes
the same scores as py3langid 0.4's ``LanguageIdentifier(norm_probs=True).rank``: features counted along
the automaton, ``log1p(count)`` times each feature's row of the table plus the class priors, a
temperature of ``sqrt(len(utf-8 bytes))``, a softmax, and the probabilities of labels listed twice (a
language in two scripts) added. A test holds it to py3langid's own answers.
"""

from __future__ import annotations

import ast
import importlib.util
import io
import lzma
import math
import struct
import unicodedata
import zipfile
from array import array
from collections import Counter
from dataclasses import dataclass
from itertools import repeat
from operator import add, mul
from pathlib import Path
from typing import Any

MODEL_PACKAGE, MODEL_FILE = "py3langid", "data/model.npz.xz"
_NPY_MAGIC = b"\x93NUMPY"
_ARRAY_TYPES = {"<u2": "H", "<u4": "I", "<i4": "i", "<i8": "q", "<f4": "f"}


@dataclass(frozen=True)
class _Npy:
    descr: str
    shape: tuple[int, ...]
    data: bytes


def _npy(raw: bytes) -> _Npy:
    """One ``.npy`` array: its dtype, shape and raw bytes (C order only, as ``np.savez`` writes them)."""
    if not raw.startswith(_NPY_MAGIC):
        raise ValueError("not a .npy array")
    major = raw[6]
    if major == 1:
        (length,) = struct.unpack_from("<H", raw, 8)
        start = 10
    else:
        (length,) = struct.unpack_from("<I", raw, 8)
        start = 12
    header: dict[str, Any] = ast.literal_eval(raw[start : start + length].decode("latin-1"))
    if header.get("fortran_order"):
        raise ValueError("Fortran-ordered arrays are not read")
    return _Npy(str(header["descr"]), tuple(header["shape"]), raw[start + length :])


def _numbers(item: _Npy) -> array[Any]:
    values = array(_ARRAY_TYPES[item.descr])
    values.frombytes(item.data)
    return values


def _strings(item: _Npy) -> list[str]:
    """A fixed-width unicode array (``<U3``: UTF-32-LE, NUL-padded) as Python strings."""
    width = int(item.descr[2:]) * 4
    return [
        item.data[i : i + width].decode("utf-32-le").rstrip("\x00") for i in range(0, len(item.data), width)
    ]


class NaiveBayesLanguageModel:
    """The model of ``data/model.npz.xz``: ``rank(text)`` gives every label with its probability."""

    def __init__(self, archive: bytes) -> None:
        with zipfile.ZipFile(io.BytesIO(archive)) as npz:
            arrays = {name.removesuffix(".npy"): _npy(npz.read(name)) for name in npz.namelist()}
        ptc = arrays["ptc"]
        if ptc.descr != "<f2" or len(ptc.shape) != 2:
            raise ValueError("unexpected layout of the model's table")
        self._features, self._classes_count = ptc.shape
        self._row = struct.Struct(f"<{self._classes_count}e")
        self._ptc = ptc.data
        self._pc = list(_numbers(arrays["pc"]))
        self.labels = _strings(arrays["classes"])
        self._nextmove = _numbers(arrays["nextmove"])
        self._rowbase = [row << 8 for row in _numbers(arrays["nextmove_row"])]
        self._output = _numbers(arrays["out_feat"])

    @classmethod
    def bundled(cls) -> NaiveBayesLanguageModel:
        """The model py3langid ships (its package's data, installed without numpy in the Lambda layer)."""
        # Located, not imported: py3langid's __init__ imports numpy.
        spec = importlib.util.find_spec(MODEL_PACKAGE)
        if spec is None or not spec.submodule_search_locations:
            raise ModuleNotFoundError(f"{MODEL_PACKAGE} is not installed (the language layer)")
        packed = (Path(next(iter(spec.submodule_search_locations))) / MODEL_FILE).read_bytes()
        return cls(lzma.decompress(packed))

    def rank(self, text: str) -> list[tuple[str, float]]:
        """Every label once, with its probability, best first (py3langid's ``rank`` with ``norm_probs``)."""
        if text.isupper():
            text = text.lower()
        encoded = unicodedata.normalize("NFC", text).encode("utf-8", errors="surrogatepass")
        scores = self._scores(encoded)
        temperature = 1.0 / math.sqrt(len(encoded) or 1)
        top = max(score * temperature for score in scores)
        weights = [math.exp(score * temperature - top) for score in scores]
        total = sum(weights)
        merged: dict[str, float] = {}
        for label, weight in zip(self.labels, weights, strict=True):
            merged[label] = merged.get(label, 0.0) + weight / total
        return sorted(merged.items(), key=lambda pair: pair[1], reverse=True)

    def _scores(self, encoded: bytes) -> list[float]:
        """Per-class log-posterior: the features found along the automaton, each weighted log1p(count)."""
        nextmove, rowbase, output = self._nextmove, self._rowbase, self._output
        state, found = 0, []
        for byte in encoded:
            state = nextmove[rowbase[state] + byte]
            feature = output[state]
            if feature >= 0:
                found.append(feature)
        if not found:
            return [0.0] * self._classes_count  # nothing to read: every label alike
        scores = list(self._pc)
        size, unpack, table = self._row.size, self._row.unpack_from, self._ptc
        for feature, count in Counter(found).items():
            weight = math.log1p(count)
            row = unpack(table, feature * size)
            scores = list(map(add, scores, map(mul, repeat(weight), row)))
        return scores
