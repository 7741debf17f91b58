"""Tutorial 4 (an MNIST classifier, tutorials/04-mnist-mlp.ipynb) as a plain script.

The same lesson, without a notebook: MNIST through `pellucid.vision.datasets` (offline, the sample
shipped with pellucid), a validation split with `random_split`, a multi-layer perceptron trained
with Adam, and the test accuracy at the end. The loss curves go to `pellucid_widgets.LivePlot`,
which in a script prints a progress line as it trains and, when closed, writes the plot to a
standalone HTML file (Bokeh, opens offline in any browser).

    python tutorials/scripts/04_mnist_mlp.py                   # 2 epochs, plot in loss.html
    python tutorials/scripts/04_mnist_mlp.py --epochs 1 --out /tmp/mnist-loss.html
"""
import argparse
import os
import sys
import tempfile
import warnings

import pellucid as torch
import pellucid.nn as nn
from pellucid.utils.data import DataLoader, random_split
from pellucid.vision import datasets, transforms

DEFAULT_DATA = os.path.join(tempfile.gettempdir(), "pellucid-data")     # where the notebook keeps it too
SERIES = ("train_loss", "val_loss", "accuracy")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description="Tutorial 4 as a script: train a multi-layer perceptron on MNIST with pellucid, "
                    "write the loss curves to an HTML file and print the test accuracy.")
    parser.add_argument("--epochs", type=int, default=2, help="passes over the training data (default: 2)")
    parser.add_argument("--out", default="loss.html",
                        help="the HTML file the loss plot is written to (default: loss.html)")
    parser.add_argument("--data", default=DEFAULT_DATA,
                        help=f"folder for the MNIST files (default: {DEFAULT_DATA})")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    args = parser.parse_args(argv)
    if args.epochs < 1:
        parser.error("--epochs must be at least 1")
    return args


def load_mnist(root):
    """The training and test sets. Offline, MNIST falls back to the sample shipped with pellucid and
    warns; that warning is turned into a one-line note."""
    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        train_full = datasets.MNIST(root, train=True, download=True, transform=transform)
        test_set = datasets.MNIST(root, train=False, download=True, transform=transform)
    fell_back = False
    for w in caught:
        if issubclass(w.category, UserWarning) and "sample shipped with pellucid" in str(w.message):
            fell_back = True
        else:                                   # anything else is shown as usual
            warnings.showwarning(w.message, w.category, w.filename, w.lineno)
    if fell_back:
        print(f"note: MNIST could not be downloaded, so the sample shipped with pellucid is used "
              f"({len(train_full):,} training and {len(test_set):,} test images)")
    return train_full, test_set


def make_model():
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(28 * 28, 128),
        nn.ReLU(),
        nn.Linear(128, 10),
    )


def accuracy(logits, labels):
    return (logits.argmax(dim=1) == labels).float().mean().item()


def evaluate(model, loss_fn, loader):
    """Mean loss and accuracy over `loader`, in eval mode and without gradients."""
    model.eval()
    total_loss, total_correct, count = 0.0, 0.0, 0
    with torch.no_grad():
        for images, labels in loader:
            logits = model(images)
            total_loss += loss_fn(logits, labels).item() * len(labels)
            total_correct += accuracy(logits, labels) * len(labels)
            count += len(labels)
    model.train()
    return total_loss / count, total_correct / count


def make_plot(out, total):
    """A LivePlot writing to `out`, or None (with a message saying why) where pellucid_widgets or
    bokeh is missing."""
    try:
        import pellucid_widgets
        return pellucid_widgets.LivePlot(series=SERIES, title="MNIST MLP", path=out, total=total)
    except ImportError as e:
        print(f"no loss plot: pellucid_widgets with bokeh is needed for it ({e}); "
              "install them with pip install 'pellucid[notebook]'. Training goes on without the plot.",
              file=sys.stderr)
        return None


def make_room_for_a_line():
    """LivePlot's progress line is redrawn in place on stderr (\\r); in a terminal, erase it so a
    summary line can be printed (the next log() draws it again), elsewhere end it."""
    sys.stderr.write("\r\x1b[K" if sys.stderr.isatty() else "\n")
    sys.stderr.flush()


def main(argv=None):
    args = parse_args(argv)
    torch.manual_seed(args.seed)

    train_full, test_set = load_mnist(args.data)
    train_set, val_set = random_split(train_full, [len(train_full) - 1000, 1000],
                                      generator=torch.Generator().manual_seed(args.seed))
    train_loader = DataLoader(train_set, batch_size=64, shuffle=True)
    val_loader = DataLoader(val_set, batch_size=500)
    test_loader = DataLoader(test_set, batch_size=500)
    print(f"{len(train_set):,} training, {len(val_set):,} validation, {len(test_set):,} test images")

    model = make_model()
    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

    plot = make_plot(args.out, total=args.epochs * len(train_loader))
    step = 0                                    # the index of the training step, from 0 (LivePlot's x)
    for epoch in range(args.epochs):
        for images, labels in train_loader:
            loss = loss_fn(model(images), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            values = {"train_loss": loss.item()}
            if (step + 1) % 25 == 0:
                values["val_loss"], values["accuracy"] = evaluate(model, loss_fn, val_loader)
            if plot is not None:
                plot.log(step, **values)
            step += 1
        val_loss, val_acc = evaluate(model, loss_fn, val_loader)
        if plot is not None:
            plot.log(step - 1, val_loss=val_loss, accuracy=val_acc)
            make_room_for_a_line()
        print(f"epoch {epoch + 1}: last training loss {loss.item():.3f}, "
              f"validation loss {val_loss:.3f}, validation accuracy {val_acc:.3f}")
    if plot is not None:
        plot.close()                            # prints "MNIST MLP: plot written to <out>"

    test_loss, test_acc = evaluate(model, loss_fn, test_loader)
    print(f"test loss {test_loss:.3f}, test accuracy {test_acc:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
