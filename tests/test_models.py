"""MFON model: shapes, masks (fixed vs paper fidelity), gradients, frozen teachers, variants, config checks.

Tiny sizes (d = 32) with the packaged MiniLM as the text model keep the file fast on CPU.
"""

from __future__ import annotations

import math

import pytest
import torch

from mfon.config import validate_config
from mfon.experiment import variant_settings
from mfon.losses import LossConfig, MFONLoss
from mfon.models import (CrossModalEncoder, ModelConfig, ModelConfigError, PackedFrames, SinusoidalPositions,
                         TeacherEncoder, build_model, distillation_targets, key_padding_mask, parameter_groups, triangular_mask)
from mfon.variants import VARIANTS

TINY = {
    "d_model": 32, "n_heads": 4, "d_visual": 6, "d_acoustic": 4,
    "max_len": {"text": 12, "visual": 10, "acoustic": 9},
    "mpa_layers": {"visual": 2, "acoustic": 1}, "teacher_layers": {"visual": 1, "acoustic": 1},
    "fusion_hidden": [16, 8], "teacher_head_hidden": [16],
}
TEXT_LENGTHS = (8, 5, 3)
VISUAL_LENGTHS = (10, 4, 1)
ACOUSTIC_LENGTHS = (9, 3, 2)


def tiny(**overrides) -> ModelConfig:
    return ModelConfig.from_dict({**TINY, **overrides})


def variant_configs(name: str, **model) -> tuple[ModelConfig, LossConfig]:
    """Variant ``name`` of the TINY model as the pipeline builds it: the resolved settings' variant run
    (:func:`mfon.experiment.variant_settings`), input sizes from the features (here TINY's)."""
    base = {k: v for k, v in {**TINY, **model}.items() if not k.startswith("d_") or k == "d_model"}
    base["max_len"] = {m: n for m, n in TINY["max_len"].items() if m != "text"}  # text: its tokenisation's
    settings = validate_config({"datasets": {"tiny": "tiny.yaml"}, "model": base,
                                "text": {"max_length": TINY["max_len"]["text"]}})
    run = variant_settings(settings, name)
    dims = {k: v for k, v in TINY.items() if k in ("d_visual", "d_acoustic")}
    return ModelConfig.from_dict({**run["model"], **dims}), LossConfig.from_dict(run["loss"])


def make_batch(seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    B, L = len(TEXT_LENGTHS), TINY["max_len"]["text"]
    ids = torch.zeros(B, L, dtype=torch.long)
    mask = torch.zeros(B, L, dtype=torch.long)
    for i, n in enumerate(TEXT_LENGTHS):
        ids[i, :n] = torch.randint(1000, 5000, (n,), generator=g)
        ids[i, 0], ids[i, n - 1] = 101, 102  # [CLS] ... [SEP]
        mask[i, :n] = 1
    batch = {"text_input_ids": ids, "text_attention_mask": mask,
             "text_token_type_ids": torch.zeros(B, L, dtype=torch.long),
             "label": torch.randn(B, generator=g)}
    for m, lengths in (("visual", VISUAL_LENGTHS), ("acoustic", ACOUSTIC_LENGTHS)):
        x = torch.randn(B, TINY["max_len"][m], TINY[f"d_{m}"], generator=g)
        for i, n in enumerate(lengths):
            x[i, n:] = 0.0  # zero padding, as the loader writes it
        batch[m] = x
        batch[f"{m}_lengths"] = torch.tensor(lengths)
    return batch


def teachers_for(config: ModelConfig) -> dict[str, TeacherEncoder]:
    return {m: TeacherEncoder(config, m) for m in ("visual", "acoustic") if m in config.modalities}


def perturb_padding(batch: dict, modality: str) -> dict:
    """A copy of ``batch`` with random values in the padded frames (or padded tokens) of ``modality``."""
    out = {k: v.clone() for k, v in batch.items()}
    g = torch.Generator().manual_seed(99)
    if modality == "text":
        ids = out["text_input_ids"]
        pad = out["text_attention_mask"] == 0
        ids[pad] = torch.randint(1000, 5000, (int(pad.sum()),), generator=g)
        return out
    x = out[modality]
    for i, n in enumerate(out[f"{modality}_lengths"].tolist()):
        x[i, n:] = torch.randn(x.shape[1] - n, x.shape[2], generator=g) * 5
    return out


# ----- building blocks -------------------------------------------------------------------------------
def test_sinusoidal_positions_values():
    table = SinusoidalPositions(4)(2)  # half = 2, frequencies 1 and 1e-4; positions 1, 2
    expected = [[math.sin(p), math.sin(p * 1e-4), math.cos(p), math.cos(p * 1e-4)] for p in (1, 2)]
    assert torch.allclose(table, torch.tensor(expected), atol=1e-6)
    assert SinusoidalPositions(5)(3).shape == (3, 5)


def test_triangular_mask_pattern():
    # T_q = 3, T_k = 5: offset |5 - 3| = 2, so query i sees keys j <= i + 2.
    expected = torch.tensor([[0, 0, 0, 1, 1],
                             [0, 0, 0, 0, 1],
                             [0, 0, 0, 0, 0]], dtype=torch.bool)
    assert torch.equal(triangular_mask(3, 5), expected)
    # MulT's construction: upper triangle from diagonal 1 + |T_k - T_q|.
    for tq, tk in ((3, 5), (5, 3), (4, 4), (2, 9)):
        ref = torch.triu(torch.ones(tq, tk), diagonal=1 + abs(tk - tq)).bool()
        assert torch.equal(triangular_mask(tq, tk), ref)
    assert not triangular_mask(4, 4)[:, 0].any()  # every query sees key 0: no empty softmax row


def test_key_padding_mask():
    mask = key_padding_mask(torch.tensor([3, 1, 0]), 4)
    assert mask.tolist() == [[False, False, False, True], [False, True, True, True],
                             [False, True, True, True]]  # length 0 attends its first frame


def test_cross_modal_encoder_shapes():
    enc = CrossModalEncoder(32, 4, 2, ffn_dim=32, attn_dropout=0.1, relu_dropout=0.1, res_dropout=0.1,
                            embed_dropout=0.1)
    q, kv = torch.randn(2, 5, 32), torch.randn(2, 7, 32)
    assert enc(q, kv).shape == (2, 5, 32)
    assert enc(q, kv, key_lengths=torch.tensor([7, 2]), triangular=True).shape == (2, 5, 32)
    assert enc(q).shape == (2, 5, 32)  # self-attention
    with pytest.raises(ValueError, match="kv must be"):
        enc(q, torch.randn(3, 7, 32))


# ----- the model -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def fixed_model():
    torch.manual_seed(0)
    return build_model(tiny())


def test_output_shapes(fixed_model):
    out = fixed_model(make_batch())
    assert out.prediction.shape == (3,)
    assert out.guide_vector.shape == (3, 32)
    assert set(out.pooled) == {"visual", "acoustic"}
    assert all(z.shape == (3, 32) for z in out.pooled.values())
    assert fixed_model.prompts["visual"].shape == (10, 32)
    assert fixed_model.prompts["acoustic"].shape == (9, 32)


def test_prompt_initialised_uniform_unit(fixed_model):
    p = fixed_model.prompts["visual"].detach()
    assert p.min() >= 0 and p.max() < 1


def _eval_outputs(model, batch):
    model.eval()
    with torch.no_grad():
        out = model(batch)
    model.train()
    return out


@pytest.mark.parametrize("guide,perturbed", [("text", "visual"), ("text", "acoustic"), ("text", "text"),
                                             ("visual", "visual"), ("visual", "text")])
def test_fixed_mode_ignores_padding(guide, perturbed):
    torch.manual_seed(1)
    model = build_model(tiny(guide=guide))
    batch = make_batch()
    a, b = _eval_outputs(model, batch), _eval_outputs(model, perturb_padding(batch, perturbed))
    assert torch.allclose(a.prediction, b.prediction, atol=1e-5)
    assert torch.allclose(a.guide_vector, b.guide_vector, atol=1e-5)
    for m in a.pooled:
        assert torch.allclose(a.pooled[m], b.pooled[m], atol=1e-5), m


def test_paper_mode_attends_padding_and_hides_trailing_frames():
    torch.manual_seed(2)
    model = build_model(tiny(fidelity="paper"))
    batch = make_batch()
    base = _eval_outputs(model, batch)
    # Padded frames are attended: changing them changes Z_v and the prediction.
    moved = _eval_outputs(model, perturb_padding(batch, "visual"))
    assert not torch.allclose(base.pooled["visual"], moved.pooled["visual"], atol=1e-4)
    assert not torch.allclose(base.prediction, moved.prediction, atol=1e-4)
    # Triangular mask: text is trimmed to T_q = 8 tokens, T_k = 10 frames, so [CLS] sees frames 0..2 only;
    # changing REAL frames 3..9 of clip 0 (length 10) leaves Z_v unchanged -- the authors' defect.
    hidden = {k: v.clone() for k, v in batch.items()}
    hidden["visual"][0, 3:] += 10.0
    same = _eval_outputs(model, hidden)
    assert torch.allclose(base.pooled["visual"], same.pooled["visual"], atol=1e-5)
    visible = {k: v.clone() for k, v in batch.items()}
    visible["visual"][0, 2] += 10.0
    assert not torch.allclose(base.pooled["visual"][0], _eval_outputs(model, visible).pooled["visual"][0],
                              atol=1e-4)


def test_fixed_mode_sees_trailing_frames(fixed_model):
    batch = make_batch()
    base = _eval_outputs(fixed_model, batch)
    changed = {k: v.clone() for k, v in batch.items()}
    changed["visual"][0, 9] += 10.0
    assert not torch.allclose(base.pooled["visual"][0], _eval_outputs(fixed_model, changed).pooled["visual"][0],
                              atol=1e-4)


def test_gradients_reach_prompts_projections_and_bert():
    torch.manual_seed(3)
    config = tiny()
    model = build_model(config)
    batch = make_batch()
    targets = distillation_targets(teachers_for(config), batch, "fixed")
    MFONLoss()(model(batch), batch["label"], targets)["loss"].backward()

    def nonzero(p):
        return p.grad is not None and p.grad.abs().sum() > 0

    for m in ("visual", "acoustic"):
        assert nonzero(model.prompts[m]), m
        assert nonzero(model.projections[m].weight), m
        assert all(nonzero(p) for p in model.mpa[m].parameters()), m
    bert = model.text_encoder.bert
    assert nonzero(bert.embeddings.word_embeddings.weight)
    assert nonzero(bert.encoder.layer[-1].output.dense.weight)
    assert nonzero(model.text_encoder.proj.weight)
    assert all(nonzero(p) for p in model.fusion.parameters())


@pytest.mark.parametrize("fidelity", ["fixed", "paper"])
def test_teachers_unchanged_by_mfon_step(fidelity):
    torch.manual_seed(4)
    config = tiny(fidelity=fidelity, teacher_dropout={"visual": 0.5, "acoustic": 0.5})
    model = build_model(config)
    teachers = teachers_for(config)
    for t in teachers.values():
        t.eval()
    before = {m: {k: v.clone() for k, v in t.state_dict().items()} for m, t in teachers.items()}
    params = list(model.parameters()) + [p for t in teachers.values() for p in t.parameters()]
    opt = torch.optim.Adam(params, lr=1e-2, weight_decay=1e-3)
    batch = make_batch()
    targets = distillation_targets(teachers, batch, fidelity)
    assert all(not v.requires_grad for v in targets.values())
    terms = MFONLoss({"alpha": 0.5, "beta": 0.5})(model(batch), batch["label"], targets)
    opt.zero_grad()
    terms["loss"].backward()
    opt.step()
    for m, t in teachers.items():
        assert not t.training  # mode restored
        assert all(p.grad is None for p in t.parameters())
        for k, v in t.state_dict().items():
            assert torch.equal(v, before[m][k]), (m, k)
    # Teacher dropout is off in fixed mode and on in paper mode (the authors' defect).
    again = distillation_targets(teachers, batch, fidelity)
    same = all(torch.allclose(targets[m], again[m]) for m in targets)
    assert same == (fidelity == "fixed")


def test_teacher_encoder_prediction_shape():
    teacher = TeacherEncoder(tiny(), "acoustic")
    batch = make_batch()
    assert teacher(batch["acoustic"], batch["acoustic_lengths"]).shape == (3,)
    assert teacher.encode(batch["acoustic"], batch["acoustic_lengths"]).shape == (3, 32)
    with pytest.raises(ValueError, match=r"acoustic must be a \(B, T, 4\)"):
        teacher.encode(batch["visual"], batch["visual_lengths"])
    with pytest.raises(ValueError, match="TeacherEncoder modality"):
        TeacherEncoder(tiny(), "text")


def test_variants_are_the_paper_rows():
    assert set(VARIANTS) == {"mfon", "no_lva", "no_licl", "no_lva_licl", "no_prompt", "visual_query",
                             "acoustic_query", "text_only", "visual_only", "acoustic_only"}
    assert all(set(v) == {"model", "loss"} for v in VARIANTS.values())


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_variant_trains_one_step(name):
    torch.manual_seed(5)
    mcfg, lcfg = variant_configs(name)
    model = build_model(mcfg)
    groups = parameter_groups(model)
    all_params = [p for p in model.parameters() if p.requires_grad]
    grouped = [p for ps in groups.values() for p in ps]
    assert len(grouped) == len(all_params) == len({id(p) for p in grouped})
    assert {id(p) for p in grouped} == {id(p) for p in all_params}
    opt = torch.optim.Adam([{"params": ps} for ps in groups.values() if ps], lr=1e-3)
    batch = make_batch()
    out = model(batch)
    assert out.prediction.shape == (3,) and out.guide_vector.shape == (3, 32)
    assert set(out.pooled) == set(mcfg.optimised)
    targets = distillation_targets(teachers_for(mcfg), batch) if lcfg.alpha > 0 else None
    terms = MFONLoss(lcfg)(out, batch["label"], targets)
    assert torch.isfinite(terms["loss"])
    opt.zero_grad()
    terms["loss"].backward()
    snapshot = [p.detach().clone() for p in grouped]
    opt.step()
    assert any(not torch.equal(a, p) for a, p in zip(snapshot, grouped))
    if name == "no_prompt":
        assert len(model.prompts) == 0
    if name == "visual_query":
        assert set(out.pooled) == {"text", "acoustic"} and "text" in model.prompts
        assert groups["visual"] and model.guide_encoder is not None
    if name in ("text_only", "visual_only", "acoustic_only"):
        assert out.pooled == {} and not groups[{"text_only": "acoustic", "visual_only": "text",
                                                "acoustic_only": "text"}[name]]


def test_paper_mode_non_text_guide_trains():
    torch.manual_seed(7)
    mcfg, lcfg = variant_configs("acoustic_query", fidelity="paper")
    model = build_model(mcfg)
    batch = make_batch()
    terms = MFONLoss(lcfg)(model(batch), batch["label"], distillation_targets(teachers_for(mcfg), batch, "paper"))
    assert torch.isfinite(terms["loss"]) and set(model(batch).pooled) == {"text", "visual"}
    terms["loss"].backward()
    assert model.prompts["text"].grad.abs().sum() > 0


def test_parameter_groups_by_modality(fixed_model):
    groups = parameter_groups(fixed_model)
    ids = {name: {id(p) for p in ps} for name, ps in groups.items()}
    assert id(fixed_model.prompts["visual"]) in ids["visual"]
    assert id(fixed_model.projections["acoustic"].weight) in ids["acoustic"]
    assert id(fixed_model.text_encoder.proj.weight) in ids["text"]
    assert all(id(p) in ids["fusion"] for p in fixed_model.fusion.parameters())


# ----- configuration ---------------------------------------------------------------------------------
def test_config_round_trip_and_merge():
    cfg = tiny()
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg
    merged = ModelConfig.from_dict({"mpa_layers": {"visual": 5}})
    assert merged.mpa_layers == {"visual": 5, "acoustic": 5}
    assert ModelConfig().d_model == 768 and ModelConfig().fusion_hidden == [768, 384, 96]
    assert tiny(guide="visual").mpa_depth("text") == 2  # text takes the guide's MPA depth


@pytest.mark.parametrize("bad,match", [
    ({"d_model": 30}, "divisible by n_heads"),
    ({"n_heads": 0}, "n_heads must be a positive integer"),
    ({"guide": "visual", "modalities": ["text", "acoustic"]}, "guide 'visual' is not among"),
    ({"modalities": ["visual"]}, "single-modality model needs guide='visual'"),
    ({"modalities": ["text", "smell"]}, "unknown modalities"),
    ({"modalities": []}, "at least one"),
    ({"modalities": ["text", "text"]}, "twice"),
    ({"fidelity": "exact"}, "fidelity must be one of"),
    ({"mpa_layers": {"visual": 0}}, r"mpa_layers\['visual'\] must be a positive integer"),
    ({"teacher_layers": {"acoustic": -1}}, "teacher_layers"),
    ({"mpa_dropout": 1.0}, "mpa_dropout must be a probability"),
    ({"fusion_hidden": [16, 0]}, "fusion_hidden must be a list of positive integers"),
    ({"max_len": {"sound": 3}}, "max_len has unknown modalities"),
    ({"use_prompt": "yes"}, "use_prompt"),
    ({"ffn_multiplier": 0}, "ffn_multiplier"),
    ({"widths": 3}, "unknown model config keys"),
])
def test_invalid_configs_raise(bad, match):
    with pytest.raises(ValueError, match=match):
        tiny(**bad)


def test_invalid_config_is_a_config_error():
    from mfon.errors import ConfigError

    with pytest.raises(ConfigError):
        tiny(fidelity="nope")
    with pytest.raises(ModelConfigError):
        ModelConfig(d_model=33)


def test_text_length_limited_only_by_its_prompt():
    batch = make_batch()  # real texts up to 8 tokens
    torch.manual_seed(6)
    assert build_model(tiny(max_len={**TINY["max_len"], "text": 4}))(batch).prediction.shape == (3,)
    with pytest.raises(ValueError, match=r"text sequence of length 8 is longer than its prompt"):
        build_model(tiny(guide="visual", max_len={**TINY["max_len"], "text": 4}))(batch)


def test_bad_batches_raise(fixed_model):
    batch = make_batch()
    wrong_dim = dict(batch, visual=torch.randn(3, 10, 7))
    with pytest.raises(ValueError, match=r"visual must be a \(B, T, 6\)"):
        fixed_model(wrong_dim)
    with pytest.raises(ValueError, match="visual_lengths has 11 > padded length 10"):
        fixed_model(dict(batch, visual_lengths=torch.tensor([11, 1, 1])))
    with pytest.raises(ValueError, match="more than max_len"):
        fixed_model(dict(batch, acoustic=torch.zeros(3, 20, 4), acoustic_lengths=torch.tensor([1, 1, 1])))
    with pytest.raises(ValueError, match="batch needs 'acoustic'"):
        fixed_model({k: v for k, v in batch.items() if not k.startswith("acoustic")})
    with pytest.raises(ValueError, match="batch size"):
        fixed_model(dict(batch, visual=batch["visual"][:2], visual_lengths=batch["visual_lengths"][:2]))
    with pytest.raises(ValueError, match="unknown variant"):
        variant_configs("no_such_row")


def test_text_mean_pooling_averages_real_tokens_only():
    from mfon.models import ModelConfig, TextEncoder

    torch.manual_seed(0)
    encoder = TextEncoder(ModelConfig(d_model=8, n_heads=2, text_pooling="mean", text_dropout=0.0)).eval()
    ids = torch.tensor([[101, 2204, 3185, 102, 0, 0], [101, 2919, 102, 0, 0, 0]])
    mask = (ids != 0).long()
    with torch.no_grad():
        seq, vector, lengths = encoder(ids, mask, torch.zeros_like(ids))
    assert lengths.tolist() == [4, 3]
    assert torch.allclose(vector[0], seq[0, :4].mean(0), atol=1e-6)
    assert torch.allclose(vector[1], seq[1, :3].mean(0), atol=1e-6)


# ----------------------------------------------------------------------------------- work only on what is used
def trimmed(batch: dict) -> dict:
    """``batch`` with visual/acoustic padding cut to the batch's longest clip (what fixed-mode loading makes)."""
    out = dict(batch)
    for m in ("visual", "acoustic"):
        out[m] = batch[m][:, : int(batch[f"{m}_lengths"].max())]
    return out


@pytest.mark.parametrize("guide", ["text", "visual"])
def test_fixed_mode_outputs_do_not_depend_on_the_amount_of_padding(guide):
    torch.manual_seed(0)
    config = tiny(guide=guide)
    model = build_model(config).eval()
    batch = {k: v[1:] for k, v in make_batch().items()}  # the clips shorter than max_len
    short = trimmed(batch)
    assert short["visual"].shape[1] < batch["visual"].shape[1]
    assert short["acoustic"].shape[1] < batch["acoustic"].shape[1]
    with torch.no_grad():
        full, cut = model(batch), model(short)
    assert torch.allclose(full.prediction, cut.prediction, atol=1e-5)
    for m in full.pooled:
        assert torch.allclose(full.pooled[m], cut.pooled[m], atol=1e-5), m
    teacher = TeacherEncoder(config, "acoustic").eval()
    with torch.no_grad():
        assert torch.allclose(teacher.encode(batch["acoustic"], batch["acoustic_lengths"]),
                              teacher.encode(short["acoustic"], short["acoustic_lengths"]), atol=1e-5)


@pytest.mark.parametrize("paper", [False, True])
@pytest.mark.parametrize("cross", [False, True])
def test_last_layer_at_position_zero_equals_the_full_computation(paper, cross):
    torch.manual_seed(0)
    enc = CrossModalEncoder(32, 4, 3, ffn_dim=32, attn_dropout=0.1, relu_dropout=0.1, res_dropout=0.1,
                            embed_dropout=0.1, paper_inputs=paper).eval()
    q = torch.randn(3, 7, 32)
    kv = torch.randn(3, 11, 32) if cross else None
    lengths = None if paper else torch.tensor([11, 4, 1]) if cross else torch.tensor([7, 3, 1])
    with torch.no_grad():
        full = enc(q, kv, key_lengths=lengths, triangular=paper and cross)
        first = enc(q, kv, key_lengths=lengths, triangular=paper and cross, first_only=True)
    assert first.shape == (3, 1, 32)
    assert torch.allclose(full[:, :1], first, atol=1e-5)


@pytest.mark.parametrize("train", [False, True])
@pytest.mark.parametrize("first_only", [False, True])
def test_real_frames_only_equal_the_padded_computation_with_the_same_dropout(train, first_only, monkeypatch):
    """Fixed fidelity projects keys/values of real frames only; outputs and every gradient equal the padded
    computation within float rounding, dropout included (the same draws land on the same elements)."""
    torch.manual_seed(0)
    enc = CrossModalEncoder(64, 4, 3, ffn_dim=48, attn_dropout=0.2, relu_dropout=0.2, res_dropout=0.2,
                            embed_dropout=0.2).train(train)
    q, kv = torch.randn(5, 7, 64), torch.randn(5, 30, 64)
    lengths = torch.tensor([30, 1, 12, 0, 25])
    results = []
    for packed in (True, False):
        monkeypatch.setattr(CrossModalEncoder, "pack_masked_keys", packed)
        torch.manual_seed(1)
        query, keys = q.clone().requires_grad_(), kv.clone().requires_grad_()
        out = enc(query, keys, key_lengths=lengths, first_only=first_only)
        (out * torch.linspace(-1, 1, out.numel()).view_as(out)).sum().backward()
        results.append([out.detach(), query.grad, keys.grad, *(p.grad.clone() for p in enc.parameters())])
        enc.zero_grad()
    assert results[0][0].shape == (5, 1 if first_only else 7, 64)
    for packed, padded in zip(*results):
        assert torch.allclose(packed, padded, atol=2e-6, rtol=1e-5)
    key_grad = results[0][2].abs().sum(-1)  # padding gets no gradient, every real frame does
    assert torch.all(key_grad[3, 1:] == 0) and torch.all(key_grad[0] > 0) and torch.all(key_grad[2, 12:] == 0)


def test_packed_frames_round_trip():
    pad = key_padding_mask(torch.tensor([3, 1, 0]), 4)
    frames = PackedFrames(pad)
    x = torch.arange(24, dtype=torch.float32).view(3, 4, 2)
    packed = frames.pack(x)
    assert packed.tolist() == [[0, 1], [2, 3], [4, 5], [8, 9], [16, 17]]
    assert torch.equal(frames.unpack(packed), x.masked_fill(pad[..., None], 0))


def test_pooled_stacks_compute_position_zero_only():
    """MPA stacks and teachers ask their last layer for position 0 only; the guide encoder (whose whole
    output is the MPA query) does not."""
    model = build_model(tiny(guide="visual")).eval()
    seen = {}

    def spy(name):
        def hook(module, args, kwargs, output):
            seen[name] = output.shape[1]
        return hook

    model.mpa["acoustic"].register_forward_hook(spy("mpa"), with_kwargs=True)
    model.guide_encoder.register_forward_hook(spy("guide"), with_kwargs=True)
    with torch.no_grad():
        model(make_batch())
    assert seen == {"mpa": 1, "guide": TINY["max_len"]["visual"]}


# ------------------------------------------------------------------------------------- paper-mode semantics
def test_mult_layers_start_xavier_uniform_with_zero_biases():
    torch.manual_seed(0)
    layer = CrossModalEncoder(64, 4, 1, ffn_dim=32, attn_dropout=0, relu_dropout=0, res_dropout=0,
                              embed_dropout=0).layers[0]
    for linear in (layer.attn.out_proj, layer.ffn[0], layer.ffn[3]):
        weight = linear.weight.detach()
        fan_out, fan_in = weight.shape
        bound = math.sqrt(6.0 / (fan_in + fan_out))
        assert torch.count_nonzero(linear.bias) == 0
        assert float(weight.abs().max()) <= bound
        # uniform on [-bound, bound]: variance bound^2 / 3 (kaiming's default would be far smaller here)
        assert abs(float(weight.var()) - bound ** 2 / 3) < 0.2 * bound ** 2 / 3


@pytest.mark.parametrize("paper", [False, True])
def test_paper_mode_drops_out_keys_and_values_separately(paper):
    torch.manual_seed(0)
    enc = CrossModalEncoder(16, 2, 1, ffn_dim=16, attn_dropout=0, relu_dropout=0, res_dropout=0,
                            embed_dropout=0.5, paper_inputs=paper).train()
    seen = {}

    def hook(module, args, kwargs):
        seen["keys"], seen["values"] = args[1], kwargs["values"]

    enc.layers[0].register_forward_pre_hook(hook, with_kwargs=True)
    enc(torch.randn(2, 3, 16), torch.randn(2, 5, 16) + 1.0)
    if paper:
        assert seen["values"] is not None and seen["values"].shape == seen["keys"].shape
        # the same sequence, two dropout draws: some channel is dropped in one copy and kept in the other
        assert bool(((seen["keys"] == 0) != (seen["values"] == 0)).any())
    else:
        assert seen["values"] is None
    enc.eval()
    enc(torch.randn(2, 3, 16), torch.randn(2, 5, 16))
    assert seen["values"] is None  # no dropout in eval: keys and values are one stream


@pytest.mark.parametrize("paper", [False, True])
def test_paper_mode_gives_no_position_code_where_the_first_channel_is_zero(paper):
    enc = CrossModalEncoder(8, 2, 1, ffn_dim=8, attn_dropout=0, relu_dropout=0, res_dropout=0, embed_dropout=0,
                            paper_inputs=paper).eval()
    seq = torch.randn(1, 4, 8)
    seq[0, 2, 0] = 0.0  # e.g. [CLS]'s first channel hit by text dropout
    positioned = enc._positioned(seq)
    codes = SinusoidalPositions(8)(4)
    assert torch.allclose(positioned[0, 2], enc.scale * seq[0, 2] + (0 if paper else codes[2]))
    for t in (0, 1, 3):  # the other positions keep their own codes (no shift)
        assert torch.allclose(positioned[0, t], enc.scale * seq[0, t] + codes[t])
