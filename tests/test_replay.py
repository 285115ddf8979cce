"""The replay server: a recorded site over real HTTP on 127.0.0.1."""

from __future__ import annotations

import http.client
import json
import os
import socket
import threading
import time
from pathlib import Path

import httpx
import pytest

from kpi_archive.errors import ConfigError
from kpi_archive.replay import FAULT_HELP, Fault, ReplayServer, parse_fault
from kpi_archive.replay import RECORDED_SITE as SITE

HOST = "dp.bangkok.go.th"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    files = {
        f"{HOST}/mobile/mykpi.php?pid=0411-2029": "<p>kpi</p>",
        f"{HOST}/robots.txt": "User-agent: *\nDisallow: /private/\n",
        f"{HOST}/index.html": "home",
        "monitor.bangkok.go.th/mobile/index11.php?selDEP=23000000&selYear=2564": "report",
        f"{HOST}/mobile/tis.php": "ทดสอบ".encode("tis-620"),
    }
    for name, body in files.items():
        path = tmp_path / "site" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body if isinstance(body, bytes) else body.encode())
    sidecar = {"status": 200, "headers": {"Content-Type": "text/html; charset=tis-620"}}
    (tmp_path / "site" / HOST / "mobile" / "tis.php.headers").write_text(json.dumps(sidecar))
    os.utime(tmp_path / "site" / HOST / "index.html", (1_600_000_000, 1_600_000_000))
    return tmp_path / "site"


def get(url: str, **headers: str) -> httpx.Response:
    return httpx.get(url, headers=headers, trust_env=False)


def test_the_first_path_segment_names_the_host(root: Path) -> None:
    with ReplayServer(root) as server:
        response = get(f"{server.url}/{HOST}/mobile/mykpi.php?pid=0411-2029")
        assert (response.status_code, response.text) == (200, "<p>kpi</p>")
        assert response.headers["content-type"] == "text/html"
        assert server.hits()[0].host == HOST
        assert server.hits()[0].target == "/mobile/mykpi.php?pid=0411-2029"


def test_the_host_header_names_the_host_when_there_is_no_prefix(root: Path) -> None:
    with ReplayServer(root) as server:
        response = get(f"{server.url}/mobile/mykpi.php?pid=0411-2029", Host=HOST)
        assert response.text == "<p>kpi</p>"


def test_query_strings_are_part_of_the_file_name(root: Path) -> None:
    with ReplayServer(root) as server:
        url = f"{server.url}/monitor.bangkok.go.th/mobile/index11.php?selDEP=23000000&selYear=2564"
        assert get(url).text == "report"
        assert get(url.replace("2564", "2565")).status_code == 404


def test_a_directory_path_serves_index_html(root: Path) -> None:
    with ReplayServer(root) as server:
        assert get(f"{server.url}/{HOST}/").text == "home"


def test_sidecar_sets_the_charset_and_bytes_are_served_untouched(root: Path) -> None:
    with ReplayServer(root) as server:
        response = get(f"{server.url}/{HOST}/mobile/tis.php")
        assert response.headers["content-type"] == "text/html; charset=tis-620"
        assert response.content == "ทดสอบ".encode("tis-620")


def test_sidecars_and_traversal_are_never_served(root: Path) -> None:
    with ReplayServer(root) as server:
        assert get(f"{server.url}/{HOST}/mobile/tis.php.headers").status_code == 404
        # httpx would normalise the "..", so send the raw path with http.client.
        connection = http.client.HTTPConnection("127.0.0.1", server.port)
        connection.request("GET", f"/{HOST}/mobile/../../{HOST}/index.html")
        assert connection.getresponse().status == 404
        connection.close()


def test_etag_and_last_modified_answer_304(root: Path) -> None:
    with ReplayServer(root) as server:
        first = get(f"{server.url}/{HOST}/")
        assert first.headers["last-modified"] == "Sun, 13 Sep 2020 12:26:40 GMT"
        etag = first.headers["etag"]
        assert get(f"{server.url}/{HOST}/", **{"If-None-Match": etag}).status_code == 304
        since = {"If-Modified-Since": "Sun, 13 Sep 2020 12:26:40 GMT"}
        assert get(f"{server.url}/{HOST}/", **since).status_code == 304
        older = {"If-Modified-Since": "Sat, 12 Sep 2020 00:00:00 GMT"}
        assert get(f"{server.url}/{HOST}/", **older).status_code == 200


def test_robots_txt_is_served_per_host_as_text(root: Path) -> None:
    with ReplayServer(root) as server:
        response = get(f"{server.url}/{HOST}/robots.txt")
        assert response.headers["content-type"] == "text/plain; charset=utf-8"
        assert "Disallow: /private/" in response.text
        assert get(f"{server.url}/monitor.bangkok.go.th/robots.txt").status_code == 404


def test_an_overlay_wins_over_the_root(root: Path, tmp_path: Path) -> None:
    later = tmp_path / "later" / HOST / "mobile"
    later.mkdir(parents=True)
    (later / "mykpi.php?pid=0411-2029").write_text("<p>kpi, later</p>")
    with ReplayServer(root, overlays=[tmp_path / "later"]) as server:
        assert (
            get(f"{server.url}/{HOST}/mobile/mykpi.php?pid=0411-2029").text == "<p>kpi, later</p>"
        )
        assert get(f"{server.url}/{HOST}/").text == "home"


def test_fault_specs_parse_into_faults() -> None:
    assert parse_fault("status=503:times=2:path=/mobile/mykpi.php") == Fault(
        status=503, times=2, path="/mobile/mykpi.php"
    )
    assert parse_fault("retry-after=3") == Fault(status=503, retry_after="3")
    assert parse_fault("drip=64/50:host=dp.bangkok.go.th") == Fault(
        drip=(64, 0.05), host="dp.bangkok.go.th"
    )
    assert parse_fault("reset") == Fault(reset=True)
    assert parse_fault("truncate=100:latency=200") == Fault(truncate=100, latency=0.2)
    assert parse_fault("location=http://x.test/a") == Fault(status=302, location="http://x.test/a")
    with pytest.raises(ConfigError, match="unknown key 'explode'"):
        parse_fault("explode=1")
    with pytest.raises(ConfigError, match="bad value for status"):
        parse_fault("status=often")


def test_a_fault_applies_only_the_given_number_of_times(root: Path) -> None:
    fault = parse_fault("status=503:retry-after=7:times=2:path=/mobile/")
    with ReplayServer(root, faults=[fault]) as server:
        url = f"{server.url}/{HOST}/mobile/mykpi.php?pid=0411-2029"
        first = get(url)
        assert (first.status_code, first.headers["retry-after"]) == (503, "7")
        assert get(f"{server.url}/{HOST}/").status_code == 200
        assert [get(url).status_code, get(url).status_code] == [503, 200]


def test_concurrent_connections_are_served_in_parallel(root: Path) -> None:
    with ReplayServer(root, latency=0.3) as server:
        urls = [f"{server.url}/{HOST}/", f"{server.url}/monitor.bangkok.go.th/x"]
        threads = [threading.Thread(target=get, args=(u,)) for u in urls]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        first, second = server.hits()
        assert second.start < first.end  # the second was served while the first slept
        assert server.peak_in_flight(HOST) == 1


def test_the_log_records_gaps_between_requests_per_host(root: Path) -> None:
    with ReplayServer(root) as server:
        get(f"{server.url}/{HOST}/")
        time.sleep(0.1)
        get(f"{server.url}/{HOST}/robots.txt")
        [gap] = server.gaps(HOST)
        assert gap >= 0.1


@pytest.mark.skipif(not SITE.is_dir(), reason="recorded site not built")
def test_the_recorded_site_serves_every_host_it_records() -> None:
    with ReplayServer(SITE) as server:
        assert server.hosts() == sorted(p.name for p in SITE.iterdir() if p.is_dir())
        for host in server.hosts():
            assert get(f"{server.base(host)}/robots.txt").status_code == 200


def raw_get(port: int, target: str, host: str = "127.0.0.1") -> bytes:
    """One request sent byte for byte (no client normalises its path), the whole answer read."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.parametrize(
    ("target", "host"),
    [
        ("/../secret.txt", "127.0.0.1"),
        ("/./../secret.txt", "127.0.0.1"),
        (f"/{HOST}/../../secret.txt", "127.0.0.1"),
        ("/secret.txt", ".."),
        ("/../secret.txt", HOST),
        (f"/{HOST}/mobile/mykpi.php?x=/../../../secret.txt", "127.0.0.1"),
        (f"/{HOST}/outside.txt", "127.0.0.1"),
    ],
)
def test_nothing_outside_the_served_directory_is_served(root: Path, target: str, host: str) -> None:
    (root.parent / "secret.txt").write_text("the secret")
    (root / HOST / "outside.txt").symlink_to(root.parent / "secret.txt")
    with ReplayServer(root) as server:
        answer = raw_get(server.port, target, host)
    assert answer.startswith(b"HTTP/1.1 404 ")
    assert b"the secret" not in answer


def test_a_cut_body_is_close_delimited_with_no_content_length(root: Path) -> None:
    page = root / HOST / "mobile" / "long.php"
    page.write_bytes(b"0123456789" * 10)
    with ReplayServer(root, faults=[parse_fault("cut=55:times=1")]) as server:
        answer = raw_get(server.port, f"/{HOST}/mobile/long.php")
        assert get(f"{server.url}/{HOST}/mobile/long.php").headers["content-length"] == "100"
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ")
    assert b"content-length" not in head.lower()
    assert b"Connection: close" in head
    assert body == (b"0123456789" * 10)[:55]


@pytest.mark.parametrize(
    ("kind", "tail"),
    [
        ("php", "mykpi.php</b> on line <b>412</b><br />\n"),
        ("mysql", "Error: 2006 MySQL server has gone away\n"),
    ],
)
def test_an_error_text_follows_the_cut(root: Path, kind: str, tail: str) -> None:
    page = root / HOST / "mobile" / "long.php"
    page.write_bytes(b"<html><body>" + b"x" * 88)
    with ReplayServer(root, faults=[parse_fault(f"cut=60:append={kind}")]) as server:
        response = get(f"{server.url}/{HOST}/mobile/long.php")
    assert response.status_code == 200
    assert response.content.startswith(b"<html><body>" + b"x" * 48 + b"\n<br />\n")
    assert response.text.endswith(tail)
    assert ("PHP Fatal error" in response.text) is (kind == "php")


def test_a_same_host_redirect_points_at_another_page(root: Path) -> None:
    fault = parse_fault("redirect=/mobile/tis.php:path=/mobile/mykpi.php")
    with ReplayServer(root, faults=[fault]) as server:
        response = get(f"{server.url}/{HOST}/mobile/mykpi.php?pid=0411-2029")
        assert (response.status_code, response.headers["location"]) == (302, "/mobile/tis.php")
        assert get(f"{server.url}/{HOST}/").status_code == 200


@pytest.mark.parametrize(
    ("kind", "before"),
    [
        ("comment", b"<p>kpi</p><!-- generated 20"),
        ("script", b'<p>kpi</p><script>var serverTime = "20'),
        ("visible", "<p>kpi</p><p>ข้อมูล ณ 20".encode()),
    ],
)
def test_a_stamped_page_is_new_on_every_response(root: Path, kind: str, before: bytes) -> None:
    page = root / HOST / "mobile" / "mykpi.php?pid=0411-2029"
    page.write_text("<html><body><p>kpi</p></body></html>")
    with ReplayServer(root, faults=[parse_fault(f"stamp={kind}")]) as server:
        url = f"{server.url}/{HOST}/mobile/mykpi.php?pid=0411-2029"
        first, second = get(url), get(url)
        again = get(url, **{"If-None-Match": first.headers["etag"]})
        since = get(url, **{"If-Modified-Since": "Fri, 01 Jan 2100 00:00:00 GMT"})
    assert first.content.startswith(b"<html><body>" + before)
    assert first.content.endswith(b"</body></html>")
    assert first.content != second.content
    assert first.headers["etag"] != second.headers["etag"]
    assert (again.status_code, since.status_code) == (200, 200)
    assert "last-modified" not in first.headers


@pytest.mark.parametrize(
    ("spec", "body"),
    [
        ("empty", b""),
        (
            "nodata",
            '<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>KPI</title></head>'
            "<body><p>ไม่พบข้อมูล</p></body></html>\n".encode(),
        ),
    ],
)
def test_an_empty_or_no_data_page_is_a_200(root: Path, spec: str, body: bytes) -> None:
    with ReplayServer(root, faults=[parse_fault(spec)]) as server:
        response = get(f"{server.url}/{HOST}/mobile/mykpi.php?pid=0411-2029")
    assert (response.status_code, response.content) == (200, body)
    assert response.headers["content-type"] == "text/html; charset=utf-8"


def test_disallow_all_rewrites_only_robots_txt(root: Path) -> None:
    with ReplayServer(root, faults=[parse_fault("disallow-all:times=1")]) as server:
        assert get(f"{server.url}/{HOST}/").text == "home"
        assert get(f"{server.url}/{HOST}/robots.txt").text == "User-agent: *\nDisallow: /\n"
        assert get(f"{server.url}/{HOST}/robots.txt").text == "User-agent: *\nDisallow: /private/\n"


def test_new_fault_keys_parse_and_bad_values_are_refused() -> None:
    assert parse_fault("cut=55:append=php") == Fault(cut=55.0, append="php")
    assert parse_fault("redirect=/mobile/mykpi.php?pid=0900-0981") == Fault(
        status=302, location="/mobile/mykpi.php?pid=0900-0981"
    )
    assert parse_fault("stamp=script") == Fault(stamp="script")
    assert parse_fault("empty") == Fault(body=b"")
    assert parse_fault("disallow-all") == Fault(
        disallow_all=True, body=b"User-agent: *\nDisallow: /\n"
    )
    for spec in ("cut=120", "append=perl", "stamp=header", "redirect=http://x.test/"):
        with pytest.raises(ConfigError, match="bad value"):
            parse_fault(spec)


def test_every_fault_key_is_in_the_help_and_the_readme() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    lines = [line for line in FAULT_HELP.splitlines()[2:] if line.startswith("  ")]
    keys = [line.split()[0].split("=")[0] for line in lines]
    assert keys == [
        "status", "retry-after", "reset", "truncate", "cut", "append", "redirect", "location",
        "stamp", "empty", "nodata", "disallow-all", "drip", "latency", "times", "path", "host",
    ]  # fmt: skip
    for key in keys:
        assert f"`{key}" in readme, key


@pytest.mark.parametrize("spec", ["cut=50", "append=php", "stamp=comment", "empty", "nodata"])
def test_page_faults_leave_robots_txt_alone_unless_asked(root: Path, spec: str) -> None:
    robots = "User-agent: *\nDisallow: /private/\n"
    with ReplayServer(root, faults=[parse_fault(spec)]) as server:
        assert get(f"{server.url}/{HOST}/robots.txt").text == robots
        assert get(f"{server.url}/{HOST}/").text != "home"
    with ReplayServer(root, faults=[parse_fault(f"{spec}:path=/robots.txt")]) as server:
        assert get(f"{server.url}/{HOST}/robots.txt").text != robots
