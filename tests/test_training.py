"""The classic beginner programs train for real on the bundled MNIST sample
(8,000 train / 2,000 test digits), written exactly as they would be for PyTorch."""
import warnings

import numpy as np
import pytest

import pellucid as torch
import pellucid.nn as nn
import pellucid.nn.functional as F
from pellucid.utils.data import DataLoader
from pellucid.vision import datasets, transforms

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def mnist(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")        # the offline-sample notice
        train = datasets.MNIST(root, train=True, download=True, transform=tf)
        test = datasets.MNIST(root, train=False, download=True, transform=tf)
    assert len(train) == 8000 and len(test) == 2000
    return train, test


def _accuracy(model, loader):
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for x, y in loader:
            correct += (model(x).argmax(dim=1) == y).sum().item()
            total += y.shape[0]
    model.train()
    return correct / total


def _train(model, train, test, epochs, batch_size, target=None, one_cycle=None):
    torch.manual_seed(0)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loader = DataLoader(train, batch_size=batch_size, shuffle=True)
    sched = None
    if one_cycle:
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=one_cycle, total_steps=epochs * len(loader))
    test_loader = DataLoader(test, batch_size=500)
    history = []
    for _ in range(epochs):
        for x, y in loader:
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if sched is not None:
                sched.step()
        history.append(_accuracy(model, test_loader))
        if target is not None and history[-1] >= target:
            break
    return history


def test_mlp_reaches_94_percent(mnist):
    torch.manual_seed(1)
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
    history = _train(model, *mnist, epochs=15, batch_size=64, target=0.94)
    assert max(history) >= 0.94, f"test accuracy per epoch: {history}"
    assert history[0] > 0.85          # it learns from the first epoch on


def test_convnet_reaches_97_percent_in_3_epochs(mnist):
    torch.manual_seed(1)
    model = nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(1600, 128), nn.ReLU(), nn.Linear(128, 10))
    # Adam with a one-cycle schedule: plain Adam 1e-3 lands at 96.5-97.3% on this 8,000-digit
    # sample depending on the seed (PyTorch alike), the schedule gives a margin.
    history = _train(model, *mnist, epochs=3, batch_size=32, one_cycle=3e-3)
    assert history[-1] >= 0.97, f"test accuracy per epoch: {history}"


def test_training_loss_decreases_and_state_dict_survives(mnist, tmp_path):
    train, test = mnist
    torch.manual_seed(3)
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 32), nn.ReLU(), nn.Linear(32, 10))
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    loader = DataLoader(train, batch_size=128, shuffle=True)
    losses = []
    for i, (x, y) in enumerate(loader):
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        if i == 40:
            break
    assert np.mean(losses[-10:]) < 0.5 * np.mean(losses[:3])
    path = tmp_path / "mlp.pt"
    torch.save({"model": model.state_dict(), "optim": opt.state_dict()}, path)
    ckpt = torch.load(path)
    clone = nn.Sequential(nn.Flatten(), nn.Linear(784, 32), nn.ReLU(), nn.Linear(32, 10))
    clone.load_state_dict(ckpt["model"])
    x, _ = next(iter(DataLoader(test, batch_size=16)))
    np.testing.assert_array_equal(clone(x).detach().numpy(), model(x).detach().numpy())
