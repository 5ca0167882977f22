"""flow.run_async(): the run starts at the call and the handle it returns
is awaited for the final status, watched (status()) and stopped (stop())
while the event loop runs other tasks; a cancelled await aborts the run
and rolls its outputs back."""
import asyncio

import pytest

import spate
from conftest import read_jsonl_dir


def endless(tmp_path=None):
    """A generator without end into a Trash, or into files when tmp_path
    is given (to see what a stopped or aborted run leaves)."""
    flow = spate.Flow("endless")
    src = flow.add_stage("Dev Data Generator")
    src.configuration["records"] = 10 ** 12
    if tmp_path is None:
        out = flow.add_stage("Trash")
    else:
        out = flow.add_stage("Local FS")
        out.configuration.update(dir=str(tmp_path / "out"),
                                 compression="none")
    src.connect_output_to(out)
    return flow, src, out


async def flowing(run, stage):
    while run.status()[stage].records_in == 0:
        await asyncio.sleep(0.005)


def test_handle_status_and_stop_from_the_loop(tmp_path):
    flow, src, out = endless(tmp_path)

    async def main():
        run = flow.run_async(workers=1)
        assert isinstance(run, spate.AsyncRun)
        assert run.status().state == "running"
        await flowing(run, out)
        run.stop()            # drain: what was read is written
        return run, await run

    run, st = asyncio.run(main())
    assert st.state == "stopped"
    assert st[out].records_in == st[src].records_out > 0
    assert run.status() is st and flow.status() is st
    got = read_jsonl_dir(tmp_path / "out")
    assert len(got) == st[out].records_in
    assert sorted(r["id"] for r in got) == list(range(1, len(got) + 1))


def test_cancelled_await_aborts_and_rolls_back(tmp_path):
    flow, src, out = endless(tmp_path)

    async def main():
        run = flow.run_async(workers=1)
        await flowing(run, out)
        task = asyncio.ensure_future(run)
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return run

    run = asyncio.run(main())
    st = run.status()
    assert st.state == "stopped" and st[out].records_in > 0
    # aborted, not drained: nothing of it is published
    assert read_jsonl_dir(tmp_path / "out") == []


def test_asyncio_run_create_task_and_gather(tmp_path):
    def small(n, lane):
        flow = spate.Flow(f"small_{lane}")
        src = flow.add_stage("Dev Data Generator")
        src.configuration["records"] = n
        out = flow.add_stage("Local FS")
        out.configuration.update(dir=str(tmp_path / lane),
                                 compression="none")
        src.connect_output_to(out)
        return flow

    # asyncio.run takes the handle itself
    st = asyncio.run(small(1000, "a").run_async())
    assert st.state == "finished" and st.records_in == 1000

    async def two():
        t = asyncio.create_task(small(3000, "b").run_async())
        return await asyncio.gather(small(2000, "c").run_async(), t)

    c, b = asyncio.run(two())
    assert (b.records_in, c.records_in) == (3000, 2000)
    for lane, n in (("a", 1000), ("b", 3000), ("c", 2000)):
        got = sorted(r["id"] for r in read_jsonl_dir(tmp_path / lane))
        assert got == list(range(1, n + 1)), lane


def test_validation_error_and_a_handle_waited_without_a_loop(tmp_path):
    flow = spate.Flow("fails")
    src = flow.add_stage("File Reader")
    src.configuration["path"] = str(tmp_path / "missing.jsonl")
    src.connect_output_to(flow.add_stage("Trash"))
    with pytest.raises(spate.ValidationError, match="missing.jsonl"):
        asyncio.run(flow.run_async())

    # a handle stopped and waited for without a loop: no coroutine left
    flow, src, out = endless()
    run = flow.run_async()
    run.stop()
    assert run.wait().state == "stopped"
