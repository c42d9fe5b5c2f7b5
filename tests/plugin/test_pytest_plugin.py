"""The pytest plugin, as a downstream project gets it: separate test projects made by pytester.

The entry-point tests run pytest in a subprocess, so the plugin is found only through the
installed distribution's metadata; the others run pytester's in-process session (faster), which
loads the plugin the same way (pytest reads the ``pytest11`` entry points at every start).
"""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
from importlib.metadata import entry_points
from pathlib import Path

import pytest

# Imported here, before pytester's in-process runs, which forget the modules they import: a
# module imported afresh in each run would give each run its own classes.
import nim_emulator._pytest_support
import nim_emulator.testing  # noqa: F401
import reranker_nvidia  # noqa: F401

pytest_plugins = ["pytester"]

BODY = (
    '{"model": "nvidia/rerank-qa-mistral-4b", "query": {"text": "When does the library open?"}, '
    '"passages": [{"text": "Cafeteria 8-8."}, {"text": "Library opens 9."}]}'
)
AUTH = '{"Authorization": "Bearer test-key"}'
ROUTE = "/v1/retrieval/nvidia/reranking"


def emulator_threads() -> list[str]:
    names = ("reranker-nvidia-emulator", "nim-emulator transport")
    return [t.name for t in threading.enumerate() if t.name.startswith(names)]


def test_the_entry_point_is_registered_in_the_installed_metadata() -> None:
    found = [ep for ep in entry_points(group="pytest11") if ep.name == "nim_emulator"]
    assert [ep.value for ep in found] == ["nim_emulator.pytest_plugin"]


def test_a_separate_project_gets_the_fixtures_from_the_entry_point(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        test_downstream=f"""
        import httpx

        def test_both_fixtures(nim_emulator, nim_emulator_inprocess):
            served = httpx.post(nim_emulator.base_url + "{ROUTE}", json={BODY}, headers={AUTH})
            with httpx.Client(transport=nim_emulator_inprocess.transport) as client:
                inproc = client.post(
                    nim_emulator_inprocess.base_url + "{ROUTE}", json={BODY}, headers={AUTH}
                )
            assert served.status_code == inproc.status_code == 200
            assert served.json() == inproc.json()
            assert [r.path for r in nim_emulator.requests] == ["{ROUTE}"]
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--strict-markers")
    result.assert_outcomes(passed=1)
    # The fixtures come from the plugin of that name: blocking it takes them away.
    blocked = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:nim_emulator")
    blocked.assert_outcomes(errors=1)
    blocked.stdout.fnmatch_lines(["*fixture 'nim_emulator' not found*"])


def test_without_the_emulator_extra_pytest_runs_and_the_fixture_says_what_to_install(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = pytester.mkdir("no_extra")
    for name in ("starlette", "uvicorn", "yaml"):
        (blocker / name).mkdir()
        (blocker / name / "__init__.py").write_text(
            f'raise ModuleNotFoundError("No module named {name!r}", name={name!r})\n'
        )
    path = [str(blocker), *filter(None, [os.environ.get("PYTHONPATH")])]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(path))
    pytester.makepyfile(
        test_downstream="""
        import pytest

        def test_unrelated():
            assert 1 + 1 == 2

        @pytest.mark.nim_faults("status=503")
        def test_wants_the_emulator(nim_emulator):
            pass
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--strict-markers")
    result.assert_outcomes(passed=1, errors=1)
    assert (
        "the nim_emulator fixtures need the 'emulator' extra: "
        "pip install 'reranker-nvidia[emulator]' (No module named 'starlette')\n"
    ) in result.stdout.str()
    assert "Traceback" not in result.stdout.str()


def test_nim_emulator_logs_requests_and_takes_faults_and_resets(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        f"""
        import httpx

        def test_it(nim_emulator):
            assert nim_emulator.base_url.startswith("http://127.0.0.1:")
            url = nim_emulator.base_url + "{ROUTE}"
            nim_emulator.fault("status=429, count=1")
            nim_emulator.faults("status=503,count=1", "latency=1,count=1")
            codes = [httpx.post(url, json={BODY}, headers={AUTH}).status_code for _ in range(3)]
            assert codes == [429, 503, 200]
            records = nim_emulator.requests
            assert [r.status for r in records] == codes
            assert records[0].faults == ["latency=1,count=1", "status=429,count=1"]
            assert records[1].faults == ["status=503,count=1"]
            assert records[0].headers["authorization"] == "Bearer <redacted>"
            assert records[2].json["query"] == {{"text": "When does the library open?"}}
            nim_emulator.fault("drop")
            nim_emulator.reset()
            assert nim_emulator.requests == [] and nim_emulator.armed == []
            assert httpx.post(url, json={BODY}, headers={AUTH}).status_code == 200
        """
    )
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_a_bad_fault_spec_on_the_handle_raises_the_emulators_error(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        import pytest
        from nim_emulator import FaultSpecError

        def test_it(nim_emulator):
            with pytest.raises(FaultSpecError, match="unknown key 'colour'"):
                nim_emulator.faults("status=503", "colour=red")
            assert nim_emulator.armed == []  # a bad spec arms none of them
        """
    )
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_nothing_listens_after_the_test(pytester: pytest.Pytester) -> None:
    where = pytester.path / "served.json"
    pytester.makepyfile(
        f"""
        import json
        import httpx

        def test_it(nim_emulator, nim_cassette):
            replay = nim_cassette("error-429-too-many-requests", allow_unused=True)
            urls = [nim_emulator.base_url, replay.base_url]
            with open({str(where)!r}, "w") as out:
                json.dump(urls, out)
            assert httpx.get(urls[0] + "/v1/health/ready").status_code == 200
            assert httpx.get(urls[1] + "/_emulator/replay/unused").status_code == 200
        """
    )
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)
    urls = json.loads(where.read_text())
    assert len(urls) == 2
    for url in urls:
        host, port = url.removeprefix("http://").rsplit(":", 1)
        with pytest.raises(ConnectionRefusedError), socket.create_connection((host, int(port)), 1):
            pass
    assert emulator_threads() == []


def test_the_in_process_variant_serves_httpx_sync_async_and_the_port(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        f"""
        import asyncio
        import socket

        import httpx
        from reranker_nvidia import AsyncClient, ClassBasedModuleConfig, Client

        def test_httpx(nim_emulator_inprocess):
            nim = nim_emulator_inprocess
            with httpx.Client(transport=nim.transport, base_url=nim.base_url) as client:
                sync = client.post("{ROUTE}", json={BODY}, headers={AUTH})

            async def main():
                async with httpx.AsyncClient(
                    transport=nim.async_transport, base_url=nim.base_url
                ) as client:
                    answer = await client.post("{ROUTE}", json={BODY}, headers={AUTH})
                    # The sync transport needs no loop of its caller, even inside one.
                    with httpx.Client(transport=nim.transport) as inner:
                        inner.get(nim.base_url + "/v1/health/ready")
                    return answer

            asynchronous = asyncio.run(main())
            assert sync.status_code == asynchronous.status_code == 200
            assert sync.json() == asynchronous.json()
            assert [r.method for r in nim.requests] == ["POST", "POST", "GET"]
            assert [r.tcp_nodelay for r in nim.requests] == [None, None, None]  # no socket

        def test_the_port(nim_emulator_inprocess):
            nim = nim_emulator_inprocess
            cfg = ClassBasedModuleConfig.for_settings({{"baseURL": nim.base_url}})
            with Client("test-key", transport=nim.transport) as client:
                scores = client.rank("library", ["Cafeteria 8-8.", "Library opens 9."], cfg)
            assert len(scores.document_scores) == 2

            async def main():
                async with AsyncClient("test-key", transport=nim.async_transport) as client:
                    return await client.rank("library", ["Library opens 9."], cfg)

            assert len(asyncio.run(main()).document_scores) == 1
            assert [r.auth for r in nim.requests] == ["accepted", "accepted"]
        """
    )
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=2)


def test_the_faults_marker_arms_faults_before_the_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        f"""
        import httpx
        import pytest

        @pytest.mark.nim_faults("status=503,count=1")
        def test_served(nim_emulator):
            url = nim_emulator.base_url + "{ROUTE}"
            codes = [httpx.post(url, json={BODY}, headers={AUTH}).status_code for _ in range(2)]
            assert codes == [503, 200]

        @pytest.mark.nim_faults("status=500,count=1")
        class TestOrder:
            @pytest.mark.nim_faults("status=429,count=1", "drop,count=1")
            def test_outer_markers_first(self, nim_emulator_inprocess):
                assert [f.spec.to_spec() for f in nim_emulator_inprocess.armed] == [
                    "status=500,count=1", "status=429,count=1", "drop=close,count=1"
                ]
                with httpx.Client(transport=nim_emulator_inprocess.transport) as client:
                    url = nim_emulator_inprocess.base_url + "{ROUTE}"
                    assert client.post(url, json={BODY}, headers={AUTH}).status_code == 500
                    assert client.post(url, json={BODY}, headers={AUTH}).status_code == 429
                    with pytest.raises(httpx.RemoteProtocolError):
                        client.post(url, json={BODY}, headers={AUTH})
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "--strict-markers")
    result.assert_outcomes(passed=2)


def test_a_faults_marker_that_cannot_take_effect_is_a_readable_error(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.nim_faults("colour=red")
        def test_bad_spec(nim_emulator):
            pass

        @pytest.mark.nim_faults("status=503")
        def test_no_emulator():
            pass
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(
        [
            "*@pytest.mark.nim_faults: unknown key 'colour' in fault spec 'colour=red'*",
            "*@pytest.mark.nim_faults needs one of the fixtures nim_emulator, "
            "nim_emulator_inprocess, nim_cassette*",
        ]
    )


def test_nim_cassette_replays_ours_by_name_and_the_projects_own_file(
    pytester: pytest.Pytester,
) -> None:
    mine = {
        "version": 1,
        "interactions": [
            {
                "request": {"method": "GET", "uri": "http://nim/v1/models", "body": None},
                "response": {
                    "status": {"code": 200, "message": "OK"},
                    "headers": {"Content-Type": ["application/json"]},
                    "body": {"string": '{"data": [{"id": "my/model"}]}'},
                },
            }
        ],
    }
    (pytester.path / "cassettes").mkdir()
    (pytester.path / "cassettes" / "models.yaml").write_text(json.dumps(mine))
    (pytester.path / "elsewhere.yml").write_text(json.dumps(mine))
    pytester.makepyfile(
        f"""
        import httpx
        import pytest

        def test_ours(nim_cassette):
            nim = nim_cassette("error-429-too-many-requests")
            body = {{
                "model": "nvidia/rerank-qa-mistral-4b",
                "query": {{"text": "What are the library hours?"}},
                "passages": [{{"text": "Cafeteria 8-8."}}, {{"text": "Library 9-10."}}],
            }}
            answer = httpx.post(nim.base_url + "{ROUTE}", json=body, headers={AUTH})
            assert answer.status_code == 429
            assert answer.json() == {{"status": 429, "title": "Too Many Requests"}}
            assert nim.requests[0].interaction == 0

        @pytest.mark.parametrize("name", ["models", "cassettes/models.yaml", "elsewhere.yml"])
        def test_mine(nim_cassette, name):
            nim = nim_cassette(name)
            with httpx.Client(transport=nim.transport) as client:  # in-process, same state
                assert client.get(nim.base_url + "/v1/models").json()["data"][0]["id"] == "my/model"
        """
    )
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=4)


def test_a_request_the_cassette_lacks_fails_the_test_with_a_readable_message(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        import httpx

        def test_swallows_the_answer(nim_cassette):
            nim = nim_cassette("error-429-too-many-requests", allow_unused=True)
            answer = httpx.post(nim.base_url + "/v1/ranking", json={"query": "other"})
            assert answer.status_code == 599  # the code under test might not even look
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*nim_cassette: a request the cassette */error-429-too-many-requests.yaml does not "
            'hold: POST /v1/ranking with body \'{"query":"other"}\': path, body differ(s) from '
            "the next unserved interaction (#0)*; the next unserved interaction is #0 POST "
            "/v1/retrieval/nvidia/reranking with body*",
        ]
    )
    assert "Traceback" not in result.stdout.str()


def test_unused_interactions_fail_the_test_unless_allowed_then_are_reported(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        def test_strict(nim_cassette):
            nim_cassette("error-429-too-many-requests")

        def test_allowed(nim_cassette):
            nim_cassette("error-429-too-many-requests", allow_unused=True)
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "-rA")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*nim_cassette: 1 of 1 interaction(s) of */error-429-too-many-requests.yaml not used:",
            "  #0 POST /v1/retrieval/nvidia/reranking with body*What are the library hours*",
        ]
    )
    # Reported for the allowed test too, in its own section.
    result.stdout.fnmatch_lines(["*Captured nim_cassette call*", "*1 of 1 interaction(s)*"])


def test_an_unknown_cassette_name_lists_ours(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        def test_it(nim_cassette):
            nim_cassette("no-such-cassette")
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*nim_cassette: no cassette named 'no-such-cassette' in *error-429-too-many-requests*"]
    )


def test_the_options_and_an_overridden_config(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        f"""
        import time
        import httpx

        def test_options(nim_emulator, nim_emulator_config):
            assert (nim_emulator_config.latency_ms, nim_emulator_config.api_key) == (80, "sekret")
            url = nim_emulator.base_url + "{ROUTE}"
            started = time.perf_counter()
            wrong = httpx.post(url, json={BODY}, headers={{"Authorization": "Bearer other"}})
            assert time.perf_counter() - started >= 0.08
            assert wrong.status_code == 403
            right = httpx.post(url, json={BODY}, headers={{"Authorization": "Bearer sekret"}})
            assert right.status_code == 200
        """
    )
    result = pytester.runpytest(
        "-p", "no:cacheprovider", "--nim-latency-ms", "80", "--nim-api-key", "sekret"
    )
    result.assert_outcomes(passed=1)

    pytester.makeconftest(
        """
        import pytest
        from nim_emulator import EmulatorConfig, FaultSpec

        @pytest.fixture
        def nim_emulator_config():
            return EmulatorConfig(faults=[FaultSpec.parse("status=402,count=1")])
        """
    )
    pytester.makepyfile(
        f"""
        import httpx

        def test_options(nim_emulator_inprocess):
            with httpx.Client(transport=nim_emulator_inprocess.transport) as client:
                url = nim_emulator_inprocess.base_url + "{ROUTE}"
                assert client.post(url, json={BODY}, headers={AUTH}).status_code == 402
        """
    )
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_a_server_per_test_leaves_nothing_behind(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.parametrize("n", range(20))
        def test_it(nim_emulator, n):
            assert nim_emulator.requests == []
        """
    )
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=20)
    assert emulator_threads() == []


def test_the_plugin_module_imports_no_emulator_dependency(pytester: pytest.Pytester) -> None:
    probe = (
        "import sys, nim_emulator.pytest_plugin; "
        "print(sorted(m.split('.')[0] for m in sys.modules "
        "if m.split('.')[0] in ('starlette', 'uvicorn', 'yaml', 'httpx', 'reranker_nvidia')))"
    )
    result = pytester.run(sys.executable, "-c", probe)
    assert result.ret == 0
    assert result.outlines == ["[]"]


def test_an_installed_wheel_finds_our_cassettes_inside_the_runner(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from types import SimpleNamespace

    from nim_emulator import _pytest_support as support

    site = tmp_path / "site-packages"
    (site / "reranker_contracts" / "_suite" / "cassettes").mkdir(parents=True)
    (site / "nim_emulator").mkdir()
    monkeypatch.setattr(support, "__file__", str(site / "nim_emulator" / "_pytest_support.py"))
    spec = SimpleNamespace(submodule_search_locations=[str(site / "reranker_contracts")])
    monkeypatch.setattr(support.importlib.util, "find_spec", lambda name: spec)
    assert support.bundled_cassette_dirs() == [site / "reranker_contracts" / "_suite" / "cassettes"]
    # In this checkout: the top-level cassettes/ first.
    monkeypatch.undo()
    found = support.bundled_cassette_dirs()
    assert found[0] == Path(__file__).resolve().parents[2] / "cassettes"
