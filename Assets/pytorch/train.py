"""Trains the exported cnntui recipe with PyTorch: one process, or DistributedDataParallel under torchrun.

    python train.py                                   # one process (CUDA when present, else the CPU)
    python train.py --resume CHECKPOINT_DIR           # continue a cnntui (or an earlier train.py) checkpoint
    torchrun --nproc_per_node=4 train.py [...]        # DDP on one machine (NCCL on CUDA, gloo on the CPU)

The recipe is recipe.json, written by ``cnntui export``: the optimizer with cnntui's exact semantics (PyTorch's
SGD, Adam and AdamW are what cnntui reimplements), the schedule stepped when cnntui steps it, label smoothing,
the seed, an evaluation after every epoch, and the learning-rate changes made by hand during the cnntui run
(applied again at the same steps, unless the run resumes past them).

The run is a cnntui session (see cnntui_session.py): ``cnntui attach ID`` shows it live in the dashboard and
steers it (pause, learning rate, momentum, weight decay, batch size, save, stop), and ``cnntui eval``,
``cnntui predict`` and ``cnntui resume`` take its checkpoints.

Under torchrun the recipe's batch size is the global batch: each of the N processes takes batch_size / N, and
the learning rate stays the recipe's, so the run takes the steps cnntui takes. Only rank 0 writes; commands
reach the other ranks at batch boundaries; training figures are summed over the ranks.
"""
from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import signal
import sys
import time

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.utils.data import DataLoader
from torch.utils.data.distributed import DistributedSampler

import cnntui_session as cs
from data import make_datasets
from model import build_model
from schedules import make_schedule

HERE = os.path.dirname(os.path.abspath(__file__))


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipe", default=os.path.join(HERE, "recipe.json"), help="the recipe (default: recipe.json here)")
    parser.add_argument("--resume", metavar="CHECKPOINT_DIR",
                        help="a checkpoint directory (model.safetensors, optimizer.safetensors, train_state.json)")
    parser.add_argument("--epochs", type=int, help="change the total number of epochs (e.g. to train further)")
    parser.add_argument("--seed", type=int, help="replace the recipe's seed")
    parser.add_argument("--data-dir", help="where the dataset's files are (default: where cnntui found them)")
    parser.add_argument("--session-dir", help="write the session here (default: a new one under $CNNTUI_SESSIONS, "
                                              "else Sessions/ beside this file)")
    parser.add_argument("--workers", type=int, default=0, help="DataLoader worker processes per rank")
    parser.add_argument("--no-control", action="store_true", help="serve no control socket")
    return parser.parse_args()


# ------------------------------------------------------------------------------------------ processes, devices


class Ranks:
    """One process, or one of torchrun's: which device, which rank, and the few collective calls the loop uses."""

    def __init__(self):
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        local = int(os.environ.get("LOCAL_RANK", "0"))
        if torch.cuda.is_available():
            self.device = torch.device("cuda", local)
            torch.cuda.set_device(self.device)
        else:
            self.device = torch.device("cpu")
        if self.world > 1:
            backend = "nccl" if self.device.type == "cuda" else "gloo"
            dist.init_process_group(backend, timeout=datetime.timedelta(minutes=30))

    @property
    def distributed(self):
        return self.world > 1

    @property
    def leader(self):
        return self.rank == 0

    def broadcast(self, value):
        """Rank 0's ``value`` on every rank."""
        if not self.distributed:
            return value
        box = [value]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def sum(self, *numbers):
        """Each number summed over the ranks."""
        if not self.distributed:
            return numbers
        t = torch.tensor(numbers, dtype=torch.float64, device=self.device)
        dist.all_reduce(t)
        return tuple(t.tolist())

    def close(self):
        if self.distributed:
            dist.destroy_process_group()


# --------------------------------------------------------------------------------------------- the optimizer


def make_optimizer(config, parameters):
    """PyTorch's own optimizers: cnntui's are exact reimplementations of these (amsgrad off, no nesterov)."""
    lr, wd = config["lr"], config["weight_decay"]
    if config["optimizer"] == "sgd":
        return torch.optim.SGD(parameters, lr=lr, momentum=config["momentum"], weight_decay=wd)
    if config["optimizer"] == "adam":
        return torch.optim.Adam(parameters, lr=lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=wd)
    if config["optimizer"] == "adamw":
        return torch.optim.AdamW(parameters, lr=lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=wd)
    raise SystemExit(f"error: recipe.json: optimizer '{config['optimizer']}' is not sgd, adam or adamw")


def set_hyperparameter(optimizer, name, value):
    for group in optimizer.param_groups:
        group[name] = value


def optimizer_to_cnntui(optimizer, kind, names, parameters, steps):
    """The optimizer state as cnntui's optimizer.safetensors holds it: ``step`` (int64), then per trainable
    parameter ``i`` (in cnntui's order, ``names``): ``momentum_buffer.i`` (SGD) or ``exp_avg.i``, ``exp_avg_sq.i``."""
    tensors = {"step": np.array(steps, dtype=np.int64)}
    for i, name in enumerate(names):
        state = optimizer.state.get(parameters[name], {})
        if kind == "sgd":
            if state.get("momentum_buffer") is not None:
                tensors[f"momentum_buffer.{i}"] = state["momentum_buffer"].detach().cpu().float().numpy()
        else:
            shape = tuple(parameters[name].shape)
            for key in ("exp_avg", "exp_avg_sq"):
                value = state.get(key)
                tensors[f"{key}.{i}"] = (value.detach().cpu().float().numpy() if value is not None
                                         else np.zeros(shape, dtype=np.float32))
    if kind == "sgd" and any(k.startswith("momentum_buffer") for k in tensors):
        for i, name in enumerate(names):  # cnntui keeps all buffers or none
            tensors.setdefault(f"momentum_buffer.{i}", np.zeros(tuple(parameters[name].shape), dtype=np.float32))
    return tensors


def optimizer_from_cnntui(optimizer, kind, names, parameters, tensors, source):
    """Puts a cnntui optimizer state into the torch optimizer; returns cnntui's step count."""
    steps = int(tensors["step"]) if "step" in tensors else 0
    for i, name in enumerate(names):
        p = parameters[name]

        def entry(key):
            value = tensors.get(f"{key}.{i}")
            if value is None:
                raise SystemExit(f"error: {source}: no optimizer state '{key}.{i}' (for {name})")
            if tuple(value.shape) != tuple(p.shape) and value.size != p.numel():
                raise SystemExit(f"error: {source}: optimizer state '{key}.{i}' has shape {list(value.shape)}, "
                                 f"{name} has {list(p.shape)}")
            return torch.from_numpy(np.array(value, dtype=np.float32)).reshape(p.shape).to(p.device)

        if kind == "sgd":
            # A buffer exists once a step with momentum filled it; PyTorch then updates it, as cnntui does.
            if f"momentum_buffer.{i}" in tensors and steps > 0:
                optimizer.state[p] = {"momentum_buffer": entry("momentum_buffer")}
        elif steps > 0:
            optimizer.state[p] = {"step": torch.tensor(float(steps)), "exp_avg": entry("exp_avg"),
                                  "exp_avg_sq": entry("exp_avg_sq")}
    return steps


def check_state_dict(model, tensors, source):
    """Refuses a checkpoint of another model, naming every tensor that is missing, extra or of another shape."""
    ours = model.state_dict()
    missing = [k for k in ours if k not in tensors]
    extra = [k for k in tensors if k not in ours]
    shapes = [f"{k} {list(tensors[k].shape)} (model.py: {list(ours[k].shape)})" for k in ours
              if k in tensors and tuple(tensors[k].shape) != tuple(ours[k].shape)]
    if missing or extra or shapes:
        lines = [f"error: {source} is not a checkpoint of this model (model.py); the tensors disagree:"]
        if missing:
            lines.append(f"  missing from the checkpoint ({len(missing)}): " + ", ".join(missing[:12])
                         + (" ..." if len(missing) > 12 else ""))
        if extra:
            lines.append(f"  not in model.py ({len(extra)}): " + ", ".join(extra[:12]) + (" ..." if len(extra) > 12 else ""))
        if shapes:
            lines.append(f"  other shapes ({len(shapes)}): " + "; ".join(shapes[:12]) + (" ..." if len(shapes) > 12 else ""))
        raise SystemExit("\n".join(lines))
    model.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in tensors.items()}, strict=True)


# ------------------------------------------------------------------------------------------------- the run


class Run:
    """The training loop: cnntui's TrainingLoop, step for step, with a session written by rank 0."""

    def __init__(self, args, ranks: Ranks):
        self.args, self.ranks = args, ranks
        with open(args.recipe) as f:
            self.recipe = json.load(f)
        self.config = dict(self.recipe["config"])
        if args.epochs:
            self.config["epochs"] = args.epochs
        if args.seed is not None:
            self.config["seed"] = args.seed
        config = self.config
        seed = int(config["seed"])
        self.train_set, self.test_set, self.test_images, self.normalise = make_datasets(self.recipe, args.data_dir)
        torch.manual_seed(seed)  # the weights: the same on every rank
        model = build_model().to(ranks.device)
        torch.manual_seed(seed + 1 + ranks.rank)  # the augmentation's draws: each rank its own
        self.model = model
        self.parameters = dict(model.named_parameters())
        self.trainable = self.recipe["model"]["trainable_parameters"]
        unknown = [n for n in self.trainable if n not in self.parameters]
        if unknown:
            raise SystemExit(f"error: recipe.json lists parameters model.py lacks: {', '.join(unknown[:8])}")
        self.optimizer = make_optimizer(config, [self.parameters[n] for n in self.trainable])
        self.kind = config["optimizer"]
        self.steered = {"momentum": config["momentum"], "weight_decay": config["weight_decay"],
                        "batch_size": config["batch_size"], "next_batch_size": None}
        self.rules = cs.SteeringRules(config["optimizer"], config["schedule"], len(self.train_set), config["drop_last"])

        # Where the run stands (cnntui's RunPosition) and the optimizer's step count.
        self.epoch, self.batches_done, self.global_step, self.optimizer_steps = 1, 0, 0, 0
        self.epoch_totals, self.window = self.tally(), self.tally()
        self.last_accuracy = self.best_accuracy = self.best_epoch = None
        self.network_random = cs.network_random_for_seed(seed)
        self.schedule = make_schedule(self.recipe["schedule"], config["lr"], config["epochs"],
                                      self.batches_per_epoch(config["batch_size"]))
        self.lr = self.schedule.lr
        self.history, self.source_session, resumed = [], None, None
        if args.resume:
            resumed = self.resume(args.resume)
        self.apply_lr(self.lr)
        self.manual_changes = [c for c in self.recipe.get("manual_lr_changes", []) if c["global_step"] > self.global_step]

        if ranks.distributed:
            device_ids = [ranks.device.index] if ranks.device.type == "cuda" else None
            self.network = torch.nn.parallel.DistributedDataParallel(model, device_ids=device_ids)
        else:
            self.network = model
        self.paused = self.stop_requested = False
        # Ctrl-C and SIGTERM (a scheduler's time limit) stop at the next batch boundary after a checkpoint, as in
        # cnntui; a second one stops at once. Rank 0 decides, and tells the others with the commands.
        self.signalled = None
        signal.signal(signal.SIGINT, self.on_signal)
        signal.signal(signal.SIGTERM, self.on_signal)
        self.changed_since_save = resumed is None
        self.step_times, self.warmup_left = [], 5
        self.session = self.events = self.metrics = self.control = None
        if ranks.leader:
            self.open_session(resumed)

    # Setup --------------------------------------------------------------------------------------------------

    @staticmethod
    def tally():
        return {"loss_sum": 0.0, "correct": 0, "seen": 0, "seconds": 0.0}

    def batches_per_epoch(self, batch_size):
        n = len(self.train_set)
        return n // batch_size if self.config["drop_last"] else -(-n // batch_size)

    def resume(self, directory):
        """Loads a cnntui checkpoint (or one of ours): weights, optimizer moments, schedule, position, steered
        values. Everything is checked before the run starts."""
        directory = os.path.abspath(directory)
        model_tensors, optimizer_tensors, state = cs.read_checkpoint(directory)
        check_state_dict(self.model, model_tensors, os.path.join(directory, "model.safetensors"))
        self.optimizer_steps = optimizer_from_cnntui(self.optimizer, self.kind, self.trainable, self.parameters,
                                                     optimizer_tensors, os.path.join(directory, "optimizer.safetensors"))
        try:
            self.schedule.restore(state["schedule"])
        except KeyError as missing:
            raise SystemExit(f"error: {directory}/train_state.json: schedule state lacks {missing} "
                             f"(saved by another schedule than '{self.config['schedule']}'?)")
        self.epoch, self.batches_done, self.global_step = state["epoch"], state["batches_done"], state["global_step"]
        self.epoch_totals = {"loss_sum": state["epoch_loss_sum"], "correct": state["epoch_correct"],
                             "seen": state["epoch_seen"], "seconds": state["epoch_seconds"]}
        self.window = dict(state.get("record_window") or self.tally())
        self.last_accuracy = state.get("last_test_accuracy")
        self.best_accuracy, self.best_epoch = state.get("best_test_accuracy"), state.get("best_epoch")
        self.network_random = state["network_random"]
        if state.get("steered"):
            self.steered.update(state["steered"])
            self.steered.setdefault("next_batch_size", None)
        set_hyperparameter(self.optimizer, "weight_decay", self.steered["weight_decay"])
        if self.kind == "sgd":
            set_hyperparameter(self.optimizer, "momentum", self.steered["momentum"])
        self.lr = state["lr"]
        # The run's history so far: beside an exported checkpoint (history/), or the session the checkpoint is in.
        session = os.path.dirname(os.path.dirname(directory))
        if os.path.isdir(os.path.join(directory, "history")):
            self.source_session = os.path.join(directory, "history")
        elif os.path.isfile(os.path.join(session, "config.json")):
            self.source_session = session
        if self.ranks.leader:
            print(f"resumed from {directory}: epoch {self.epoch}, step {self.global_step}, lr {self.lr:g}", flush=True)
        return state

    def open_session(self, resumed):
        args, config = self.args, self.config
        if args.session_dir:
            session = cs.Session.at(args.session_dir)
        else:
            root = os.environ.get("CNNTUI_SESSIONS") or os.path.join(HERE, "Sessions")
            session = cs.Session.create(root, config["model"], config["dataset"])
        self.session = session
        written = dict(config)
        written["versions"] = dict(config.get("versions", {}), session_format=cs.SESSION_FORMAT, writer="pytorch",
                                   torch=torch.__version__)
        cs.write_json(session.file("config.json"), written)
        dataset = self.recipe["dataset"]
        cs.write_json(session.file("dataset.json"), {
            "name": dataset["name"], "class_names": dataset["class_names"], "shape": dataset["shape"],
            "mean": dataset["mean"], "std": dataset["std"], "train_count": len(self.train_set),
            "test_count": len(self.test_set)})
        records = []
        if resumed is not None and self.source_session:
            records = cs.carry_history(self.source_session, session, resumed)
        self.metrics = cs.Metrics(session, records)
        self.events = cs.EventFile(session)
        problem = None
        if not args.no_control:
            try:
                self.control = cs.ControlEndpoint(session, self.rules)
            except OSError as error:
                problem = str(error)
        model = self.recipe["model"]
        self.post("started", pid=os.getpid(), session_id=session.id, session_path=session.path, model=config["model"],
                  dataset=config["dataset"], class_names=dataset["class_names"], epochs=config["epochs"],
                  batch_size=self.steered["batch_size"], steps_per_epoch=self.batches_per_epoch(self.steered["batch_size"]),
                  steps_per_record=config["metrics_every"], start_epoch=self.epoch, optimizer=config["optimizer"],
                  schedule=config["schedule"], lr=cs.f32(self.lr), parameter_count=model["parameter_count"],
                  layers=model["layers"], momentum=self.steered["momentum"], weight_decay=self.steered["weight_decay"],
                  steering=self.rules.as_json(), control_socket=self.control.path if self.control else None,
                  control_problem=problem)
        self.post("state", state="running")
        print(f"session {session.id} in {session.path}", flush=True)
        print(f"watch and steer it: cnntui attach {session.path}", flush=True)
        if self.recipe.get("manual_lr_changes"):
            print("learning-rate changes made by hand in the cnntui run (recipe.json):", flush=True)
            for change in self.recipe["manual_lr_changes"]:
                applies = "to apply" if change["global_step"] > self.global_step else "in the checkpoint"
                print(f"  step {change['global_step']:>7}  lr {change['lr']:<10g} ({applies})", flush=True)

    # Events (rank 0) ----------------------------------------------------------------------------------------

    def post(self, kind, **fields):
        if not self.ranks.leader:
            return
        if self.control is not None:
            if kind == "state":
                self.control.update(state=fields["state"])
            elif kind == "step":
                self.control.update(epoch=fields["epoch"], global_step=fields["global_step"])
            elif kind in ("finished", "failed"):
                self.control.update(state=kind)
        self.events.post(kind, **fields)

    def apply_lr(self, lr):
        self.lr = lr
        set_hyperparameter(self.optimizer, "lr", float(np.float32(lr)))  # cnntui hands the optimizer a float32

    # Commands -----------------------------------------------------------------------------------------------

    def on_signal(self, number, frame):
        if self.signalled is not None:
            raise KeyboardInterrupt
        self.signalled = number

    def at_batch_boundary(self):
        """Applies the commands that arrived (on every rank, in rank 0's order) and the recipe's manual LR changes
        due now; waits while paused. Returns True when the run should stop here."""
        while True:
            commands = []
            if self.ranks.leader and self.control is not None:
                commands = self.control.drain(timeout=0.5 if self.paused else 0.0)
            if self.ranks.leader and self.signalled is not None and not self.stop_requested:
                commands.append(("stop", None))
            if self.manual_changes and self.manual_changes[0]["global_step"] == self.global_step:
                commands.append(("set", ("lr", self.manual_changes.pop(0)["lr"])))
            commands = self.ranks.broadcast(commands) if self.ranks.distributed else commands
            for command, argument in commands:
                self.apply(command, argument)
            if self.stop_requested:
                return True
            if not self.paused:
                return False

    def note_command(self, command):
        self.post("command", command=command, global_step=self.global_step)
        if self.ranks.leader:
            self.metrics.append(kind="command", epoch=self.epoch, global_step=self.global_step, lr=cs.f32(self.lr),
                                command=command, time=time.time())
            self.metrics.write()

    def apply(self, command, argument):
        if command == "pause" and not self.paused:
            self.paused = True
            self.post("state", state="paused")
            self.note_command("pause")
        elif command == "resume" and self.paused:
            self.paused = False
            self.post("state", state="running")
            self.note_command("resume")
        elif command == "save":
            self.note_command("save")
            self.save_checkpoint(mark_best=False)
        elif command == "stop":
            if not self.stop_requested:
                self.note_command("stop")
            self.stop_requested = True
        elif command == "set":
            self.steer(*argument)

    def steer(self, field, value):
        if self.rules.problem(field, value):
            return
        if field == "lr":
            self.schedule.override(value)
            self.apply_lr(value)
            self.note_lr_change(value, manual=True)
            return
        if field == "momentum":
            self.steered["momentum"] = value
            set_hyperparameter(self.optimizer, "momentum", value)
        elif field == "weight_decay":
            self.steered["weight_decay"] = value
            set_hyperparameter(self.optimizer, "weight_decay", value)
        elif field == "batch_size":
            self.steered["next_batch_size"] = int(value)
        self.post("set", field=field, value=value, global_step=self.global_step)
        if self.ranks.leader:
            self.metrics.append(kind="set", epoch=self.epoch, global_step=self.global_step, lr=cs.f32(self.lr),
                                field=field, value=value, time=time.time())
            self.metrics.write()
        self.changed_since_save = True

    def note_lr_change(self, lr, manual):
        self.post("lr", lr=cs.f32(lr), global_step=self.global_step, manual=manual)
        if self.ranks.leader:
            record = dict(kind="lr", epoch=self.epoch, global_step=self.global_step, lr=cs.f32(lr),
                          lr_change="manual" if manual else "schedule")
            if manual:
                record["time"] = time.time()
            self.metrics.append(**record)
            if manual:
                self.metrics.write()
        self.changed_since_save = True

    # Training -----------------------------------------------------------------------------------------------

    def loader(self, batch_size):
        per_rank = max(1, batch_size // self.ranks.world)
        if per_rank * self.ranks.world != batch_size and self.ranks.leader:
            print(f"note: batch size {batch_size} over {self.ranks.world} processes: {per_rank} each, "
                  f"{per_rank * self.ranks.world} in all", flush=True)
        sampler = DistributedSampler(self.train_set, num_replicas=self.ranks.world, rank=self.ranks.rank, shuffle=True,
                                     seed=int(self.config["seed"]), drop_last=False)
        loader = DataLoader(self.train_set, batch_size=per_rank, sampler=sampler, drop_last=self.config["drop_last"],
                            collate_fn=self.normalise, num_workers=self.args.workers,
                            pin_memory=self.ranks.device.type == "cuda")
        return sampler, loader

    def train(self):
        config = self.config
        while self.epoch <= config["epochs"]:
            sampler, loader = self.loader(self.steered["batch_size"])
            sampler.set_epoch(self.epoch)  # a new order each epoch, the same on every rank
            steps_per_epoch = len(loader)
            total_steps = self.global_step + (steps_per_epoch - self.batches_done) + (
                config["epochs"] - self.epoch) * steps_per_epoch
            self.network.train()
            for index, (images, labels, _) in enumerate(loader):
                if index < self.batches_done:  # a checkpoint taken within this epoch: its batches are done
                    continue
                if self.at_batch_boundary():
                    return self.stop()
                started = time.perf_counter()
                images = images.to(self.ranks.device, non_blocking=True)
                labels = labels.to(self.ranks.device, non_blocking=True)
                logits = self.network(images)
                loss = F.cross_entropy(logits, labels, label_smoothing=config["label_smoothing"])
                correct = int((logits.argmax(1) == labels).sum())
                # Summed over the ranks before the update, so every rank sees a NaN any of them met.
                loss_sum, correct, count = self.ranks.sum(float(loss.detach()) * len(labels), correct, len(labels))
                if not math.isfinite(loss_sum):
                    return self.fail_anomaly(loss_sum / count)
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                self.optimizer.step()
                self.optimizer_steps += 1
                seconds = time.perf_counter() - started
                self.after_step(loss_sum, int(correct), int(count), seconds, steps_per_epoch, total_steps)
            self.end_epoch()
        if self.at_batch_boundary():
            return self.stop()
        self.post("finished", test_accuracy=self.last_accuracy or 0)
        return 0

    def after_step(self, loss_sum, correct, count, seconds, steps_per_epoch, total_steps):
        used_lr = self.lr
        self.apply_lr(self.schedule.step_batch())
        self.batches_done += 1
        self.global_step += 1
        for tally in (self.epoch_totals, self.window):
            tally["loss_sum"] += loss_sum
            tally["correct"] += correct
            tally["seen"] += count
            tally["seconds"] += seconds
        self.changed_since_save = True
        if self.warmup_left:
            self.warmup_left -= 1
        else:
            self.step_times.append(seconds)
        eta = None
        if self.step_times:
            eta = (total_steps - self.global_step) * sum(self.step_times[-200:]) / len(self.step_times[-200:])
        self.post("step", epoch=self.epoch, step=self.batches_done, steps_per_epoch=steps_per_epoch,
                  global_step=self.global_step, total_steps=total_steps, eta_seconds=eta)
        if self.global_step % self.config["metrics_every"] == 0:
            w = self.window
            record = dict(epoch=self.epoch, step=self.batches_done, global_step=self.global_step,
                          loss=cs.f32(w["loss_sum"] / w["seen"]), accuracy=cs.f32(w["correct"] / w["seen"]),
                          images_per_second=w["seen"] / w["seconds"] if w["seconds"] > 0 else 0.0, lr=cs.f32(used_lr))
            self.window = self.tally()
            self.post("record", **record)
            if self.ranks.leader:
                self.metrics.append(kind="step", **record)

    def evaluate(self):
        """Rank 0 runs the whole test set (the other ranks wait for its loss and accuracy): loss without label
        smoothing, and what the dashboard shows of it."""
        result = None
        if self.ranks.leader:
            model = self.model
            model.eval()
            logits, labels = [], []
            batch = max(self.config["batch_size"], 100)
            with torch.no_grad():
                for images, batch_labels, _ in DataLoader(self.test_set, batch_size=batch, collate_fn=self.normalise):
                    logits.append(model(images.to(self.ranks.device)).float().cpu())
                    labels.append(batch_labels)
            model.train()
            logits = torch.cat(logits)
            target = torch.cat(labels)
            loss = float(F.cross_entropy(logits, target, reduction="sum")) / len(target)
            accuracy = float((logits.argmax(1) == target).sum()) / len(target)
            details = cs.evaluation_images(logits.numpy(), target.numpy(), self.test_images.pixels)
            result = (cs.f32(loss), cs.f32(accuracy), details)
        if not self.ranks.distributed:
            return result
        # The other ranks need the figures (the plateau schedule, the best checkpoint), not the images.
        figures = self.ranks.broadcast(result[:2] if self.ranks.leader else None)
        return figures[0], figures[1], result[2] if self.ranks.leader else None

    def end_epoch(self):
        started = time.perf_counter()
        test_loss, test_accuracy, details = self.evaluate()
        self.epoch_totals["seconds"] += time.perf_counter() - started
        totals = self.epoch_totals
        train_loss, train_accuracy = cs.f32(totals["loss_sum"] / totals["seen"]), cs.f32(totals["correct"] / totals["seen"])
        is_best = self.best_accuracy is None or test_accuracy > self.best_accuracy
        self.last_accuracy = test_accuracy
        if is_best:
            self.best_accuracy, self.best_epoch = test_accuracy, self.epoch
        images_per_second = totals["seen"] / totals["seconds"] if totals["seconds"] > 0 else 0.0
        self.post("evaluation", epoch=self.epoch, global_step=self.global_step, train_loss=train_loss,
                  train_accuracy=train_accuracy, test_loss=test_loss, test_accuracy=test_accuracy, lr=cs.f32(self.lr),
                  seconds=totals["seconds"], images_per_second=images_per_second, **(details or {}))
        if self.ranks.leader:
            self.metrics.append(kind="epoch", epoch=self.epoch, global_step=self.global_step, lr=cs.f32(self.lr),
                                train_loss=train_loss, train_accuracy=train_accuracy, test_loss=test_loss,
                                test_accuracy=test_accuracy, images_per_second=images_per_second,
                                seconds=totals["seconds"])
            print(f"epoch {self.epoch}/{self.config['epochs']}: train loss {train_loss:.4f} acc {train_accuracy:.4f}, "
                  f"test loss {test_loss:.4f} acc {test_accuracy:.4f} ({totals['seconds']:.1f}s)", flush=True)
        previous = self.lr
        self.apply_lr(self.schedule.step_epoch(test_loss))  # the plateau schedule watches the test loss
        if cs.f32(self.lr) != cs.f32(previous):
            self.note_lr_change(self.lr, manual=False)
        self.epoch += 1
        self.batches_done = 0
        self.epoch_totals = self.tally()
        if self.steered.get("next_batch_size"):
            self.steered["batch_size"], self.steered["next_batch_size"] = self.steered["next_batch_size"], None
        self.save_checkpoint(mark_best=is_best)

    # Ends ---------------------------------------------------------------------------------------------------

    def stop(self):
        if self.changed_since_save:
            self.save_checkpoint(mark_best=False)
        self.post("finished", test_accuracy=self.last_accuracy or 0)
        return 128 + self.signalled if self.signalled else 0

    def fail_anomaly(self, loss):
        message = (f"loss is {loss} at epoch {self.epoch}, step {self.global_step + 1} (learning rate {self.lr:g} "
                   "too high?); not saved: the last checkpoint is the last good state")
        self.post("anomaly", epoch=self.epoch, global_step=self.global_step + 1, layer="loss", message=f"loss is {loss}")
        self.post("failed", message=message)
        if self.ranks.leader:
            self.metrics.write()
            print(f"error: {message}", file=sys.stderr, flush=True)
        return 1

    def save_checkpoint(self, mark_best):
        """Rank 0 writes the checkpoint in cnntui's layout; the others wait, so no rank runs ahead of it."""
        if self.ranks.leader:
            session = self.session
            self.events.write_held_step()
            name = session.next_checkpoint_name()
            path = os.path.join(session.checkpoints, name)
            saved_line = self.events.line("checkpoint", path=path, global_step=self.global_step)
            state = {
                "epoch": self.epoch, "batches_done": self.batches_done, "global_step": self.global_step,
                "epoch_loss_sum": self.epoch_totals["loss_sum"], "epoch_correct": self.epoch_totals["correct"],
                "epoch_seen": self.epoch_totals["seen"], "epoch_seconds": self.epoch_totals["seconds"],
                "record_window": self.window, "last_test_accuracy": self.last_accuracy,
                "best_test_accuracy": self.best_accuracy, "best_epoch": self.best_epoch, "lr": cs.f32(self.lr),
                "schedule": self.schedule.state, "network_random": self.network_random,
                "metrics_count": len(self.metrics.records), "finished": self.epoch > self.config["epochs"],
                "events_length": self.events.length + len(saved_line), "steered": self.steered,
                "written_by": f"pytorch {torch.__version__} (train.py)",
            }
            self.metrics.write()
            model_tensors = {k: v.detach().cpu().contiguous().numpy() for k, v in self.model.state_dict().items()}
            optimizer_tensors = optimizer_to_cnntui(self.optimizer, self.kind, self.trainable, self.parameters,
                                                    self.optimizer_steps)
            session.save_checkpoint(name, model_tensors, optimizer_tensors, state, mark_best)
            self.events.write(saved_line)
        if self.ranks.distributed:
            dist.barrier()
        self.changed_since_save = False

    def close(self):
        if self.control is not None:
            self.control.close()
        if self.events is not None:
            self.events.close()


def main():
    args = parse_args()
    ranks = Ranks()
    run = None
    code = 1
    try:
        run = Run(args, ranks)
        code = run.train()
        if ranks.leader:
            accuracy = f", last test accuracy {100 * run.last_accuracy:.2f}%" if run.last_accuracy is not None else ""
            print(f"session {run.session.id} saved in {run.session.path}{accuracy}", flush=True)
            print(f"resume it in cnntui: cnntui resume {run.session.path}", flush=True)
    except KeyboardInterrupt:  # a second signal: at once, the last checkpoint stays the last good state
        if run is not None and run.events is not None:
            run.post("failed", message="interrupted twice: stopped at once; the last checkpoint is the last good state")
        code = 130
    except Exception as error:
        if run is not None and run.events is not None:
            run.post("failed", message=f"{type(error).__name__}: {error}")
        raise
    finally:
        if run is not None:
            run.close()
        ranks.close()
    sys.exit(code)


if __name__ == "__main__":
    main()
