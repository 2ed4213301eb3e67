"""Model catalogue: every model loads, derived sizes match hand-computed values."""

import pytest

from ns3_mfs.config import ConfigError
from ns3_mfs.serving.models import ModelSpec, list_models, load_model, ring_allreduce_bytes_per_rank

CATALOGUE = [
    "mixtral-8x7b",
    "mixtral-8x22b",
    "dbrx",
    "grok-1",
    "qwen3-30b-a3b",
    "qwen3-235b-a22b",
    "qwen3-coder-480b-a35b",
    "deepseek-v3",
]


def test_catalogue_lists_every_shipped_model():
    assert sorted(CATALOGUE) == list_models()


@pytest.mark.parametrize("name", CATALOGUE)
def test_every_model_loads_and_its_data_is_consistent(name):
    m = load_model(name)
    assert isinstance(m, ModelSpec)
    assert 0 < m.moe_layers <= m.layers and m.top_k <= m.experts
    # The architecture must reproduce the model card's parameter counts: a
    # check that the config.json values were typed in correctly.
    assert m.estimated_params() / 1e9 == pytest.approx(m.total_params, rel=0.03)
    assert m.estimated_active_params() / 1e9 == pytest.approx(m.active_params, rel=0.03)
    assert m.weight_bytes() == round(m.total_params * 1e9 * 2)
    assert m.combine_bytes_per_token() == m.dispatch_bytes_per_token()


def test_names_are_case_insensitive():
    assert load_model("Mixtral-8x7B") == load_model("mixtral-8x7b") == load_model(" MIXTRAL-8X7B ")
    assert load_model("Mixtral-8x7B").name == "Mixtral-8x7B"


def test_mixtral_8x7b_sizes_by_hand():
    m = load_model("mixtral-8x7b")
    assert (m.layers, m.moe_layers, m.hidden_size, m.experts, m.top_k) == (32, 32, 4096, 8, 2)
    assert m.kv_bytes_per_token_per_layer() == 2 * 8 * 128 * 2 == 4096
    assert m.kv_bytes_per_token() == 32 * 4096
    assert m.dispatch_bytes_per_token() == 2 * 4096 * 2 == 16384
    assert m.combine_bytes_per_token() == 16384
    assert m.tp_allreduce_bytes_per_token() == 4096 * 2
    assert m.expert_params() == 3 * 4096 * 14336
    # Q and O 4096x4096, K and V 4096x1024.
    assert m.attention_params_per_layer() == 2 * 4096 * 4096 + 2 * 4096 * 1024
    assert m.weight_bytes() == 46.7e9 * 2
    assert m.active_weight_bytes_per_token_layer() == (
        m.attention_params_per_layer() + 2 * m.expert_params() + 4096 * 8
    ) * 2


def test_deepseek_v3_mla_and_dense_layers():
    m = load_model("deepseek-v3")
    assert m.is_mla
    assert m.kv_bytes_per_token_per_layer() == (512 + 64) * 2 == 1152
    assert m.dispatch_bytes_per_token() == 8 * 7168 * 2
    assert (m.layers, m.moe_layers, m.dense_layers, m.shared_experts) == (61, 58, 3, 1)
    assert [m.is_moe_layer(i) for i in (0, 2, 3, 60)] == [False, False, True, True]
    assert m.qk_head_dim == 192 and m.value_head_dim == 128
    with pytest.raises(IndexError):
        m.is_moe_layer(61)


def test_qwen3_uses_explicit_head_dim():
    m = load_model("qwen3-30b-a3b")
    assert m.num_heads * m.head_dim != m.hidden_size
    assert m.kv_bytes_per_token_per_layer() == 2 * 4 * 128 * 2


def test_qwen3_30b_a3b_bytes_by_hand():
    m = load_model("qwen3-30b-a3b")
    assert (m.layers, m.moe_layers, m.experts, m.top_k) == (48, 48, 128, 8)
    assert m.kv_bytes_per_token() == 48 * 2 * 4 * 128 * 2 == 98304
    assert m.dispatch_bytes_per_token() == m.combine_bytes_per_token() == 8 * 2048 * 2 == 32768
    assert m.tp_allreduce_bytes_per_token() == 2048 * 2
    assert m.expert_params() == 3 * 2048 * 768


def test_qwen3_coder_480b_bytes_by_hand():
    m = load_model("qwen3-coder-480b-a35b")
    assert (m.layers, m.moe_layers, m.hidden_size, m.experts, m.top_k) == (62, 62, 6144, 160, 8)
    assert m.kv_bytes_per_token_per_layer() == 2 * 8 * 128 * 2 == 4096
    assert m.kv_bytes_per_token() == 62 * 4096 == 253952
    assert m.dispatch_bytes_per_token() == m.combine_bytes_per_token() == 8 * 6144 * 2 == 98304
    assert m.tp_allreduce_bytes_per_token() == 6144 * 2
    assert m.expert_params() == 3 * 6144 * 2560
    # Q and O 6144x12288, K and V 6144x1024.
    assert m.attention_params_per_layer() == 2 * 6144 * 12288 + 2 * 6144 * 1024
    assert m.weight_bytes() == 480e9 * 2


def test_ring_allreduce_volume():
    assert ring_allreduce_bytes_per_rank(8192, 1) == 0
    assert ring_allreduce_bytes_per_rank(8192, 4) == pytest.approx(2 * 3 / 4 * 8192)


def test_unknown_model_lists_the_catalogue():
    with pytest.raises(ConfigError, match="unknown model") as exc:
        load_model("mixtral-9x9b")
    for name in CATALOGUE:
        assert name in str(exc.value)


def _write_user_model(tmp_path, **override):
    text = (
        'name = "Tiny-MoE"\nlayers = 4\nmoe_layers = 4\nhidden_size = 256\n'
        "intermediate_size = 512\nmoe_intermediate_size = 512\nexperts = 4\ntop_k = 2\n"
        "num_heads = 4\nkv_heads = 2\nhead_dim = 64\nvocab_size = 1000\n"
        "total_params = 0.0053\nactive_params = 0.003\n"
    )
    for key, value in override.items():
        lines = [ln for ln in text.splitlines() if not ln.startswith(f"{key} =")]
        text = "\n".join(lines + [f"{key} = {value}"]) + "\n"
    path = tmp_path / "tiny.toml"
    path.write_text(text)
    return path


def test_user_toml_loads(tmp_path):
    m = load_model(_write_user_model(tmp_path))
    assert m.name == "Tiny-MoE" and m.kv_bytes_per_token_per_layer() == 2 * 2 * 64 * 2
    assert load_model(str(_write_user_model(tmp_path))) == m


def test_user_toml_with_a_wrong_type_names_file_and_key(tmp_path):
    path = _write_user_model(tmp_path, hidden_size='"wide"')
    with pytest.raises(ConfigError, match=r"tiny\.toml: hidden_size: expected an integer, got 'wide'"):
        load_model(path)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"moe_layers": 5}, r"moe_layers: 5 is more than layers \(4\)"),
        ({"top_k": 5}, r"top_k: 5 is more than experts \(4\)"),
        ({"kv_heads": 3}, r"kv_heads: 3 does not divide num_heads \(4\)"),
        ({"kv_lora_rank": 64}, r"kv_lora_rank: MLA needs both"),
        ({"bytes_per_element": 3}, r"bytes_per_element: 3 is not allowed"),
        ({"layers": 0}, r"layers: must be >= 1"),
        ({"colour": '"red"'}, r"colour: unknown key"),
    ],
)
def test_user_toml_invalid_values_are_refused(tmp_path, override, message):
    with pytest.raises(ConfigError, match=message):
        load_model(_write_user_model(tmp_path, **override))


def test_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read file"):
        load_model(tmp_path / "nope.toml")
