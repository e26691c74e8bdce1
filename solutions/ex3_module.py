"""Exercise 3 (ex3_module): a network as an ``nn.Module``.

Writing weights by hand stops being fun after three of them. ``torch.nn`` packages
the pieces: ``nn.Linear(in_features, out_features)`` holds a weight matrix and a bias
vector and computes x·Wᵀ + b; ``nn.ReLU()`` computes max(0, x). A network is a class
that inherits from ``nn.Module``:

- ``__init__`` creates the layers and assigns them as attributes. Assigning a layer to
  ``self`` registers its weights as the module's *parameters*: ``model.parameters()``
  finds them, an optimizer trains them, and each one is a leaf tensor with
  ``requires_grad=True``.
- ``forward(x)`` says how data flows through the layers. Call the model as
  ``model(x)``, not ``model.forward(x)``: the call runs PyTorch's hooks around forward.

Our first network maps one number to one number through a hidden layer of 5 units:

    x ──▶ fc1 = Linear(1, 5) ──▶ ReLU ──▶ fc2 = Linear(5, 1) ──▶ ŷ

Inputs come as a batch: a tensor of shape (N, 1), one row per example, and the
output has the same shape.
"""

from torch import Tensor, nn


class OurFirstNeuralNetwork(nn.Module):
    """Linear(1, hidden_size) → ReLU → Linear(hidden_size, 1)."""

    def __init__(self, hidden_size: int = 5) -> None:
        """Create the layers as attributes named exactly ``fc1``, ``non_linearity_fc1``, ``fc2``.

        ``fc1`` is ``nn.Linear(1, hidden_size)``, ``non_linearity_fc1`` is ``nn.ReLU()``
        and ``fc2`` is ``nn.Linear(hidden_size, 1)``.
        """
        super().__init__()  # always first: it sets up the machinery that registers layers
        ### BEGIN SOLUTION
        self.fc1 = nn.Linear(1, hidden_size)
        self.non_linearity_fc1 = nn.ReLU()
        self.fc2 = nn.Linear(hidden_size, 1)
        ### END SOLUTION

    def forward(self, x: Tensor) -> Tensor:
        """Map a batch x of shape (N, 1) to predictions of shape (N, 1): fc1, ReLU, fc2."""
        ### BEGIN SOLUTION
        return self.fc2(self.non_linearity_fc1(self.fc1(x)))
        ### END SOLUTION


def count_parameters(model: nn.Module) -> int:
    """Return how many trainable numbers ``model`` has, as a Python int.

    Add up ``p.numel()`` over ``model.parameters()``, counting only the parameters
    with ``requires_grad`` (a frozen parameter is not trained). ``parameters()`` lists
    a parameter shared by two layers once, and leaves out buffers such as
    BatchNorm's running mean, which are state but not trained.
    For OurFirstNeuralNetwork(): fc1 has 5 weights + 5 biases, fc2 has 5 + 1, so 16.
    """
    ### BEGIN SOLUTION
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
    ### END SOLUTION
