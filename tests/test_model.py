"""SqueezeNet v1.1: shapes, gradients, torchvision names, inits."""

from __future__ import annotations

import pytest
import torch

from sertune.errors import ConfigError
from sertune.training.model import SqueezeNet, adapt_imagenet, build_model, imagenet_state, init_scratch

#: Parameter names and shapes of torchvision's squeezenet1_1 (3 channels, 1000 classes),
#: written out so the test does not depend on torchvision.
TORCHVISION_FIRE = [(3, 64, 16, 64), (4, 128, 16, 64), (6, 128, 32, 128), (7, 256, 32, 128),
                    (9, 256, 48, 192), (10, 384, 48, 192), (11, 384, 64, 256), (12, 512, 64, 256)]


def torchvision_state(seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    state = {"features.0.weight": torch.randn(64, 3, 3, 3, generator=g),
             "features.0.bias": torch.randn(64, generator=g)}
    for i, cin, s, e in TORCHVISION_FIRE:
        for name, shape in (("squeeze", (s, cin, 1, 1)), ("expand1x1", (e, s, 1, 1)),
                            ("expand3x3", (e, s, 3, 3))):
            state[f"features.{i}.{name}.weight"] = torch.randn(*shape, generator=g)
            state[f"features.{i}.{name}.bias"] = torch.randn(shape[0], generator=g)
    state["classifier.1.weight"] = torch.randn(1000, 512, 1, 1, generator=g)
    state["classifier.1.bias"] = torch.randn(1000, generator=g)
    return state


@pytest.mark.parametrize("shape", [(40, 301), (128, 1001), (17, 17), (256, 64)])
def test_output_shape_for_several_input_sizes(shape):
    model = build_model(5)
    assert model(torch.randn(2, 1, *shape)).shape == (2, 5)


def test_every_parameter_gets_a_gradient():
    model = build_model(4)
    loss = torch.nn.functional.cross_entropy(model(torch.randn(3, 1, 40, 100)), torch.tensor([0, 1, 3]))
    loss.backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert missing == []


def test_parameter_names_and_shapes_match_torchvision_except_channels_and_classes():
    ours = {k: v.shape for k, v in SqueezeNet(1000, in_channels=3).state_dict().items()}
    theirs = {k: v.shape for k, v in torchvision_state().items()}
    assert ours == theirs


def test_imagenet_state_dict_loads_and_adapts():
    state = torchvision_state(seed=1)
    model = SqueezeNet(7)
    adapt_imagenet(model, state, generator=torch.Generator().manual_seed(0))
    got = model.state_dict()
    torch.testing.assert_close(got["features.0.weight"], state["features.0.weight"].sum(1, keepdim=True))
    torch.testing.assert_close(got["features.12.expand3x3.weight"], state["features.12.expand3x3.weight"])
    assert got["classifier.1.weight"].shape == (7, 512, 1, 1)
    assert got["classifier.1.weight"].std() < 0.02          # re-initialised, not ImageNet's


def test_imagenet_from_weights_file(tmp_path):
    torch.save(torchvision_state(seed=2), tmp_path / "sq.pth")
    model = build_model(4, init="imagenet", weights=tmp_path / "sq.pth")
    assert model(torch.randn(1, 1, 40, 60)).shape == (1, 4)


def test_imagenet_offline_without_weights_says_how_to_get_them(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))

    def offline(*args, **kwargs):
        raise OSError("network unreachable")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", offline)
    with pytest.raises(ConfigError, match="--weights PATH"):
        imagenet_state(None)


@pytest.mark.parametrize("state,match", [
    ({"foo": torch.zeros(1)}, "not a torchvision squeezenet1_1"),
    ({**torchvision_state(), "features.3.squeeze.weight": torch.zeros(1)}, "does not fit|size mismatch"),
])
def test_wrong_weights_are_config_errors(state, match):
    with pytest.raises((ConfigError, RuntimeError), match=match):
        adapt_imagenet(SqueezeNet(3), state)


def test_missing_weights_file_and_unknown_init(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        build_model(3, init="imagenet", weights=tmp_path / "none.pth")
    with pytest.raises(ConfigError, match="init='xavier' is unknown"):
        build_model(3, init="xavier")


def test_scratch_init_is_the_reference_and_seeded():
    a, b, c = build_model(7, seed=3), build_model(7, seed=3), build_model(7, seed=4)
    for k in a.state_dict():
        torch.testing.assert_close(a.state_dict()[k], b.state_dict()[k])
    assert not torch.equal(a.features[0].weight, c.features[0].weight)
    final = a.classifier[1].weight
    assert abs(final.std().item() - 0.01) < 0.002 and final.abs().max() < 0.06
    assert torch.all(a.features[0].bias == 0)
    # kaiming-uniform (a=0): bound sqrt(6 / fan_in), fan_in = 1*3*3 for the first conv
    assert a.features[0].weight.abs().max() <= (6 / 9) ** 0.5


def test_init_scratch_reinitialises_in_place():
    model = SqueezeNet(3)
    torch.nn.init.constant_(model.classifier[1].weight, 5.0)
    init_scratch(model)
    assert model.classifier[1].weight.abs().max() < 0.1


def test_min_input_is_the_smallest_size_the_network_takes():
    from sertune.features.lms_settings import MIN_INPUT
    model = build_model(4, init="scratch", seed=0).eval()
    with torch.no_grad():
        model(torch.zeros(1, 1, MIN_INPUT, MIN_INPUT))
        for shape in ((MIN_INPUT - 1, 40), (40, MIN_INPUT - 1)):
            with pytest.raises(RuntimeError):
                model(torch.zeros(1, 1, *shape))
