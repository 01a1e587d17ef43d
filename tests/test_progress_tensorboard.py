"""Progress lines without a terminal, the tqdm bar in one, and TensorBoard events beside metrics.jsonl."""

import io
import json
import re
import struct

import jax
import numpy as np
import pytest

from ebm_jax.train import fit
from ebm_jax.train.progress import Progress
from ebm_jax.train.workdir import MetricWriter
from tests.test_train_loop import _linear_problem, _state, _step

LINE = re.compile(r"^train: step (\d+)/(\d+) \(([\d.]+)%\), epoch ([\d.]+)/(\d+), loss ([-\d.e+]+), "
                  r"([\d.]+|inf) steps/s, (\S+) left$")


class _Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_lines_are_rate_limited_without_a_terminal():
    stream, clock = io.StringIO(), _Clock()
    progress = Progress(1000, 0, steps_per_epoch=100, num_epochs=10, stream=stream, min_interval=10.0, clock=clock)
    assert not progress.terminal
    for step in range(50, 1001, 50):  # a chunk of 50 steps every 2 seconds: 25 steps/s
        clock.now += 2.0
        progress.update(step, "loss", 1.0 / step)
    progress.close()
    lines = stream.getvalue().splitlines()
    parsed = [LINE.match(line) for line in lines]
    assert all(parsed), lines
    steps = [int(m.group(1)) for m in parsed]
    # the first chunk, then at most one line per 10 s (every 5th chunk), and always the last one
    assert steps == [50, 300, 550, 800, 1000]
    assert [float(m.group(7)) for m in parsed] == [25.0] * 5
    assert parsed[1].group(4) == "3.00" and parsed[1].group(5) == "10"
    assert parsed[1].group(8) == "0:00:28"  # 700 steps left at 25 steps/s
    assert parsed[-1].group(8) == "0:00:00" and parsed[-1].group(3) == "100.0"


def test_progress_resumed_run_counts_from_its_start_step():
    stream, clock = io.StringIO(), _Clock()
    progress = Progress(100, 60, steps_per_epoch=10, num_epochs=10, stream=stream, clock=clock)
    clock.now = 4.0
    progress.update(80, "loss", 0.5)
    (line,) = stream.getvalue().splitlines()
    assert LINE.match(line).group(7) == "5.0"  # 20 steps in 4 s, not 80


def test_progress_in_a_terminal_is_a_tqdm_bar():
    stream = _Terminal()
    progress = Progress(100, 0, steps_per_epoch=10, num_epochs=10, stream=stream)
    assert progress.terminal
    progress.update(100, "loss", 0.25)
    progress.close()
    out = stream.getvalue()
    assert "100/100" in out and "\r" in out and "loss=0.25" in out
    assert "steps/s" not in out  # no log lines in a terminal


def test_progress_disabled_writes_nothing():
    stream = io.StringIO()
    progress = Progress(100, 0, steps_per_epoch=10, num_epochs=10, stream=stream, enabled=False)
    progress.update(100, "loss", 0.25)
    progress.close()
    assert stream.getvalue() == ""


def _records(path):
    """The TFRecord framing of an event file: length, its crc, the event, its crc."""
    from tensorboardX.proto import event_pb2

    data, events = path.read_bytes(), []
    while data:
        (length,) = struct.unpack("<Q", data[:8])
        events.append(event_pb2.Event.FromString(data[12:12 + length]))
        data = data[12 + length + 4:]
    return events


def _tensorboard_scalars(workdir):
    """{(tag, step): [values]} as TensorBoard shows it: a SessionLog START at step s hides older events at >= s."""
    from tensorboardX.proto import event_pb2

    scalars = {}
    for path in sorted(workdir.glob("events.out.tfevents.*"), key=lambda p: p.stat().st_mtime_ns):
        for event in _records(path):
            if event.HasField("session_log") and event.session_log.status == event_pb2.SessionLog.START:
                scalars = {k: v for k, v in scalars.items() if k[1] < event.step}
            for value in event.summary.value:
                scalars.setdefault((value.tag, event.step), []).append(value.simple_value)
    return scalars


def _jsonl_scalars(workdir):
    out = {}
    for line in (workdir / "metrics.jsonl").read_text().splitlines():
        record = json.loads(line)
        for name, value in record.items():
            if name != "step":
                out[(name, record["step"])] = value
    return out


def test_fit_prints_progress_lines_and_writes_tensorboard_events(tmp_path, capsys):
    data = _linear_problem(n=256)  # 8 steps per epoch
    kwargs = dict(batch_size=32, num_epochs=3, rng=jax.random.key(3), checkpoint_every_steps=4, log_every_steps=1)
    # stopped at step 10, as if killed after the line of step 12 was logged but before its checkpoint
    fit(_state(), _step, data, workdir=tmp_path, max_steps=10, **kwargs)
    stale = MetricWriter(tmp_path)
    stale.write(12, {"loss": 123.0})  # in metrics.jsonl and in TensorBoard
    stale.close()
    fit(_state(), _step, data, workdir=tmp_path, **kwargs)

    lines = capsys.readouterr().err.splitlines()  # captured: not a terminal
    progress = [m for m in map(LINE.match, lines) if m]
    assert progress, lines
    assert progress[-1].group(1) == progress[-1].group(2) == "24"
    last_chunk = [json.loads(line)["loss"] for line in (tmp_path / "metrics.jsonl").read_text().splitlines()[-4:]]
    assert float(progress[-1].group(6)) == pytest.approx(np.mean(last_chunk), rel=1e-3)  # the chunk's mean loss

    expected = _jsonl_scalars(tmp_path)
    assert ("loss", 12) in expected and expected[("loss", 12)] != 123.0  # the stale line was dropped
    got = _tensorboard_scalars(tmp_path)
    assert set(got) == set(expected)
    for key, value in expected.items():  # one point per step: the stale step 12 was purged
        assert got[key] == [pytest.approx(value, rel=1e-6)], key


def test_tensorboard_can_be_turned_off(tmp_path, monkeypatch):
    monkeypatch.setenv("EBM_JAX_TENSORBOARD", "0")
    writer = MetricWriter(tmp_path)
    writer.write_many([{"step": 1, "loss": 0.5, "note": "text", "flag": True}])
    writer.close()
    assert not list(tmp_path.glob("events.out.tfevents.*"))
    assert json.loads((tmp_path / "metrics.jsonl").read_text()) == {"step": 1, "loss": 0.5, "note": "text",
                                                                    "flag": True}


def test_tensorboard_gets_numbers_only(tmp_path):
    writer = MetricWriter(tmp_path, tensorboard=True)
    writer.write_many([{"step": 3, "loss": np.float32(0.5), "epoch": 1, "note": "text", "flag": True,
                        "bad": float("nan")}])
    writer.close()
    scalars = _tensorboard_scalars(tmp_path)
    assert set(scalars) == {("loss", 3), ("epoch", 3), ("bad", 3)}
    assert scalars[("loss", 3)] == [0.5] and np.isnan(scalars[("bad", 3)][0])


def test_a_run_resumed_within_the_same_second_keeps_the_earlier_events(tmp_path, monkeypatch):
    from tensorboardX import event_file_writer

    monkeypatch.setattr(event_file_writer.time, "time", lambda: 1_700_000_000.0)  # both writers: one second
    for step, loss in ((1, 0.5), (2, 0.25)):
        writer = MetricWriter(tmp_path, tensorboard=True)
        writer.write_many([{"step": step, "loss": loss}])
        writer.close()
    assert len(list(tmp_path.glob("events.out.tfevents.*"))) == 2
    assert _tensorboard_scalars(tmp_path) == {("loss", 1): [0.5], ("loss", 2): [0.25]}
