"""Which numeric precision training uses: float32, or Keras's mixed bfloat16 where it pays off.

Mixed bfloat16 computes convolutions and matrix products in 16-bit bfloat16 while keeping the
weights in float32. On CPUs with native bfloat16 instructions (Intel AMX, AVX512-BF16) that is
markedly faster at the same accuracy; elsewhere bfloat16 is emulated and slower than float32.
`resolve_precision("auto")` looks at the CPU's flags and picks. This module only reads
`/proc/cpuinfo`; it imports neither TensorFlow nor Keras.
"""

from __future__ import annotations

import functools
from pathlib import Path

PRECISIONS = ("auto", "float32", "mixed_bfloat16")
# CPU flags (as Linux names them in /proc/cpuinfo) that mean bfloat16 arithmetic is native.
BF16_FLAGS = frozenset({"amx_bf16", "avx512_bf16"})


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> frozenset[str]:
    """The feature flags of the first CPU listed, or an empty set where there is no cpuinfo."""
    try:
        text = cpuinfo.read_text(errors="replace")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return frozenset(value.split())
    return frozenset()


@functools.cache
def native_bfloat16() -> bool:
    """True when this machine's CPU computes bfloat16 natively."""
    return bool(BF16_FLAGS & cpu_flags())


def resolve_precision(name: str) -> str:
    """Turn a precision setting into a Keras dtype policy name.

    "auto" becomes "mixed_bfloat16" on CPUs with native bfloat16 and "float32" elsewhere;
    "float32" and "mixed_bfloat16" are returned as they are, so they can be forced.
    """
    if name not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}; got {name!r}.")
    if name == "auto":
        return "mixed_bfloat16" if native_bfloat16() else "float32"
    return name
