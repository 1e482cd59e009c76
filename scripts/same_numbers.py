"""Checks that a change of the code left the numbers alone: the same seed, the same logged values.

    git worktree add /tmp/before 782a740         # the commit before the change
    python scripts/same_numbers.py --before=/tmp/before --after=.

Trains every case below for 20 generator iterations (mnist_5k, batch 8, seed 0) in each
checkout and compares every logged value of every iteration (wall time and perf/* aside):
every variant, and every option that changes what a step computes (--conditional, the
16-bit formats, each variant's own). A column that the newer code no longer logs is
reported, with the values it held. About 15 minutes on 2 CPU cores. --before_move
compares against a checkout from before wgan_gp/'s options moved into sngan/ and wgan_r1/.
"""
import pathlib
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import arguments  # noqa: E402

CASES = {  # name: variant and flags, the same command in both checkouts
    "dcgan": "dcgan",
    "dcgan minimax": "dcgan --g_loss=minimax",
    "dcgan conditional": "dcgan --conditional",
    "wgan": "wgan",
    "wgan conditional": "wgan --conditional",
    "wgan official schedule": "wgan --official_critic_schedule --train_steps=3",
    "wgan_gp": "wgan_gp",
    "wgan_gp layer norm": "wgan_gp --critic_norm=layer",
    "wgan_gp rmsprop": "wgan_gp --optimizer=rmsprop",
    "wgan_gp conditional": "wgan_gp --conditional",
    "wgan_gp float16": "wgan_gp --mixed_precision=float16",
    "wgan_gp float16 conditional": "wgan_gp --mixed_precision=float16 --conditional",
    "dcgan float16": "dcgan --mixed_precision=float16",
    "dcgan bfloat16": "dcgan --mixed_precision=bfloat16",
    "wgan_r1": "wgan_r1",
    "wgan_r1 conditional, float16": "wgan_r1 --conditional --mixed_precision=float16",
    "sngan": "sngan",
    "sngan conditional": "sngan --conditional",
}
# The commands before the move of wgan_gp/'s options into sngan/ and wgan_r1/ (commit
# 782a740 and older), for a comparison across it: --before_move picks these instead.
BEFORE_THE_MOVE = {
    "wgan_r1": "wgan_gp --penalty=zero_centred --gp_lambda=5",
    "sngan": "wgan_gp --loss=hinge --penalty=none --spectral_norm",
    "sngan conditional": "wgan_gp --loss=hinge --penalty=none --spectral_norm --conditional",
}
SETTINGS = ["--dataset=mnist_5k", "--batch_size=8", "--train_steps=20", "--log_every=1",
            "--sample_every=1000", "--checkpoint_every=1000", "--seed=0"]


def logged(repository, command, logdir):
    """Trains `command` ("VARIANT FLAGS...") in `repository`; returns its metrics.csv rows."""
    variant, *flags = command.split()
    done = arguments.run_child([sys.executable, f"{variant}/train.py", *SETTINGS, *flags, f"--logdir={logdir}"],
                               cwd=repository, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"error: {command} failed in {repository}:\n{done.stderr[-2000:]}")
    _, rows = arguments.finished_csv_rows(pathlib.Path(logdir) / "metrics.csv")
    return [{key: value for key, value in row.items() if key != "wall_time" and not key.startswith("perf/")}
            for row in rows]


def main():
    parser = arguments.Parser(description=__doc__)
    parser.add_argument("--before", required=True, help="checkout of the code before the change")
    parser.add_argument("--after", default=".", help="checkout of the code after it")
    parser.add_argument("--before_move", action="store_true", help="--before is older than sngan/ and wgan_r1/")
    parser.add_argument("--only", nargs="+", choices=list(CASES), help="these cases only")
    args = parser.parse_args()
    arguments.children_end_with_this_process()  # a SIGTERM stops the children this script starts
    for flag, checkout in (("--before", args.before), ("--after", args.after)):
        if not (pathlib.Path(checkout) / "variants.py").is_file() and not (pathlib.Path(checkout) / "dcgan").is_dir():
            parser.error(f"{flag}: {checkout} is not a checkout of this repository")
    different = 0
    with tempfile.TemporaryDirectory() as scratch:
        for index, (name, after) in enumerate(CASES.items()):
            if args.only and name not in args.only:
                continue
            before = BEFORE_THE_MOVE.get(name, after) if args.before_move else after
            if not (pathlib.Path(args.before) / before.split()[0]).is_dir():
                print(f"{name}: skipped ({before.split()[0]}/ is not in {args.before})", flush=True)
                continue
            old = logged(args.before, before, f"{scratch}/{index}-before")
            new = logged(args.after, after, f"{scratch}/{index}-after")
            shared = [key for key in new[0] if key in old[0]]
            dropped = sorted(set(old[0]) - set(new[0]))
            same = len(old) == len(new) and all(a[key] == b[key] for a, b in zip(old, new) for key in shared)
            different += not same
            note = f"; no longer logged: {dropped}, values {sorted({row[key] for row in old for key in dropped})}" \
                if dropped else ""
            print(f"{name}: {'identical' if same else 'DIFFERENT'} ({len(new)} iterations, "
                  f"{len(shared) - 1} values each){note}", flush=True)
    print("every case identical" if not different else f"{different} case(s) differ")
    sys.exit(1 if different else 0)


if __name__ == "__main__":
    main()
