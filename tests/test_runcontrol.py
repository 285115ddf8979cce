"""kpi_archive.runcontrol: deadline, signals and the lock heartbeat, on a real event loop."""

from __future__ import annotations

import asyncio
import os
import signal
import threading

import pytest

from kpi_archive.runcontrol import StopControl, heartbeat


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_deadline_stops_new_pages_once_it_has_passed() -> None:
    clock = Clock()
    control = StopControl(7200, clock=clock)
    clock.now += 7199
    assert (control.stopping, control.deadline_reached) == (False, False)
    clock.now += 1
    assert (control.stopping, control.deadline_reached, control.signal_number) == (True, True, None)


def test_no_deadline_never_stops_by_itself() -> None:
    clock = Clock()
    control = StopControl(None, clock=clock)
    clock.now += 10**9
    assert control.stopping is False


@pytest.mark.parametrize("number", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_asks_to_stop_and_a_second_one_acts_as_usual(number: signal.Signals) -> None:
    async def main() -> StopControl:
        control = StopControl()
        with control.installed(asyncio.get_running_loop()):
            os.kill(os.getpid(), number)
            for _ in range(1000):
                if control.stopping:
                    break
                await asyncio.sleep(0.005)
            assert signal.getsignal(number) in (signal.SIG_DFL, signal.default_int_handler)
        return control

    control = asyncio.run(main())
    assert (control.stopping, control.signal_number, control.deadline_reached) == (
        True,
        number,
        False,
    )


def test_leaving_the_block_puts_the_default_handlers_back() -> None:
    async def main() -> None:
        with StopControl().installed(asyncio.get_running_loop()):
            assert signal.getsignal(signal.SIGTERM) not in (signal.SIG_DFL, None)

    asyncio.run(main())
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
    assert signal.getsignal(signal.SIGINT) == signal.default_int_handler


def test_the_heartbeat_beats_until_cancelled_and_survives_a_failed_beat(
    caplog: pytest.LogCaptureFixture,
) -> None:
    beats: list[int] = []

    async def beat() -> None:
        beats.append(len(beats))
        if len(beats) == 2:
            raise RuntimeError("database is locked")

    async def main() -> None:
        task = asyncio.create_task(heartbeat(beat, 0.001))
        while len(beats) < 4:
            await asyncio.sleep(0.001)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert beats[:4] == [0, 1, 2, 3]
    assert "could not update the crawl lock's heartbeat" in caplog.text


def test_a_lost_lock_stops_new_pages() -> None:
    control = StopControl()
    control.lock_lost()
    assert (control.stopping, control.lost_lock, control.signal_number) == (True, True, None)


def test_outside_the_main_thread_signals_are_left_alone() -> None:
    seen: list[bool] = []

    def worker() -> None:
        async def main() -> None:
            with StopControl().installed(asyncio.get_running_loop()) as control:
                seen.append(control.stopping)

        asyncio.run(main())

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert seen == [False]
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
