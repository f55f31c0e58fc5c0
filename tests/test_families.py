"""Every encoder family with a masked-LM class in transformers either agrees with the one-trial-at-a-time eager
reference for all three setups, or is refused with a clear message; the fallback path ablates like zeroing by hand."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from induction.analyses.ablation import ablate, run_trials
from induction.config import MapConfig, ModelLoadError
from induction.engine import compute_map, get_model, make_trials
from induction.models.families import REFUSED, load_overrides
from induction.models.loading import describe
from induction.reference import load_eager, straightforward_scores

from .families import encoder_families, save_family

FAMILIES = encoder_families()


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("families")
    return lambda family: save_family(family, root / family)


def test_the_mapping_gives_the_families_researchers_use():
    assert {"bert", "roberta", "deberta-v2", "mpnet", "electra", "distilbert", "modernbert", "xlm"} <= set(FAMILIES)
    assert not {"bart", "mbart"} & set(FAMILIES)  # encoder-decoders are skipped


@pytest.mark.parametrize("family", FAMILIES)
def test_family_agrees_with_the_eager_reference_or_is_refused(family, folders):
    path = folders(family)
    if family in REFUSED:
        with pytest.raises(ModelLoadError, match=f"\\({family}\\) cannot be captured: .+"):
            compute_map(MapConfig(model=path, trials=2, segment=8), use_cache=False)
        return
    info = describe(path)
    reference = load_eager(path, **load_overrides(info.config))
    for setup in ("standard", "shuffled", "triple"):
        config = MapConfig(model=path, setup=setup, trials=2, segment=8, seed=1)
        result = compute_map(config, use_cache=False)
        expected = straightforward_scores(reference, make_trials(config, get_model(path)), setup)
        assert result.heads == next(iter(expected.values())).shape[2]  # ConvBERT: only its attention heads
        for target, ref in expected.items():
            np.testing.assert_allclose(result.per_trial[target], ref, atol=1e-5, rtol=0, err_msg=f"{family} {target}")
    assert result.mean("earlier").std() > 1e-3  # wide weights: attention far from uniform
    longest = torch.full((1, info.max_positions), 104)  # the positions describe() promises all work
    with torch.no_grad():
        reference(input_ids=longest)


def test_roberta_style_positions_start_after_the_padding_index(folders):
    from transformers import AutoConfig

    for family in ("roberta", "xlm-roberta", "camembert", "data2vec-text"):
        config = AutoConfig.from_pretrained(folders(family))
        assert describe(folders(family)).max_positions == config.max_position_embeddings - config.pad_token_id - 1
    bert = AutoConfig.from_pretrained(folders("bert"))
    assert describe(folders("bert")).max_positions == bert.max_position_embeddings  # BERT reserves nothing


def _zero_head_by_hand(path: str, batch, layer: int, head: int):
    """Masked-token loss and [MASK] rows with one head's slice of the attention output zeroed by a hook of our own."""
    model = load_eager(path, mlm=True)
    dense = model.base_model.encoder.layer[layer].attention.output.dense
    width = dense.in_features // model.config.num_attention_heads

    def zero(module, args):
        x = args[0].clone()
        x[..., head * width:(head + 1) * width] = 0.0
        return (x, *args[1:])

    handle = dense.register_forward_pre_hook(zero)
    try:
        with torch.no_grad():
            out = model(input_ids=torch.from_numpy(batch.input_ids), output_attentions=True)
    finally:
        handle.remove()
    t = np.arange(batch.trials)
    logits = out.logits[t, batch.mask_index]
    target = torch.from_numpy(batch.original_ids[t, batch.mask_index])
    loss = torch.nn.functional.cross_entropy(logits, target, reduction="none").numpy()
    rows = torch.stack([a[t, :, batch.mask_index] for a in out.attentions], dim=1).numpy()
    return loss, rows


def test_fallback_ablation_equals_zeroing_the_head_by_hand(folders):
    path = folders("deberta-v2")
    model = get_model(path)
    assert model.capture_path == "fallback" and model.ablation_note is None
    config = MapConfig(model=path, trials=3, segment=8, seed=2)
    batch = make_trials(config, model)
    before = compute_map(config, use_cache=False).per_trial["prev"]
    rows, loss = run_trials(model, batch, ((1, 2),), "zero")
    loss_hand, rows_hand = _zero_head_by_hand(path, batch, 1, 2)
    np.testing.assert_allclose(loss, loss_hand, atol=1e-5)
    np.testing.assert_allclose(rows, rows_hand, atol=1e-5)
    assert np.abs(loss - run_trials(model, batch, (), "zero")[1]).max() > 1e-4  # the head mattered
    np.testing.assert_array_equal(compute_map(config, use_cache=False).per_trial["prev"], before)  # nothing left
    result = ablate(config, ["L1H2"], mode="mean", use_cache=False)  # mean mode through the hook too
    assert result.loss_ablated is not None


def test_effects_through_the_fallback_path_equal_ablate(folders):
    from induction.analyses.effects import effects

    path = folders("mpnet")
    config = MapConfig(model=path, trials=2, segment=8, seed=3)
    result = effects(config, use_cache=False)
    one = ablate(config, ["L1H3"], use_cache=False)
    assert result.effect[1, 3] == pytest.approx(one.loss_ablated - one.loss_clean, abs=1e-4)


def test_a_family_whose_heads_cannot_be_ablated_says_so(folders):
    path = folders("convbert")  # its attention output mixes attention heads with convolution heads
    assert describe(path).heads == 2  # 4 heads, head_ratio 2: two attend
    with pytest.raises(Exception, match="cannot have heads ablated: convbert"):
        ablate(MapConfig(model=path, trials=2, segment=8), ["L0H0"], use_cache=False)


def test_the_cache_key_names_the_capture_path(folders):
    from induction.runs import _run_parts, resolve_run

    fallback = resolve_run(MapConfig(model=folders("mpnet"), trials=2, segment=8))
    interface = resolve_run(MapConfig(model=folders("bert"), trials=2, segment=8))
    assert fallback.info.capture_path == "fallback" and _run_parts(fallback)["capture"] == "fallback"
    assert interface.info.capture_path == "interface" and "capture" not in _run_parts(interface)  # keys as before


def test_the_drilldown_reads_the_full_pattern_through_the_fallback_path(folders):
    from induction.analyses.head_detail import head_detail

    path = folders("roformer")
    config = MapConfig(model=path, trials=2, segment=8, seed=4)
    detail = head_detail(config, 1, 2, trial=1)
    batch = make_trials(config, get_model(path))
    with torch.no_grad():
        weights = load_eager(path)(input_ids=torch.from_numpy(batch.input_ids[1:2]), output_attentions=True)
    np.testing.assert_allclose(detail.pattern, weights.attentions[1][0, 2].numpy(), atol=1e-6)
    np.testing.assert_allclose(detail.row, detail.pattern[detail.mask_index])
