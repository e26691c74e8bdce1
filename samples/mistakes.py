"""A corpus of ordinary student mistakes, each one edit of the reference solutions.

Each mistake replaces one function's answer region with what a student might write,
and names the checks it must fail; every other check must pass. The tests grade the
whole corpus and hold the grader to exactly that, so a check that fails too much or
too little shows up. The demo grades the same submissions as a sample class.

Error carried forward (course.yml, ``calls``): a mistake fails only checks of its own
function, plus the end-to-end checks of the functions that call it. The tests hold
every mistake to that rule too.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Mistake:
    student: str  # the sample submission's name
    exercise: str
    function: str  # the function whose answer region is replaced
    answer: str  # what the student wrote instead
    fails: frozenset[str]  # checks of the exercise that must fail; the others must pass
    what: str  # the mistake, in a few words


def _m(student: str, exercise: str, function: str, answer: str, fails: str, what: str) -> Mistake:
    return Mistake(student, exercise, function, answer.strip("\n"), frozenset(fails.split()), what)


MISTAKES = (
    # ---- ex1_forward ----
    _m(
        "sigmoid_wrong_sign",
        "ex1_forward",
        "sigmoid",
        "return 1 / (1 + torch.exp(z))",
        "sigmoid_values sigmoid_stable_at_extremes sigmoid_gradient sigmoid_without_builtin "
        "forward_end_to_end",
        "e^z instead of e^(−z)",
    ),
    _m(
        "sigmoid_naive",
        "ex1_forward",
        "sigmoid",
        "return 1 / (1 + torch.exp(-z))",
        "sigmoid_gradient",
        "the textbook formula: right values, but a nan gradient at z = −1e4",
    ),
    _m(
        "sigmoid_overflows",
        "ex1_forward",
        "sigmoid",
        "return torch.exp(z) / (1 + torch.exp(z))",
        "sigmoid_stable_at_extremes sigmoid_gradient",
        "e^z / (1 + e^z): inf / inf = nan at z = 1e4",
    ),
    _m(
        "sigmoid_builtin",
        "ex1_forward",
        "sigmoid",
        "return torch.sigmoid(z)",
        "sigmoid_without_builtin",
        "calls torch.sigmoid",
    ),
    _m(
        "sigmoid_abs_trick",
        "ex1_forward",
        "sigmoid",
        """
    e = torch.exp(-z.abs())
    return torch.where(z >= 0, 1 / (1 + e), e / (1 + e))""",
        "sigmoid_gradient",
        "stable values, but abs() has gradient 0 at z = 0",
    ),
    _m(
        "weighted_sum_ignores_b",
        "ex1_forward",
        "weighted_sum",
        "return x1 * w1 + x2 * w2 + w3",
        "weighted_sum_values forward_end_to_end",
        "uses 1 for the bias unit instead of b",
    ),
    _m(
        "forward_drops_b",
        "ex1_forward",
        "forward",
        "return sigmoid(weighted_sum(x1, x2, w1, w2, w3))",
        "forward_values forward_gradients forward_end_to_end",
        "does not pass b on to weighted_sum",
    ),
    _m(
        "mse_sum",
        "ex1_forward",
        "mse_loss",
        "return ((prediction - target) ** 2).sum()",
        "mse_loss_values",
        "sums instead of averaging",
    ),
    _m(
        "mse_in_place",
        "ex1_forward",
        "mse_loss",
        "return prediction.sub_(target).pow_(2).mean()",
        "inputs_unchanged",
        "in-place operations change the caller's prediction",
    ),
    # ---- ex2_backward ----
    _m(
        "sigmoid_grad_of_z",
        "ex2_backward",
        "sigmoid_grad",
        "return z * (1 - z)",
        "sigmoid_grad_values sigmoid_grad_stable backward_end_to_end fit_by_hand_end_to_end",
        "s(1 − s) applied to z instead of to σ(z)",
    ),
    _m(
        "backward_no_mean",
        "ex2_backward",
        "backward",
        """
    hidden = x1 * w1 + x2 * w2 + b * w3
    delta = 2 * (torch.sigmoid(hidden) - target) * sigmoid_grad(hidden)
    return (delta * x1).sum(), (delta * x2).sum(), (delta * b).sum()""",
        "backward_matches_autograd backward_matches_finite_differences backward_with_other_bias "
        "backward_without_autograd backward_end_to_end fit_by_hand_end_to_end",
        "forgets the mean's 1/N",
    ),
    _m(
        "backward_wrong_sign",
        "ex2_backward",
        "backward",
        """
    hidden = x1 * w1 + x2 * w2 + b * w3
    error = target - torch.sigmoid(hidden)
    delta = 2 * error / error.numel() * sigmoid_grad(hidden)
    return (delta * x1).sum(), (delta * x2).sum(), (delta * b).sum()""",
        "backward_matches_autograd backward_matches_finite_differences backward_with_other_bias "
        "backward_without_autograd backward_end_to_end fit_by_hand_end_to_end",
        "y − ŷ instead of ŷ − y",
    ),
    _m(
        "backward_bias_is_one",
        "ex2_backward",
        "backward",
        """
    hidden = x1 * w1 + x2 * w2 + b * w3
    error = torch.sigmoid(hidden) - target
    delta = 2 * error / error.numel() * sigmoid_grad(hidden)
    return (delta * x1).sum(), (delta * x2).sum(), delta.sum()""",
        "backward_matches_finite_differences backward_with_other_bias backward_end_to_end "
        "fit_by_hand_end_to_end",
        "dH1/dw3 taken as 1 instead of b",
    ),
    _m(
        "backward_per_example",
        "ex2_backward",
        "backward",
        """
    hidden = x1 * w1 + x2 * w2 + b * w3
    error = torch.sigmoid(hidden) - target
    delta = 2 * error / error.numel() * sigmoid_grad(hidden)
    return delta * x1, delta * x2, delta * b""",
        "backward_matches_autograd backward_matches_finite_differences backward_with_other_bias "
        "backward_without_autograd backward_end_to_end fit_by_hand_end_to_end",
        "forgets to sum over the batch",
    ),
    _m(
        "backward_by_autograd",
        "ex2_backward",
        "backward",
        "return autograd_gradients(x1, x2, w1, w2, w3, target, b)",
        "backward_without_autograd",
        "calls autograd instead of writing the chain rule",
    ),
    _m(
        "autograd_on_callers_weights",
        "ex2_backward",
        "autograd_gradients",
        """
    for w in (w1, w2, w3):
        w.requires_grad_(True)
    mse_loss(forward(x1, x2, w1, w2, w3, b), target).backward()
    return w1.grad, w2.grad, w3.grad""",
        "autograd_gradients_no_side_effects",
        "sets requires_grad on the caller's weights, so old gradients add up",
    ),
    _m(
        "sgd_step_uphill",
        "ex2_backward",
        "sgd_step",
        "return tuple(w + lr * g for w, g in zip(weights, grads))",
        "sgd_step_values fit_by_hand_end_to_end",
        "steps up the gradient",
    ),
    _m(
        "sgd_step_in_place",
        "ex2_backward",
        "sgd_step",
        """
    for w, g in zip(weights, grads):
        w.sub_(lr * g)
    return tuple(weights)""",
        "sgd_step_values fit_by_hand_end_to_end",
        "updates the caller's weights in place",
    ),
    _m(
        "fit_loss_after_step",
        "ex2_backward",
        "fit_by_hand",
        """
    losses = []
    for _ in range(n_steps):
        grads = backward(x1, x2, *weights, target, b)
        weights = sgd_step(weights, grads, lr)
        losses.append(mse_loss(forward(x1, x2, *weights, b), target).item())
    return tuple(weights), losses""",
        "fit_by_hand_trajectory fit_by_hand_end_to_end",
        "records the loss after the step",
    ),
    # ---- ex3_module ----
    _m(
        "module_no_relu",
        "ex3_module",
        "OurFirstNeuralNetwork.forward",
        "return self.fc2(self.fc1(x))",
        "forward_matches_reference gradients_reach_every_parameter",
        "forgets to apply the ReLU",
    ),
    _m(
        "module_fixed_width",
        "ex3_module",
        "OurFirstNeuralNetwork.__init__",
        """
    self.fc1 = nn.Linear(1, 5)
    self.non_linearity_fc1 = nn.ReLU()
    self.fc2 = nn.Linear(5, 1)""",
        "hidden_size_respected",
        "ignores hidden_size",
    ),
    _m(
        "module_other_names",
        "ex3_module",
        "OurFirstNeuralNetwork.__init__",
        """
    self.layer1 = nn.Linear(1, hidden_size)
    self.relu = nn.ReLU()
    self.layer2 = nn.Linear(hidden_size, 1)
    self.fc1, self.fc2 = self.layer1, self.layer2""",
        "structure hidden_size_respected forward_matches_reference gradients_reach_every_parameter",
        "names the layers differently (the forward below still uses fc1 and fc2)",
    ),
    _m(
        "count_frozen_too",
        "ex3_module",
        "count_parameters",
        "return sum(p.numel() for p in model.parameters())",
        "count_parameters_frozen",
        "counts frozen parameters",
    ),
    _m(
        "count_state_dict",
        "ex3_module",
        "count_parameters",
        "return sum(v.numel() for v in model.state_dict().values())",
        "count_parameters_frozen",
        "counts the state dict: buffers, frozen and shared parameters too",
    ),
    # ---- ex4_training ----
    _m(
        "data_global_seed",
        "ex4_training",
        "make_data",
        """
    torch.manual_seed(seed)
    x = torch.randn(n, 1)
    y = 1 + 2 * x + 0.3 * torch.randn(n, 1)
    return x, y""",
        "make_data_seeded",
        "seeds the global random generator",
    ),
    _m(
        "data_requires_grad",
        "ex4_training",
        "make_data",
        """
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 1, generator=generator, requires_grad=True)
    y = 1 + 2 * x + 0.3 * torch.randn(n, 1, generator=generator)
    return x, y""",
        "make_data_shapes",
        "the tutorial's requires_grad=True on the data",
    ),
    _m(
        "data_noise_from_x",
        "ex4_training",
        "make_data",
        """
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 1, generator=generator)
    return x, 1 + 2 * x + 0.3 * x""",
        "make_data_statistics",
        "no independent noise",
    ),
    _m(
        "split_in_order",
        "ex4_training",
        "train_test_split",
        """
    n_train = round(train_fraction * x.shape[0])
    return x[:n_train], y[:n_train], x[n_train:], y[n_train:]""",
        "split_shuffled",
        "the tutorial's split without shuffling",
    ),
    _m(
        "split_unseeded",
        "ex4_training",
        "train_test_split",
        """
    order = torch.randperm(x.shape[0])
    n_train = round(train_fraction * x.shape[0])
    return x[order[:n_train]], y[order[:n_train]], x[order[n_train:]], y[order[n_train:]]""",
        "split_shuffled",
        "shuffles with the global generator: the split is not reproducible",
    ),
    _m(
        "data_numpy_random",
        "ex4_training",
        "make_data",
        """
    import numpy as np

    x = torch.from_numpy(np.random.randn(n, 1)).float()
    y = 1 + 2 * x + 0.3 * torch.from_numpy(np.random.randn(n, 1)).float()
    return x, y""",
        "make_data_seeded",
        "draws from numpy's global generator and ignores the seed",
    ),
    _m(
        "split_unpaired",
        "ex4_training",
        "train_test_split",
        """
    generator = torch.Generator().manual_seed(seed)
    n_train = round(train_fraction * x.shape[0])
    x = x[torch.randperm(x.shape[0], generator=generator)]
    y = y[torch.randperm(y.shape[0], generator=generator)]
    return x[:n_train], y[:n_train], x[n_train:], y[n_train:]""",
        "split_pairing",
        "shuffles x and y with different permutations",
    ),
    _m(
        "train_no_zero_grad",
        "ex4_training",
        "train",
        """
    optimizer = optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.MSELoss()
    losses = []
    for _ in range(n_epochs):
        model.train()
        loss = loss_fn(model(x_train), y_train)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses""",
        "train_trajectory train_fits_the_data",
        "never zeroes the gradients",
    ),
    _m(
        "train_no_step",
        "ex4_training",
        "train",
        """
    loss_fn = nn.MSELoss()
    losses = []
    for _ in range(n_epochs):
        model.train()
        losses.append(loss_fn(model(x_train), y_train).item())
    return losses""",
        "train_trajectory train_fits_the_data",
        "the tutorial's loop: no zero_grad, backward or step",
    ),
    _m(
        "train_sgd",
        "ex4_training",
        "train",
        """
    optimizer = optim.SGD(model.parameters(), lr=lr)
    loss_fn = nn.MSELoss()
    losses = []
    for _ in range(n_epochs):
        model.train()
        optimizer.zero_grad()
        loss = loss_fn(model(x_train), y_train)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses""",
        "train_trajectory train_fits_the_data",
        "SGD instead of Adam",
    ),
    _m(
        "train_target_first",
        "ex4_training",
        "train",
        """
    optimizer = optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.MSELoss()
    losses = []
    for _ in range(n_epochs):
        model.train()
        optimizer.zero_grad()
        loss = loss_fn(y_train, model(x_train))
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses""",
        "train_loop_details",
        "the tutorial's loss_fn(target, prediction)",
    ),
    _m(
        "train_returns_tensors",
        "ex4_training",
        "train",
        """
    optimizer = optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.MSELoss()
    losses = []
    for _ in range(n_epochs):
        model.train()
        optimizer.zero_grad()
        loss = loss_fn(model(x_train), y_train)
        loss.backward()
        optimizer.step()
        losses.append(loss)
    return losses""",
        "train_trajectory train_loop_details",
        "keeps the loss tensors instead of Python floats",
    ),
    _m(
        "train_never_train_mode",
        "ex4_training",
        "train",
        """
    optimizer = optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.MSELoss()
    losses = []
    for _ in range(n_epochs):
        optimizer.zero_grad()
        loss = loss_fn(model(x_train), y_train)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses""",
        "train_loop_details",
        "never switches the model to training mode",
    ),
    _m(
        "evaluate_with_graph",
        "ex4_training",
        "evaluate",
        "return nn.MSELoss()(model(x), y).item()",
        "evaluate_eval_mode_no_grad",
        "evaluates in training mode with autograd on",
    ),
    _m(
        "evaluate_returns_tensor",
        "ex4_training",
        "evaluate",
        """
    model.eval()
    with torch.no_grad():
        return nn.MSELoss()(model(x), y)""",
        "evaluate_values",
        "returns a tensor, not a Python float",
    ),
    _m(
        "plot_shows",
        "ex4_training",
        "plot_predictions",
        """
    import matplotlib.pyplot as plt
    with torch.no_grad():
        predictions = model(x)
    figure, axes = plt.subplots()
    axes.scatter(x.squeeze(1), y.squeeze(1), label="expected")
    axes.scatter(x.squeeze(1), predictions.squeeze(1), label="predicted")
    axes.set_xlabel("x")
    axes.set_ylabel("y")
    axes.set_title("Predictions")
    axes.legend()
    plt.show()
    return figure""",
        "plot_predictions_content",
        "calls plt.show()",
    ),
    _m(
        "plot_no_legend",
        "ex4_training",
        "plot_predictions",
        """
    with torch.no_grad():
        predictions = model(x)
    figure = Figure()
    axes = figure.add_subplot()
    axes.scatter(x.squeeze(1), y.squeeze(1))
    axes.scatter(x.squeeze(1), predictions.squeeze(1))
    axes.set_xlabel("x")
    axes.set_ylabel("y")
    axes.set_title("Predictions")
    return figure""",
        "plot_predictions_content",
        "no labels, no legend",
    ),
)
