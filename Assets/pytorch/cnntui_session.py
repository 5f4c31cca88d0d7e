"""The cnntui session protocol, so that a PyTorch run is a cnntui session.

train.py writes its run into a session directory laid out exactly as cnntui lays its own out, so that
``cnntui attach ID``, ``cnntui open ID`` and ``cnntui runs`` show it, ``cnntui control ID ...`` and the dashboard
steer it, and ``cnntui eval``, ``cnntui predict`` and ``cnntui resume`` take its checkpoints:

    config.json           the recipe (cnntui's TrainingConfig keys)
    dataset.json          class names, image shape, normalisation, image counts
    metrics.jsonl / .csv  step records, epoch lines, learning-rate changes, commands (rewritten at each checkpoint)
    events.jsonl          every event, one JSON object a line (schema v1), appended with one write(2) each
    control.json          where the control socket is, while the run trains
    checkpoints/ckpt-NNNNNN/{model,optimizer}.safetensors, train_state.json; checkpoints/last, best -> ckpt-...

Nothing here imports torch: it deals in plain numbers, dicts and numpy arrays.
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import queue
import socket
import struct
import threading
import time

import numpy as np

SESSION_FORMAT = "1"
EVENTS_VERSION = 1
MASK64 = (1 << 64) - 1
FNV_OFFSET, FNV_PRIME = 0xCBF29CE484222325, 0x100000001B3


# --------------------------------------------------------------------------------------------- small helpers


def atomic_write(path: str, data: bytes) -> None:
    """Writes ``path`` whole or not at all: a temporary file beside it, fsync, rename, fsync of the folder."""
    directory = os.path.dirname(path) or "."
    temporary = os.path.join(directory, f".{os.path.basename(path)}.tmp-{os.getpid()}")
    with open(temporary, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(temporary, path)
    sync_directory(directory)


def sync_directory(directory: str) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_json(path: str, value) -> None:
    """Pretty-printed with sorted keys, as cnntui writes its JSON files."""
    atomic_write(path, (json.dumps(value, indent=2, sort_keys=True) + "\n").encode())


def f32(x) -> float:
    """A number as the float32 cnntui keeps, written back as the shortest decimal that reads as that float32."""
    return float(np.format_float_positional(np.float32(x), unique=True, trim="-")) if np.isfinite(x) else float(x)


def json_number(x):
    """Floats that are not finite are the strings "nan", "inf", "-inf" in cnntui's files."""
    if isinstance(x, float) and not np.isfinite(x):
        return "nan" if np.isnan(x) else ("inf" if x > 0 else "-inf")
    return x


def _clean(value):
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, (np.floating,)):
        return json_number(float(value))
    if isinstance(value, (np.integer,)):
        return int(value)
    return json_number(value)


def slug(text: str) -> str:
    name = os.path.basename(text.rstrip("/"))
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name.lower())[:40]


def random_source(seed: int) -> dict:
    """cnntui's ``RandomSource(seed:)`` (xoshiro256** seeded by SplitMix64), as train_state.json stores it."""
    s, out = seed & MASK64, []
    for _ in range(4):
        s = (s + 0x9E3779B97F4A7C15) & MASK64
        z = s
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        out.append(z ^ (z >> 31))
    return {"s0": out[0], "s1": out[1], "s2": out[2], "s3": out[3]}


def network_random_for_seed(seed: int) -> dict:
    """The network's random stream cnntui would have before the first step (its layers' stream: seed + 0x5EED)."""
    return random_source((seed + 0x5EED) & MASK64)


def file_digest(path: str) -> str:
    """The digest a checkpoint written here records for a tensor file: MD5 of its bytes, prefixed ``md5:``
    (cnntui checks it on load, as it checks the content digest of the checkpoints it writes itself)."""
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return "md5:" + digest.hexdigest()


# ------------------------------------------------------------------------------------------------ the session


class Session:
    """A session directory: its files, its events and its checkpoints. Only rank 0 makes one."""

    def __init__(self, path: str):
        self.path = os.path.abspath(path)
        self.id = os.path.basename(self.path)
        self.checkpoints = os.path.join(self.path, "checkpoints")

    @classmethod
    def create(cls, root: str, model: str, dataset: str) -> "Session":
        """``ROOT/<yyyyMMdd-HHmmss>-<model>-<dataset>`` (``-2``, ``-3``... on a clash), as cnntui names sessions."""
        os.makedirs(root, exist_ok=True)
        base = "-".join([time.strftime("%Y%m%d-%H%M%S"), slug(model), slug(dataset)])
        name, suffix = base, 2
        while True:
            try:
                os.mkdir(os.path.join(root, name), 0o755)  # mkdir is atomic: whoever makes it owns the ID
                break
            except FileExistsError:
                name, suffix = f"{base}-{suffix}", suffix + 1
        session = cls(os.path.join(root, name))
        os.makedirs(session.checkpoints, exist_ok=True)
        return session

    @classmethod
    def at(cls, path: str) -> "Session":
        """A session in the directory ``path`` (made if missing; refused if it holds another run)."""
        if os.path.exists(os.path.join(path, "config.json")):
            raise SystemExit(f"error: --session-dir {path}: already holds a session (choose a new directory)")
        os.makedirs(os.path.join(path, "checkpoints"), exist_ok=True)
        return cls(path)

    def file(self, name: str) -> str:
        return os.path.join(self.path, name)

    # Checkpoints -------------------------------------------------------------------------------------------

    def next_checkpoint_name(self) -> str:
        numbers = [0]
        for name in os.listdir(self.checkpoints):
            stem = name[5:] if name.startswith(".tmp-") else name
            if stem.startswith("ckpt-") and stem[5:].isdigit():
                numbers.append(int(stem[5:]))
        return f"ckpt-{max(numbers) + 1:06d}"

    def save_checkpoint(self, name: str, model_tensors: dict, optimizer_tensors: dict, state: dict,
                        mark_best: bool) -> str:
        """Writes ``checkpoints/<name>`` under a temporary name, renames it into place, then moves ``last``
        (and ``best``) to it and prunes directories no link points to: cnntui's layout and order, so ``kill -9``
        at any moment leaves the previous checkpoint whole."""
        from safetensors.numpy import save_file  # the numpy flavour: tensors come in as arrays

        temporary = os.path.join(self.checkpoints, ".tmp-" + name)
        if os.path.isdir(temporary):
            for leftover in os.listdir(temporary):
                os.unlink(os.path.join(temporary, leftover))
        else:
            os.makedirs(temporary)
        model_path = os.path.join(temporary, "model.safetensors")
        optimizer_path = os.path.join(temporary, "optimizer.safetensors")
        save_file(model_tensors, model_path, metadata={"format": "pt", "writer": "pytorch"})
        save_file(optimizer_tensors, optimizer_path, metadata={"writer": "pytorch"})
        state = dict(state, model_digest=file_digest(model_path), optimizer_digest=file_digest(optimizer_path))
        write_json(os.path.join(temporary, "train_state.json"), _clean(state))
        for path in (model_path, optimizer_path):
            with open(path, "rb") as f:
                os.fsync(f.fileno())
        final = os.path.join(self.checkpoints, name)
        os.rename(temporary, final)
        sync_directory(self.checkpoints)
        self._link("last", name)
        if mark_best:
            self._link("best", name)
        self._prune()
        return final

    def _link(self, slot: str, target: str) -> None:
        temporary = os.path.join(self.checkpoints, f".{slot}.link-{os.getpid()}")
        if os.path.lexists(temporary):
            os.unlink(temporary)
        os.symlink(target, temporary)
        os.replace(temporary, os.path.join(self.checkpoints, slot))
        sync_directory(self.checkpoints)

    def _prune(self) -> None:
        kept = set()
        for slot in ("last", "best"):
            try:
                kept.add(os.readlink(os.path.join(self.checkpoints, slot)))
            except OSError:
                pass
        for name in os.listdir(self.checkpoints):
            if (name.startswith("ckpt-") or name.startswith(".tmp-ckpt-")) and name not in kept:
                directory = os.path.join(self.checkpoints, name)
                for leftover in os.listdir(directory):
                    os.unlink(os.path.join(directory, leftover))
                os.rmdir(directory)


def read_checkpoint(directory: str):
    """A checkpoint directory (cnntui's or ours): model tensors, optimizer tensors (numpy) and train_state.json."""
    from safetensors.numpy import load_file

    for name in ("model.safetensors", "optimizer.safetensors", "train_state.json"):
        if not os.path.isfile(os.path.join(directory, name)):
            raise SystemExit(f"error: --resume {directory}: no {name} there (a cnntui checkpoint directory holds "
                             "model.safetensors, optimizer.safetensors and train_state.json)")
    with open(os.path.join(directory, "train_state.json")) as f:
        state = json.load(f)
    return (load_file(os.path.join(directory, "model.safetensors")),
            load_file(os.path.join(directory, "optimizer.safetensors")), state)


# --------------------------------------------------------------------------------------------- metrics, events


class Metrics:
    """``metrics.jsonl`` and ``metrics.csv``: kept in memory, rewritten whole (atomically), as cnntui does."""

    COLUMNS = ["kind", "epoch", "step", "global_step", "lr", "lr_change", "loss", "accuracy", "train_loss",
               "train_accuracy", "test_loss", "test_accuracy", "images_per_second", "seconds", "field", "value",
               "command", "time"]

    def __init__(self, session: Session, records=None):
        self.session = session
        self.records = list(records or [])

    def append(self, **record) -> None:
        self.records.append(_clean(record))

    def write(self) -> None:
        lines = "".join(json.dumps(r, sort_keys=True, separators=(",", ":")) + "\n" for r in self.records)
        atomic_write(self.session.file("metrics.jsonl"), lines.encode())
        rows = [",".join(self.COLUMNS)]
        for r in self.records:
            rows.append(",".join("" if r.get(c) is None else str(r[c]) for c in self.COLUMNS))
        atomic_write(self.session.file("metrics.csv"), ("\n".join(rows) + "\n").encode())


class EventFile:
    """``events.jsonl``: one line per event, each written by one ``write(2)`` on an ``O_APPEND`` descriptor.

    Step lines are thinned to about 4 a second (the newest wins); a held step is written before the next event
    that is not a record, so the step before an evaluation, a pause, a checkpoint or the end is in the file."""

    STEP_INTERVAL = 0.25

    def __init__(self, session: Session):
        self.path = session.file("events.jsonl")
        self.fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self.length = os.fstat(self.fd).st_size
        self.held = None
        self.last_step = None

    def line(self, kind: str, **fields) -> bytes:
        """The line for one event stamped now (not written): a checkpoint records the length with its own line."""
        event = {"v": EVENTS_VERSION, "time": time.time(), "type": kind}
        event.update(_clean(fields))
        return (json.dumps(event, separators=(",", ":")) + "\n").encode()

    def write(self, line: bytes) -> None:
        view = memoryview(line)
        while view:
            written = os.write(self.fd, view)
            self.length += written
            view = view[written:]

    def post(self, kind: str, **fields) -> None:
        if kind == "step":
            now = time.monotonic()
            if self.last_step is not None and now - self.last_step < self.STEP_INTERVAL:
                self.held = fields
                return
            self.held, self.last_step = None, now
        elif kind not in ("record", "health"):
            self.write_held_step()
        self.write(self.line(kind, **fields))

    def write_held_step(self) -> None:
        if self.held is not None:
            fields, self.held = self.held, None
            self.last_step = time.monotonic()
            self.write(self.line("step", **fields))

    def close(self) -> None:
        os.close(self.fd)


def carry_history(source: str, target: Session, state: dict) -> list:
    """Copies the part of a cnntui session's history a checkpoint covers into the new session: the first
    ``metrics_count`` metric records, the events file up to ``events_length`` bytes (whole lines) and the health
    records up to its step. So the PyTorch run's dashboard shows the whole run, and nothing twice.
    Returns the metric records."""
    records = []
    metrics_path = os.path.join(source, "metrics.jsonl")
    if os.path.isfile(metrics_path):
        with open(metrics_path) as f:
            records = [json.loads(line) for line in f if line.strip()][: int(state.get("metrics_count", 0))]
    events_path = os.path.join(source, "events.jsonl")
    if os.path.isfile(events_path) and state.get("events_length"):
        with open(events_path, "rb") as f:
            kept = f.read(int(state["events_length"]))
        kept = kept[: kept.rfind(b"\n") + 1]
        atomic_write(target.file("events.jsonl"), kept)
    health_path = os.path.join(source, "health.jsonl")
    if os.path.isfile(health_path):
        with open(health_path) as f:
            lines = [line for line in f if line.strip() and json.loads(line).get("global_step", 0) <= state["global_step"]]
        atomic_write(target.file("health.jsonl"), "".join(lines).encode())
    return records


def predicted_image(index: int, pixels: np.ndarray, truth: int, probabilities: np.ndarray, loss: float, k: int = 5):
    """One image of an evaluation line: raw bytes in base64, the top-k classes (ties: lower class first)."""
    order = np.argsort(-probabilities, kind="stable")[:k]
    channels, height, width = pixels.shape
    return {"test_index": int(index), "channels": int(channels), "height": int(height), "width": int(width),
            "pixels": base64.b64encode(np.ascontiguousarray(pixels, dtype=np.uint8).tobytes()).decode(),
            "true_class": int(truth), "predicted_class": int(order[0]),
            "top_k": [{"class_index": int(c), "probability": f32(probabilities[c])} for c in order],
            "true_probability": f32(probabilities[truth]), "loss": f32(loss)}


def evaluation_images(logits: np.ndarray, labels: np.ndarray, pixels: np.ndarray, preview_count=16,
                      misclassified_cap=500, least_sure_cap=100):
    """What cnntui's evaluator keeps of one pass over the test set: per-class accuracy, the confusion matrix, the
    fixed preview images (evenly spread), the highest-loss mistakes and the least sure correct predictions
    (ties go to the lower test index). ``logits`` float32 (N, K), ``pixels`` uint8 (N, C, H, W)."""
    n, classes = logits.shape
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted.astype(np.float32))
    probabilities = (exp / exp.sum(axis=1, keepdims=True)).astype(np.float32)
    wide = logits.astype(np.float64)
    top = wide.max(axis=1)
    losses = np.log(np.exp(wide - top[:, None]).sum(axis=1)) + top - wide[np.arange(n), labels]
    predicted = np.array([int(np.argsort(-p, kind="stable")[0]) for p in probabilities])
    confusion = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(confusion, (labels, predicted), 1)
    totals = confusion.sum(axis=1)
    per_class = [f32(confusion[c, c] / totals[c]) if totals[c] else 0.0 for c in range(classes)]

    def image(i):
        return predicted_image(i, pixels[i], labels[i], probabilities[i], losses[i])

    count = min(preview_count, n)
    preview = sorted({i * n // max(count, 1) for i in range(count)})
    indices = np.arange(n)
    wrong = indices[predicted != labels]
    wrong = wrong[np.lexsort((wrong, -losses[wrong].astype(np.float32)))][:misclassified_cap]
    right = indices[predicted == labels]
    right = right[np.lexsort((right, probabilities[right, labels[right]]))][:least_sure_cap]
    return {"per_class_accuracy": per_class, "confusion": confusion.tolist(),
            "preview": [image(i) for i in preview], "misclassified": [image(i) for i in wrong],
            "least_sure": [image(i) for i in right]}


# ----------------------------------------------------------------------------------------- steering and control


class SteeringRules:
    """What a run lets a user steer, with cnntui's bounds and messages (``SteeringRules`` in Steering.swift)."""

    MAX_LR = 10.0

    def __init__(self, optimizer: str, schedule: str, train_images: int, drop_last: bool):
        self.optimizer, self.schedule, self.train_images, self.drop_last = optimizer, schedule, train_images, drop_last

    def as_json(self) -> dict:
        return {"optimizer": self.optimizer, "schedule": self.schedule, "train_images": self.train_images,
                "drop_last": self.drop_last}

    def problem(self, field: str, value: float):
        if not np.isfinite(value):
            return f"{field} must be a finite number, got {value}"
        if field == "lr":
            if value <= 0:
                return f"lr must be a positive number, got {value}"
            if value > self.MAX_LR:
                return f"lr {value} is above {int(self.MAX_LR)} (a typo?)"
        elif field == "momentum":
            if self.optimizer != "sgd":
                return (f"momentum applies to SGD only: {self.optimizer} keeps its own moving average of the "
                        "gradients (beta1), which is not steered")
            if not 0 <= value < 1:
                return f"momentum must be in [0, 1), got {value}"
        elif field == "weight_decay":
            if value < 0:
                return f"weight_decay must be >= 0, got {value}"
        elif field == "batch_size":
            if value < 1 or value != round(value) or value > 2**31 - 1:
                return f"batch_size must be a whole number >= 1, got {value}"
            if self.schedule.startswith("cosine"):
                return (f"batch_size cannot change under the schedule '{self.schedule}': its curve is laid out in "
                        "batches of the size the run started with")
            if self.drop_last and int(value) > self.train_images:
                return (f"batch_size {int(value)} with the last batch dropped leaves no batch of the "
                        f"{self.train_images} training images")
        return None


FIELDS = ["lr", "momentum", "weight_decay", "batch_size"]


def parse_request(line: str):
    """One request line of cnntui's control protocol: ``("pause", None)``, ``("set", ("lr", 0.01))``...
    Raises ValueError with the message the reply carries."""
    try:
        request = json.loads(line)
    except ValueError:
        request = None
    if not isinstance(request, dict):
        raise ValueError(f"not a JSON object: {line[:80]}")
    command = request.get("cmd")
    if not isinstance(command, str):
        raise ValueError('no "cmd" (a string) in the request')
    if command in ("ping", "pause", "resume", "save", "stop"):
        return command, None
    if command in ("set", "set_lr"):
        field = "lr" if command == "set_lr" else request.get("field")
        if not isinstance(field, str):
            raise ValueError(f'set needs "field": one of {", ".join(FIELDS)}')
        if field not in FIELDS:
            raise ValueError(f"unknown field '{field}': one of {', '.join(FIELDS)}")
        value = request.get("value")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f'{command} needs "value" (a number) for {field}')
        return "set", (field, float(value))
    raise ValueError(f"unknown command '{command}': one of ping, pause, resume, save, stop, set, set_lr")


def socket_path(session: Session) -> str:
    """``$XDG_RUNTIME_DIR/cnntui/<16 hex>.sock`` (else ``/tmp/cnntui-<uid>/``), named by FNV-1a of the session's
    real path: cnntui's placement, so a socket path stays short whatever the session's path."""
    runtime = os.environ.get("XDG_RUNTIME_DIR", "")
    directory = runtime + "/cnntui" if runtime.startswith("/") else f"/tmp/cnntui-{os.getuid()}"
    try:
        os.mkdir(directory, 0o700)
    except FileExistsError:
        pass
    info = os.lstat(directory)
    if not (os.path.isdir(directory) and not os.path.islink(directory) and info.st_uid == os.getuid()
            and info.st_mode & 0o077 == 0):
        raise OSError(f"control endpoint: {directory} is not a private directory of this user")
    h = FNV_OFFSET
    for byte in os.path.realpath(session.path).encode():
        h = ((h ^ byte) * FNV_PRIME) & MASK64
    return f"{directory}/{h:016x}.sock"


class ControlEndpoint:
    """The run's control socket, speaking cnntui's protocol: one JSON request a line, one JSON reply a line.

    A thread accepts; each connection gets a thread. Accepted commands go to a queue the training loop drains at
    batch boundaries (and, under torchrun, broadcasts to the other ranks). Only this user gets in: the folder is
    0700, the socket 0600, and each peer's uid is checked (SO_PEERCRED)."""

    def __init__(self, session: Session, rules: SteeringRules):
        self.session, self.rules = session, rules
        self.commands = queue.Queue()
        self.status = {"state": "starting", "epoch": 1, "global_step": 0}
        self.lock = threading.Lock()
        self.path = socket_path(session)
        try:  # a live endpoint at the path means another process trains this session
            probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            probe.connect(self.path)
            probe.close()
            raise OSError(f"another process serves the control endpoint {self.path}")
        except (ConnectionRefusedError, FileNotFoundError):
            pass
        if os.path.exists(self.path):
            os.unlink(self.path)
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(self.path)
        os.chmod(self.path, 0o600)
        self.server.listen(16)
        self.closing = False
        control = {"v": 1, "pid": os.getpid(), "socket": self.path, "started": time.time(), "host": socket.gethostname()}
        atomic_write(session.file("control.json"), json.dumps(control, sort_keys=True).encode())
        threading.Thread(target=self._accept, name="cnntui-control", daemon=True).start()

    def update(self, **status) -> None:
        with self.lock:
            self.status.update(status)

    def _accept(self) -> None:
        while not self.closing:
            try:
                connection, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection: socket.socket) -> None:
        with connection:
            credentials = connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
            _, uid, _ = struct.unpack("3i", credentials)
            if uid != os.getuid():
                connection.sendall(b'{"error":"permission denied: this run belongs to another user","ok":false}\n')
                return
            buffer = b""
            while True:
                try:
                    chunk = connection.recv(4096)
                except OSError:
                    return
                if not chunk:
                    return
                buffer += chunk
                if len(buffer) > 65536 and b"\n" not in buffer:
                    connection.sendall(b'{"error":"request line too long","ok":false}\n')
                    return
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    if line.strip():
                        reply = self.reply(line.decode(errors="replace"))
                        connection.sendall((json.dumps(reply, sort_keys=True, separators=(",", ":")) + "\n").encode())

    def reply(self, line: str) -> dict:
        try:
            command, argument = parse_request(line)
        except ValueError as error:
            return {"ok": False, "error": str(error)}
        with self.lock:
            status = dict(self.status)
        if status["state"] in ("finished", "failed") and command != "ping":
            return {"ok": False, "error": f"the run has {status['state']}"}
        if command == "set":
            problem = self.rules.problem(*argument)
            if problem:
                return {"ok": False, "error": problem}
        if command != "ping":
            self.commands.put((command, argument))
        return {"ok": True, "state": status["state"], "epoch": status["epoch"], "global_step": status["global_step"],
                "session": self.session.id}

    def drain(self, timeout: float = 0.0) -> list:
        """The commands waiting (after up to ``timeout`` seconds for a first one)."""
        commands = []
        try:
            commands.append(self.commands.get(timeout=timeout) if timeout > 0 else self.commands.get_nowait())
            while True:
                commands.append(self.commands.get_nowait())
        except queue.Empty:
            return commands

    def close(self) -> None:
        """Stops listening and removes the socket and control.json (every exit of the run comes here)."""
        if self.closing:
            return
        self.closing = True
        try:
            self.server.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.server.close()
        for path in (self.path, self.session.file("control.json")):
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
