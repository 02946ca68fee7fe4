"""Reading an admin or config endpoint writes nothing: no class is made for a read, by a read-only master key, the
master key or a client; the first write still makes the class."""

from __future__ import annotations

from typing import Any

from tests.conftest import APP_ID, Api

READ_ONLY = "read-only-master"
READS = ("/hooks/functions", "/hooks/triggers", "/push_audiences", "/cloud_code/jobs", "/cloud_code/jobs/data",
         "/config")
MADE_ON_WRITE = ("_Hooks", "_Audience", "_JobSchedule", "_GlobalConfig")


async def _classes(api: Api) -> set[str]:
    """Which of MADE_ON_WRITE exist (the /schemas listing leaves Parse's internal classes out; each reads by name)."""
    made = set()
    for name in MADE_ON_WRITE:
        r = await api.get(f"/schemas/{name}", master=True)
        assert r.status_code in (200, 400), r.text
        if r.status_code == 200:
            made.add(name)
    return made


async def test_admin_and_config_reads_make_no_class(app_factory: Any) -> None:
    _, api = await app_factory(read_only_master_key=READ_ONLY)
    assert await _classes(api) == set()
    read_only = {"X-Parse-Application-Id": APP_ID, "X-Parse-Master-Key": READ_ONLY}
    for headers in (read_only, api.headers(master=True)):
        for path in READS:
            r = await api.get(path, headers=headers)
            assert r.status_code == 200, (path, r.text)
            assert r.json() in ([], {"results": []}, {"params": {}}, {"params": {}, "masterKeyOnly": {}},
                                {"in_use": [], "jobs": []}), (path, r.text)
    assert (await api.get("/config")).json() == {"params": {}}  # a client's read as well
    assert (await api.get("/push_audiences/nothere", master=True)).json()["code"] == 101
    assert await _classes(api) == set()
    # The first write makes its class, as before.
    r = await api.post("/push_audiences", {"name": "night shift", "query": {"deviceType": "ios"}}, master=True)
    assert r.status_code == 201, r.text
    r = await api.put("/config", {"params": {"clinicName": "North"}}, master=True)
    assert r.status_code == 200, r.text
    assert await _classes(api) == {"_Audience", "_GlobalConfig"}
    assert (await api.get("/config")).json()["params"] == {"clinicName": "North"}
