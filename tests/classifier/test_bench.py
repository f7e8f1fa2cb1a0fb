"""The benchmark's explanatory figures: the torch loop's padding factor and the CPU's int8 instructions."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.classifier.bench import cpu_description, padding_factor


def test_padding_factor_counts_each_batch_padded_to_its_longest_text() -> None:
    # Batches of 2 in arrival order: (10, 40) -> 2 x 40, (20, 20) -> 2 x 20, (5,) -> 5; the texts hold 95 tokens.
    assert padding_factor([10, 40, 20, 20, 5], 2) == pytest.approx(125 / 95, abs=1e-3)
    assert padding_factor([7, 7, 7, 7], 4) == 1.0  # equal lengths: nothing padded
    assert padding_factor([30, 10, 20], 1) == 1.0  # one text per batch: nothing padded


def test_cpu_description_reads_the_model_and_int8_flags(tmp_path: Path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu sse2 avx2 fma sha_ni\n\n"
                       "processor\t: 1\nmodel name\t: AMD EPYC\nflags\t\t: fpu sse2 avx2 fma sha_ni\n",
                       encoding="utf-8")
    assert cpu_description(cpuinfo) == {"model": "AMD EPYC", "avx2": True, "avx512_vnni": False,
                                        "avx_vnni": False, "amx_int8": False}
    cpuinfo.write_text("model name\t: Intel Xeon\nflags\t\t: avx2 avx512f avx512_vnni amx_int8\n", encoding="utf-8")
    assert cpu_description(cpuinfo) == {"model": "Intel Xeon", "avx2": True, "avx512_vnni": True,
                                        "avx_vnni": False, "amx_int8": True}
    assert cpu_description(tmp_path / "missing") is None
