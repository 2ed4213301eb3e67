"""GPU compute model: roofline shape, calibration, memory checks, GPU profiles."""

import dataclasses

import numpy as np
import pytest

from ns3_mfs.config import ConfigError, from_dict
from ns3_mfs.serving.compute import (
    GPUS,
    ComputeConfig,
    ComputeModel,
    GpuProfile,
    Utilization,
    calibrate,
    list_gpus,
    load_gpu,
)
from ns3_mfs.serving.models import load_model


@pytest.fixture(scope="module")
def mixtral_ep8():
    """The MFS testbed layout: Mixtral-8x7B FP16, TP1/EP8 on RTX 3090s."""
    return ComputeModel(load_model("mixtral-8x7b"), load_gpu("rtx3090"), tp=1, ep=8)


# ------------------------------------------------------------------ GPUs


def test_gpu_profiles_by_name():
    assert list_gpus() == ["a100", "h100", "rtx3090"]
    assert load_gpu("RTX 3090") is load_gpu("rtx-3090") is GPUS["rtx3090"]
    assert load_gpu("H100-SXM").peak_tflops_fp16 == pytest.approx(989.5)
    assert load_gpu("a100").memory_bw_gbps == 2039.0
    g = load_gpu("rtx3090")
    assert g.peak_flops == 71e12 and g.memory_bw_bytes_per_s == 936e9 and g.memory_bytes == 24e9


def test_unknown_gpu_lists_profiles():
    with pytest.raises(ConfigError, match=r"unknown GPU; available: a100, h100, rtx3090"):
        load_gpu("v100")


def test_user_gpu_toml(tmp_path):
    path = tmp_path / "l40s.toml"
    path.write_text(
        'name = "L40S"\npeak_tflops_fp16 = 362.05\nmemory_bw_gbps = 864\nmemory_gb = 48\n'
        "intra_server_bw_gbps = 31.5\n"
    )
    g = load_gpu(path)
    assert g.name == "L40S" and g.intra_server_link == "pcie" and g.memory_gb == 48.0
    path.write_text(path.read_text().replace("memory_gb = 48", 'memory_gb = "lots"'))
    with pytest.raises(ConfigError, match=r"l40s\.toml: memory_gb: expected a number, got 'lots'"):
        load_gpu(path)


# -------------------------------------------------------------- roofline


def test_attention_and_expert_flops_by_hand(mixtral_ep8):
    m, T, C = mixtral_ep8.model, 8192, 4096
    att = mixtral_ep8.attention_cost(T, C)
    assert att.flops == pytest.approx(2 * T * m.attention_params_per_layer() + 4 * T * C * 32 * 128)
    # EP8 with 8 data-parallel attention groups: every GPU computes T * top_k
    # token-expert pairs (plus the router).
    exp = mixtral_ep8.expert_cost(T)
    assert exp.flops == pytest.approx(2 * T * (2 * 3 * 4096 * 14336 + 4096 * 8))
    # TP2 halves the attention work per GPU.
    tp2 = dataclasses.replace(mixtral_ep8, tp=2)
    assert tp2.attention_cost(T, C).flops == pytest.approx(att.flops / 2)


def test_roofline_is_monotone_in_tokens_and_context(mixtral_ep8):
    tokens = [1, 2, 8, 32, 64, 128, 512, 2048, 8192, 16384]
    contexts = [0, 128, 1024, 4096, 32768]
    times = np.array([[mixtral_ep8.layer_time_s(t, c) for c in contexts] for t in tokens])
    assert np.all(np.diff(times, axis=0) > 0), "layer time must grow with tokens"
    assert np.all(np.diff(times, axis=1) > 0), "layer time must grow with context"
    for t in tokens:
        assert mixtral_ep8.expert_time_s(t) <= mixtral_ep8.expert_time_s(2 * t)


def test_large_batches_are_compute_bound_small_ones_memory_bound(mixtral_ep8):
    g, u = mixtral_ep8.gpu, mixtral_ep8.utilization
    for cost in (mixtral_ep8.attention_cost(8192, 4096), mixtral_ep8.expert_cost(8192)):
        assert cost.bound(g, u) == "compute"
    for cost in (mixtral_ep8.attention_cost(1, 1000), mixtral_ep8.expert_cost(1)):
        assert cost.bound(g, u) == "memory"
    # At one token the time is flat: the weights dominate.
    assert mixtral_ep8.attention_time_s(2, 100) == pytest.approx(mixtral_ep8.attention_time_s(1, 100), rel=0.01)


def test_mixtral_8192_tokens_on_rtx3090_ep8_is_plausible(mixtral_ep8):
    """Mixtral-8x7B, 8192 batched tokens per GPU, TP1/EP8 on RTX 3090 (MFS testbed).

    One layer does ~2 * 8192 * 0.39e9 active weights = 6.4 TFLOP of GEMMs
    (16384 token-expert pairs x 352 MFLOP + the attention projections) plus
    0.55 TFLOP of attention scores at context 4096 (one fresh 8192-token
    prompt, causal), i.e. >= 97 ms at the 71 TFLOPS dense FP16 peak. With the
    default 50 % MFU the model gives ~0.197 s per layer, ~6.3 s for the 32
    layers: the RTX 3090 is compute-bound here and a full 8192-token prefill
    takes seconds, not milliseconds.
    """
    t = mixtral_ep8.layer_time_s(8192, 4096)
    peak_bound = (mixtral_ep8.attention_cost(8192, 4096).flops + mixtral_ep8.expert_cost(8192).flops) / 71e12
    assert peak_bound == pytest.approx(0.0985, rel=0.02)
    assert t == pytest.approx(peak_bound / 0.5, rel=0.01)
    assert 0.1 < t < 0.4
    assert 3.0 < mixtral_ep8.prefill_time_s(8192, 4096) < 13.0


def test_dense_layers_of_deepseek_v3_use_the_dense_ffn():
    cm = ComputeModel("deepseek-v3", "h100", tp=8, ep=8, enforce_memory=False)
    assert cm.layer_time_s(4096, 2048, layer=0) != cm.layer_time_s(4096, 2048, layer=3)
    assert cm.layer_time_s(4096, 2048) == cm.layer_time_s(4096, 2048, layer=60)
    assert cm.prefill_time_s(4096, 2048) == pytest.approx(
        3 * cm.layer_time_s(4096, 2048, layer=0) + 58 * cm.layer_time_s(4096, 2048, layer=3)
    )


def test_decode_step_is_memory_bound_and_grows_with_context(mixtral_ep8):
    g, u = mixtral_ep8.gpu, mixtral_ep8.utilization
    assert mixtral_ep8.attention_cost(8, 2000, kv_tokens=16000).bound(g, u) == "memory"
    t1 = mixtral_ep8.decode_step_time_s(8, 8 * 1000)
    t2 = mixtral_ep8.decode_step_time_s(8, 8 * 8000)
    assert 0 < t1 < t2
    # At least the per-GPU weights touched (attention + ~1 expert per layer) at full bandwidth.
    assert t1 > 0.5 * mixtral_ep8.weight_bytes_per_gpu() / 936e9


# ---------------------------------------------------------------- memory


def test_memory_check_refuses_mixtral_8x22b_on_one_rtx3090():
    with pytest.raises(
        ConfigError,
        match=r"model Mixtral-8x22B needs 282\.0 GB per GPU with TP=1 EP=1 but the GPU \(RTX 3090\) has 24 GB",
    ):
        ComputeModel("mixtral-8x22b", "rtx3090", tp=1, ep=1)
    cm = ComputeModel("mixtral-8x22b", "rtx3090", enforce_memory=False)
    assert not cm.fits_in_memory()
    assert ComputeModel("mixtral-8x22b", "h100", tp=4, ep=8).fits_in_memory()


def test_memory_of_the_testbed_layout(mixtral_ep8):
    # 93.4 GB of weights: ~3.4 % (attention, embeddings) on every GPU, 1/8 of the experts.
    assert mixtral_ep8.weight_bytes_per_gpu() / 1e9 == pytest.approx(14.5, abs=0.1)
    assert mixtral_ep8.fits_in_memory()
    assert mixtral_ep8.max_kv_tokens() == pytest.approx((21.6e9 - 14.48e9) / (32 * 4096), rel=0.01)
    with pytest.raises(ConfigError, match=r"and 1e\+06 KV tokens"):
        mixtral_ep8.check_memory(kv_tokens=1e6)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"tp": 3}, r"tp: 3 does not divide the 32 attention heads"),
        ({"ep": 16}, r"ep: 16 is more than the 8 experts"),
        ({"tp": 4, "ep": 6}, r"one of tp=4 and ep=6 must divide the other"),
        ({"tp": 0}, r"tp: expected an integer >= 1"),
        ({"memory_utilization": 1.5}, r"memory_utilization: must be in \(0, 1\]"),
    ],
)
def test_impossible_layouts_are_refused(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        ComputeModel("mixtral-8x7b", "h100", **kwargs)


def test_utilization_is_validated():
    with pytest.raises(ConfigError, match=r"utilization\.mfu: must be <= 1.0"):
        Utilization(mfu=1.2)


# ----------------------------------------------------------- calibration


def _synthetic_csv(path, cm, with_context=True):
    lines = ["tokens,layer_time_s,context_tokens" if with_context else "tokens,layer_time_s"]
    for t in [1, 4, 16, 64, 256, 1024, 4096, 8192, 16384]:
        for c in [t / 2, t / 2 + 2048] if with_context else [t / 2]:
            lines.append(f"{t},{cm.layer_time_s(t, c):.9e}" + (f",{c}" if with_context else ""))
    path.write_text("# synthetic, from the model itself\n" + "\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("with_context", [True, False])
def test_calibration_recovers_a_known_utilization(tmp_path, mixtral_ep8, with_context):
    truth = dataclasses.replace(mixtral_ep8, utilization=Utilization(mfu=0.37, mbu=0.62))
    csv_path = _synthetic_csv(tmp_path / "layers.csv", truth, with_context)
    fitted = calibrate("mixtral-8x7b", "rtx3090", csv_path, tp=1, ep=8)
    assert isinstance(fitted, ComputeModel) and (fitted.tp, fitted.ep) == (1, 8)
    assert fitted.mfu == pytest.approx(0.37, rel=0.02)
    assert fitted.mbu == pytest.approx(0.62, rel=0.02)
    assert fitted.layer_time_s(3000, 1500) == pytest.approx(truth.layer_time_s(3000, 1500), rel=0.02)


def test_calibration_with_only_compute_bound_rows_keeps_default_mbu(tmp_path, mixtral_ep8):
    truth = dataclasses.replace(mixtral_ep8, utilization=Utilization(mfu=0.6, mbu=0.7))
    rows = "\n".join(f"{t},{truth.layer_time_s(t, t / 2):.9e}" for t in (2048, 4096, 8192))
    path = tmp_path / "big.csv"
    path.write_text("tokens,layer_time_s\n" + rows + "\n")
    fitted = calibrate("mixtral-8x7b", "rtx3090", path, ep=8)
    assert fitted.mfu == pytest.approx(0.6, rel=0.02)
    assert fitted.mbu == Utilization().mbu


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("tokens,layer_time_s\n128,0.01\n256,abc\n", r"bad\.csv line 3: layer_time_s: expected a number, got 'abc'"),
        ("tokens,time\n128,0.01\n", r"bad\.csv line 1: missing column 'layer_time_s'"),
        ("tokens,layer_time_s\n128,0.01\n\n256,0.02,7\n", r"bad\.csv line 4: 3 fields; expected 2"),
        ("tokens,layer_time_s\n-5,0.01\n256,0.02\n", r"bad\.csv line 2: tokens: must be > 0, got '-5'"),
        ("tokens,layer_time_s\n128,0.01\n", r"bad\.csv line 1: at least 2 data rows after this header line, got 1"),
        ("", r"bad\.csv line 1: empty file"),
        ("tokens,layer_time_s\n128,1e-9\n8192,1e-8\n", r"bad\.csv: fitted mfu = .* is outside \(0, 1\]"),
    ],
)
def test_bad_calibration_csv_names_file_and_line(tmp_path, text, message):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        calibrate("mixtral-8x7b", "rtx3090", path, ep=8)


def test_missing_calibration_file(tmp_path):
    with pytest.raises(ConfigError, match=r"nope\.csv: cannot read file"):
        calibrate("mixtral-8x7b", "rtx3090", tmp_path / "nope.csv", ep=8)


# ---------------------------------------------------------------- config


def test_compute_config_builds_a_model(tmp_path, mixtral_ep8):
    cfg = from_dict(ComputeConfig, {"model": "Mixtral-8x7B", "gpu": "RTX 3090", "ep": 8, "mfu": 0.4})
    cm = cfg.build()
    assert cm.mfu == 0.4 and cm.model == mixtral_ep8.model and cm.gpu == mixtral_ep8.gpu
    _synthetic_csv(tmp_path / "layers.csv", dataclasses.replace(mixtral_ep8, utilization=Utilization(0.3, 0.5)))
    cfg = from_dict(ComputeConfig, {"ep": 8, "calibration_csv": "layers.csv"})
    assert cfg.build(base_dir=tmp_path).mfu == pytest.approx(0.3, rel=0.02)
    with pytest.raises(ConfigError, match=r"compute\.mbu: must be <= 1.0"):
        from_dict(ComputeConfig, {"mbu": 2.0}, "compute")
    assert isinstance(GPUS["a100"], GpuProfile)
