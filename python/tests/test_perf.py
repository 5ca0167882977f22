"""One million generated records through a Python destination stage: all
arrive, once each, and the rate is printed (`-s` shows it; the README's
Python section quotes it with the command)."""
import time

import spate


class CountIds(spate.Stage):
    last = None

    def __init__(self, ctx):
        super().__init__(ctx)
        self.n = 0
        self.id_sum = 0
        CountIds.last = self

    @classmethod
    def create(cls, config_dict, metadata_config_dict, ctx):
        return cls(ctx)

    def stage_record(self, record):
        self.n += 1
        self.id_sum += record["id"]

    def get_status(self):
        st = spate.StageStatus()
        st.records = self.n
        return st

    def close(self):
        pass


def test_million_records_through_a_python_stage():
    n = 1_000_000
    flow = spate.Flow("million")
    src = flow.add_stage("Dev Data Generator")
    src.configuration["records"] = n
    out = flow.add_stage(CountIds)
    src.connect_output_to(out)
    t0 = time.perf_counter()
    st = flow.run()
    secs = time.perf_counter() - t0
    assert st.state == "finished"
    assert st[out].records_in == n and st[out].errors == 0
    assert CountIds.last.n == n
    assert CountIds.last.id_sum == n * (n + 1) // 2
    assert st[out].stage_status.records == n
    print(f"\npython stage: {n} records in {secs:.2f} s = "
          f"{n / secs:,.0f} records/s (default generator fields)")
