"""Training throughput: our trainer vs the chapter's plain loop, same data, same machine, alternating.

Both train SimpleCNN with Adam 1e-3, batch 64, for one epoch over the same first
N MNIST training images, in alternating rounds so machine noise hits both alike.
Images per second counts the epoch's training loop only (data loading included,
model set-up and evaluation excluded). Prints both medians and ours / plain.

What makes ours faster on a CPU: MNIST is decoded and normalised once into one
tensor (the plain loop makes a PIL image, ToTensor and Normalize per sample per
epoch, then collates 64 tensors); batches are one fancy-index (``__getitems__``);
loss/accuracy are accumulated as tensors instead of ``.item()`` per batch.

    python benchmarks/train_speed.py [--limit 10000] [--rounds 3] [--data-dir ../shared/data]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time


def plain_loop(data_dir: str, limit: int, seed: int) -> float:
    """The chapter's loop as the chapter writes it; returns images per second of the epoch."""
    import torch
    import torch.nn as nn
    import torch.optim as optim
    from torch.utils.data import DataLoader, Subset
    from torchvision import datasets, transforms

    from cnninspect.chapter.models import SimpleCNN

    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
    train_dataset = datasets.MNIST(data_dir, train=True, download=False, transform=transform)
    train_dataset = Subset(train_dataset, range(limit))
    train_loader = DataLoader(train_dataset, batch_size=64, shuffle=True)

    torch.manual_seed(seed)
    model = SimpleCNN()
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.Adam(model.parameters(), lr=0.001)

    start = time.perf_counter()
    model.train()
    running_loss = 0.0
    correct = 0
    total = 0
    for data, target in train_loader:
        optimizer.zero_grad()
        output = model(data)
        loss = criterion(output, target)
        loss.backward()
        optimizer.step()
        running_loss += loss.item()
        _, predicted = output.max(1)
        total += target.size(0)
        correct += predicted.eq(target).sum().item()
    seconds = time.perf_counter() - start
    print(f"  plain: Loss: {running_loss / len(train_loader):.4f}, Accuracy: {100.0 * correct / total:.2f}%", end="")
    return total / seconds


def ours(data_dir: str, limit: int, seed: int) -> float:
    from cnninspect.chapter.data import mnist
    from cnninspect.chapter.models import SimpleCNN
    from cnninspect.chapter.train import fit, seed_everything

    train = mnist(data_dir, train=True, limit=limit)
    seed_everything(seed)
    model = SimpleCNN()
    history = fit(model, train, None, epochs=1, lr=1e-3, batch_size=64, device="cpu", seed=seed,
                  progress=False, log=None)  # fmt: skip
    h = history[0]
    print(f"  ours:  Loss: {h.train_loss:.4f}, Accuracy: {h.train_acc:.2f}%", end="")
    return h.images_per_s


def main(argv: list[str] | None = None) -> int:
    import torch

    from cnninspect.chapter.data import data_root

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None, help="folder holding MNIST/raw (default: $CNNINSPECT_DATA)")
    parser.add_argument("--limit", type=int, default=10000, help="training images per epoch (default: 10000)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (default: 3)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads for both loops")
    args = parser.parse_args(argv)
    data_dir = str(data_root(args.data_dir))
    if args.threads:
        torch.set_num_threads(args.threads)

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; SimpleCNN, Adam, batch 64, "
          f"{args.limit} MNIST images per epoch, {args.rounds} alternating rounds")  # fmt: skip
    ours(data_dir, min(args.limit, 640), 0)  # warm-up: first-call allocator/oneDNN costs
    print(" (warm-up)")
    plain_loop(data_dir, min(args.limit, 640), 0)
    print(" (warm-up)")
    a, b = [], []
    for r in range(args.rounds):
        first, second = (("ours", "plain") if r % 2 == 0 else ("plain", "ours"))
        for which in (first, second):
            if which == "ours":
                a.append(ours(data_dir, args.limit, r))
                print(f" -> {a[-1]:,.0f} img/s")
            else:
                b.append(plain_loop(data_dir, args.limit, r))
                print(f" -> {b[-1]:,.0f} img/s")
    mo, mp = statistics.median(a), statistics.median(b)
    paired = [x / y for x, y in zip(a, b)]  # each round's two runs sat side by side in time
    ratio = statistics.median(paired)
    print(f"per-round ratios ours/plain: {', '.join(f'{r:.2f}' for r in paired)}")
    print(f"median images/s: ours {mo:,.0f}, plain loop {mp:,.0f}; median ratio ours/plain = {ratio:.2f} "
          f"({'not slower' if ratio >= 1.0 else 'SLOWER'})")  # fmt: skip
    return 0 if ratio >= 1.0 else 1


if __name__ == "__main__":
    sys.exit(main())
