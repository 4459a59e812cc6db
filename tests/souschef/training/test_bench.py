"""The throughput benchmark runs and reports every setup (a few steps, so it does not rot)."""

from __future__ import annotations

import json

from tests.conftest import load_bench


def test_train_throughput_reports_tokens_per_second_and_mfu_for_each_setup(capsys):
    bench = load_bench("train_throughput")
    args = ["--seq-len", "128", "--batch-size", "2", "--steps", "4", "--warmup", "1", "--repeats", "1"]
    args.append("--json")
    assert bench.main(args) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result["setups"]) == {"plain", "souschef", "souschef-nomask"}
    for figures in result["setups"].values():
        assert figures["tokens_per_s"] > 0 and 0 < figures["mfu"] < 1
    packed, padded = result["setups"]["souschef"], result["setups"]["plain"]
    assert packed["real_tokens_per_step"] > padded["real_tokens_per_step"]  # packing fills rows
