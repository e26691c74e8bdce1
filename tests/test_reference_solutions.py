"""The reference solutions against independent computations.

Oracles: torch.sigmoid, autograd, torch.autograd.gradcheck (central finite differences in
float64), nn.MSELoss, a hand-written Adam loop, plain statistics.
"""

import doctest
import importlib.util
import itertools

import pytest
import torch
from matplotlib.figure import Figure
from torch import nn

from tests.helpers import ROOT


def _load(name):
    spec = importlib.util.spec_from_file_location(
        f"solution_{name}", ROOT / "solutions" / f"{name}.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ex1, ex2, ex3, ex4 = (
    _load(n) for n in ("ex1_forward", "ex2_backward", "ex3_module", "ex4_training")
)
DTYPES = (torch.float32, torch.float64)


@pytest.mark.parametrize("module", [ex1, ex2, ex3, ex4], ids=lambda m: m.__name__)
def test_docstring_examples_hold(module):
    failures, _ = doctest.testmod(module, verbose=False)
    assert failures == 0


@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_matches_torch_everywhere(dtype):
    z = torch.cat(
        [torch.linspace(-120, 120, 2001, dtype=dtype), torch.tensor([-1e4, 1e4, 0.0], dtype=dtype)]
    )
    got = ex1.sigmoid(z)
    assert got.dtype == dtype and got.shape == z.shape
    torch.testing.assert_close(got, torch.sigmoid(z))


def test_sigmoid_gradient_is_right_and_finite():
    z = torch.tensor(
        [-1e4, -50.0, -3.0, 0.0, 2.0, 50.0, 1e4], dtype=torch.float64, requires_grad=True
    )
    ex1.sigmoid(z).sum().backward()
    torch.testing.assert_close(z.grad, torch.sigmoid(z) * (1 - torch.sigmoid(z)))
    assert torch.autograd.gradcheck(
        ex1.sigmoid, (torch.randn(20, dtype=torch.float64, requires_grad=True),)
    )


def test_forward_pieces_and_loss():
    g = torch.Generator().manual_seed(0)
    x1, x2 = torch.randn(50, generator=g), torch.randn(50, generator=g)
    w1, w2, w3 = torch.randn(3, generator=g)
    torch.testing.assert_close(
        ex1.weighted_sum(x1, x2, w1, w2, w3, b=-2.0), x1 * w1 + x2 * w2 - 2.0 * w3
    )
    torch.testing.assert_close(
        ex1.forward(x1, x2, w1, w2, w3), torch.sigmoid(x1 * w1 + x2 * w2 + w3)
    )
    prediction, target = torch.randn(4, 5, generator=g), torch.randn(4, 5, generator=g)
    loss = ex1.mse_loss(prediction, target)
    assert loss.dim() == 0
    torch.testing.assert_close(loss, nn.MSELoss()(prediction, target))


def _problem(n, dtype, seed=1):
    g = torch.Generator().manual_seed(seed)
    x1 = torch.randn(n, generator=g, dtype=dtype)
    x2 = torch.randn(n, generator=g, dtype=dtype)
    target = torch.rand(n, generator=g, dtype=dtype)
    w1, w2, w3 = torch.randn(3, generator=g, dtype=dtype)
    return x1, x2, w1, w2, w3, target


@pytest.mark.parametrize(("n", "b"), [(1, 1.0), (30, 1.0), (30, -1.5), (200, 0.0)])
def test_backward_agrees_with_autograd_and_finite_differences(n, b):
    x1, x2, w1, w2, w3, target = _problem(n, torch.float64)

    def loss(w1, w2, w3):
        return ex2.mse_loss(ex2.forward(x1, x2, w1, w2, w3, b), target)

    leaves = [w.clone().requires_grad_(True) for w in (w1, w2, w3)]
    loss(*leaves).backward()
    with torch.no_grad():
        by_hand = ex2.backward(x1, x2, w1, w2, w3, target, b)
    for got, leaf in zip(by_hand, leaves, strict=True):
        assert got.shape == leaf.shape
        torch.testing.assert_close(got, leaf.grad)
    assert torch.autograd.gradcheck(
        loss, tuple(w.clone().requires_grad_(True) for w in (w1, w2, w3))
    )
    for got, want in zip(
        ex2.autograd_gradients(x1, x2, w1, w2, w3, target, b), by_hand, strict=True
    ):
        torch.testing.assert_close(got, want)


def test_autograd_gradients_has_no_side_effects():
    x1, x2, *weights, target = _problem(10, torch.float32)
    x1.requires_grad_(True)
    for w in weights:
        w.requires_grad_(True)
        w.grad = torch.tensor(7.0)
    expected = ex2.backward(x1.detach(), x2, *(w.detach() for w in weights), target)
    got = ex2.autograd_gradients(x1, x2, *weights, target)
    for g, e in zip(got, expected, strict=True):
        torch.testing.assert_close(g, e)
    assert x1.grad is None and all(w.grad.item() == 7.0 for w in weights)


def test_sigmoid_grad_and_sgd_and_fitting():
    z = torch.tensor([-1e4, -2.0, 0.0, 2.0, 1e4])
    torch.testing.assert_close(ex2.sigmoid_grad(z), torch.sigmoid(z) * (1 - torch.sigmoid(z)))
    weights = (torch.tensor(1.0), torch.tensor(2.0))
    new = ex2.sgd_step(weights, (torch.tensor(0.5), torch.tensor(-1.0)), lr=0.1)
    assert isinstance(new, tuple) and weights[0].item() == 1.0
    torch.testing.assert_close(new, (torch.tensor(0.95), torch.tensor(2.1)))
    x1, x2, *weights, target = _problem(40, torch.float64)
    final, losses = ex2.fit_by_hand(x1, x2, target, tuple(weights), lr=0.5, n_steps=60)
    assert len(final) == 3 and len(losses) == 60 and all(type(v) is float for v in losses)
    assert losses[0] == pytest.approx(ex2.mse_loss(ex2.forward(x1, x2, *weights), target).item())
    assert losses[-1] < losses[0]
    assert all(later <= earlier + 1e-12 for earlier, later in itertools.pairwise(losses))


def test_module_structure_and_forward():
    for hidden in (1, 5, 16):
        model = ex3.OurFirstNeuralNetwork(hidden_size=hidden)
        assert isinstance(model.fc1, nn.Linear) and model.fc1.weight.shape == (hidden, 1)
        assert isinstance(model.non_linearity_fc1, nn.ReLU)
        assert model.fc2.weight.shape == (1, hidden)
        x = torch.randn(7, 1)
        expected = model.fc2.weight @ torch.relu(model.fc1.weight @ x.T + model.fc1.bias[:, None])
        torch.testing.assert_close(model(x), (expected + model.fc2.bias).T)
        assert ex3.count_parameters(model) == 3 * hidden + 1


def test_count_parameters_skips_frozen_shared_and_buffers():
    shared = nn.Linear(4, 4)
    model = nn.Sequential(shared, nn.BatchNorm1d(4), shared)
    assert ex3.count_parameters(model) == 20 + 8
    model[1].weight.requires_grad_(False)
    assert ex3.count_parameters(model) == 24


def test_make_data_statistics_and_determinism():
    state = torch.get_rng_state()
    x, y = ex4.make_data(n=50_000, seed=3)
    assert torch.equal(state, torch.get_rng_state())
    assert x.shape == y.shape == (50_000, 1) and x.dtype == torch.float32 and not y.requires_grad
    residual = y - (1 + 2 * x)
    assert abs(x.mean()) < 0.02 and abs(x.std() - 1) < 0.02
    assert abs(residual.mean()) < 0.01 and abs(residual.std() - 0.3) < 0.01
    again = ex4.make_data(n=10, seed=3)
    assert torch.equal(again[0], ex4.make_data(n=10, seed=3)[0])
    assert not torch.equal(again[0], ex4.make_data(n=10, seed=4)[0])


def test_split_shuffles_pairs_and_covers():
    x = torch.arange(100.0).reshape(100, 1)
    x_train, y_train, x_test, y_test = ex4.train_test_split(x, x + 1000, seed=5)
    assert (len(x_train), len(x_test)) == (70, 30)
    assert torch.equal(y_train, x_train + 1000) and torch.equal(y_test, x_test + 1000)
    assert sorted(torch.cat([x_train, x_test]).flatten().tolist()) == list(range(100))
    assert x_train.flatten().tolist() != list(range(70))


def test_train_is_the_textbook_adam_loop():
    """The reference's losses equal a loop written out here with Adam's formulas."""
    x, y = ex4.make_data(70, seed=1)
    torch.manual_seed(0)
    model = ex4.make_model()
    copy = ex4.make_model()
    copy.load_state_dict(model.state_dict())
    losses = ex4.train(model, x, y, n_epochs=30, lr=0.05)
    params = list(copy.parameters())
    m = [torch.zeros_like(p) for p in params]
    v = [torch.zeros_like(p) for p in params]
    expected = []
    for step in range(1, 31):
        loss = ((copy(x) - y) ** 2).mean()
        expected.append(loss.item())
        grads = torch.autograd.grad(loss, params)
        with torch.no_grad():
            for p, g, m_i, v_i in zip(params, grads, m, v, strict=True):
                m_i.mul_(0.9).add_(0.1 * g)
                v_i.mul_(0.999).add_(0.001 * g * g)
                m_hat, v_hat = m_i / (1 - 0.9**step), v_i / (1 - 0.999**step)
                p.sub_(0.05 * m_hat / (v_hat.sqrt() + 1e-8))
    assert losses == pytest.approx(expected, rel=1e-4)


def test_training_fits_and_evaluate_is_pure():
    x, y = ex4.make_data()
    x_train, y_train, x_test, y_test = ex4.train_test_split(x, y)
    torch.manual_seed(0)
    model = ex4.make_model()
    losses = ex4.train(model, x_train, y_train)
    assert len(losses) == 100 and losses[-1] < 0.2 * losses[0]
    for p in model.parameters():
        p.grad = torch.ones_like(p)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    mse = ex4.evaluate(model, x_test, y_test)
    assert type(mse) is float and mse < 0.15
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert all(torch.equal(p.grad, torch.ones_like(p)) for p in model.parameters())
    with torch.no_grad():
        assert mse == pytest.approx(nn.MSELoss()(model(x_test), y_test).item())


def test_plot_shows_expected_and_predicted():
    torch.manual_seed(0)
    model = ex4.make_model()
    x = torch.linspace(-1, 1, 9).reshape(9, 1)
    y = 1 + 2 * x
    figure = ex4.plot_predictions(model, x, y)
    assert isinstance(figure, Figure) and len(figure.get_axes()) == 1
    axes = figure.get_axes()[0]
    assert axes.get_title() and axes.get_xlabel() and axes.get_ylabel()
    assert [t.get_text() for t in axes.get_legend().get_texts()] == ["expected", "predicted"]
    expected, predicted = (c.get_offsets()[:, 1] for c in axes.collections)
    torch.testing.assert_close(torch.tensor(expected, dtype=torch.float32), y.flatten())
    with torch.no_grad():
        torch.testing.assert_close(torch.tensor(predicted, dtype=torch.float32), model(x).flatten())
