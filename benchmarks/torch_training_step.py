"""One CPU training step of a pooling-heavy CNN: torch's pooling modules vs ndpool.torch's.

    python benchmarks/torch_training_step.py [--batch 64] [--threads 2] [--repeat 7]
                                             [--channels-last] [--dtype float32]

Times forward + loss + backward of a ResNet-stem-like network (7x7/2 conv to 64x112x112,
MaxPool2d(3, 2, 1), convs with AvgPool2d(2) and MaxPool2d(2) between them,
AdaptiveAvgPool2d(1), Linear) built twice with identical weights: once with torch.nn's
pooling modules, once with ndpool.torch's.  Then times the pooling layers alone (forward
+ backward on activations of the same shapes), since convolutions dominate a full step.
Each time is the minimum over --repeat runs (alternating torch and ndpool) after one
warm-up, on the same input; the two models' losses and gradients are compared first.
"""

from __future__ import annotations

import os

# On a shared or small VM, libgomp's spinning idle threads stall parallel calls whenever
# another thread is runnable (see ndpool/bench.py); waiting passively is the fair setting
# for both libraries.  libgomp reads this once, when it loads, so set it before importing.
os.environ.setdefault("OMP_WAIT_POLICY", "passive")

import argparse
import platform
import time

import torch

import ndpool
import ndpool.torch as nt


def network(pooling, width: int = 64) -> torch.nn.Sequential:
    nn = torch.nn
    return nn.Sequential(
        nn.Conv2d(3, width, 7, stride=2, padding=3), nn.ReLU(),        # (N, 64, 112, 112)
        pooling.MaxPool2d(3, 2, 1),                                     # (N, 64, 56, 56)
        nn.Conv2d(width, width, 3, padding=1), nn.ReLU(),
        pooling.AvgPool2d(2),                                           # (N, 64, 28, 28)
        nn.Conv2d(width, 2 * width, 3, padding=1), nn.ReLU(),
        pooling.MaxPool2d(2),                                           # (N, 128, 14, 14)
        pooling.AdaptiveAvgPool2d(1), nn.Flatten(),                     # (N, 128)
        nn.Linear(2 * width, 10),
    )


def pooling_layers(pooling, batch: int, width: int = 64):
    """The network's pooling modules with the shapes of the activations they receive."""
    return [
        (pooling.MaxPool2d(3, 2, 1), (batch, width, 112, 112)),
        (pooling.AvgPool2d(2), (batch, width, 56, 56)),
        (pooling.MaxPool2d(2), (batch, 2 * width, 28, 28)),
        (pooling.AdaptiveAvgPool2d(1), (batch, 2 * width, 14, 14)),
    ]


def best_times(fns: dict, repeat: int) -> dict:
    """Minimum time of each function over ``repeat`` runs after a warm-up (allocator,
    thread team, first-touch pages).  Runs alternate between the functions, so that load
    from other processes hits both alike."""
    times = {name: [] for name in fns}
    for i in range(repeat + 1):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            if i:
                times[name].append(time.perf_counter() - start)
    return {name: min(t) for name, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    parser.add_argument("--channels-last", action="store_true",
                        help="input, weights and activations in torch.channels_last memory")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)  # ndpool.torch follows torch.get_num_threads()
    dtype = getattr(torch, args.dtype)
    memory = torch.channels_last if args.channels_last else torch.contiguous_format

    print(f"machine: {platform.machine()}, {platform.processor() or platform.platform()}, "
          f"{os.cpu_count()} CPUs; python {platform.python_version()}")
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}; ndpool {ndpool.__version__} "
          f"{ndpool.build_info()}; OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}")
    print(f"batch {args.batch}, {args.dtype}, "
          f"{'channels_last' if args.channels_last else 'contiguous'}, min of {args.repeat} runs\n")

    torch.manual_seed(0)
    models = {"torch": network(torch.nn), "ndpool": network(nt)}
    models["ndpool"].load_state_dict(models["torch"].state_dict())
    for m in models.values():
        m.to(dtype=dtype, memory_format=memory)
    x = torch.randn(args.batch, 3, 224, 224, dtype=dtype).contiguous(memory_format=memory)
    target = torch.randint(0, 10, (args.batch,), generator=torch.Generator().manual_seed(1))

    def step(model):
        model.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(model(x), target)
        loss.backward()
        return loss

    # Same loss and gradients before timing anything.
    losses = {name: step(m).item() for name, m in models.items()}
    grad_diff = max((a.grad - b.grad).abs().max().item()
                    for a, b in zip(models["torch"].parameters(), models["ndpool"].parameters()))
    print(f"check: loss torch {losses['torch']:.9g}, ndpool {losses['ndpool']:.9g}; "
          f"largest gradient difference {grad_diff:.3g}\n")

    step_times = best_times({name: lambda m=m: step(m) for name, m in models.items()}, args.repeat)
    print(f"training step (forward + backward): torch {step_times['torch'] * 1e3:8.1f} ms, "
          f"ndpool {step_times['ndpool'] * 1e3:8.1f} ms, "
          f"speed-up {step_times['torch'] / step_times['ndpool']:.2f}x")

    print("\npooling layers alone (forward + backward):")
    totals = {"torch": 0.0, "ndpool": 0.0}
    for (ours, shape), (theirs, _) in zip(pooling_layers(nt, args.batch), pooling_layers(torch.nn, args.batch)):
        a = torch.randn(shape, dtype=dtype).contiguous(memory_format=memory).requires_grad_()
        with torch.no_grad():
            gout = torch.randn_like(theirs(a))

        def run(module):
            a.grad = None
            module(a).backward(gout)

        t = best_times({"torch": lambda: run(theirs), "ndpool": lambda: run(ours)}, args.repeat)
        for k in totals:
            totals[k] += t[k]
        print(f"  {repr(theirs):<80} {str(tuple(shape)):<22} torch {t['torch'] * 1e3:7.1f} ms, "
              f"ndpool {t['ndpool'] * 1e3:7.1f} ms, {t['torch'] / t['ndpool']:5.2f}x")
    print(f"  {'all four':<103} torch {totals['torch'] * 1e3:7.1f} ms, "
          f"ndpool {totals['ndpool'] * 1e3:7.1f} ms, {totals['torch'] / totals['ndpool']:5.2f}x")


if __name__ == "__main__":
    main()
