"""Property 7: ``X-Nvidia-Api-Key`` and ``X-Nvidia-Baseurl`` work in any letter case.

Checked on the request the fake server receives: ``Authorization: Bearer
<key>`` and the URL ``<base URL without trailing slashes>/v1/retrieval/nvidia/reranking``.
"""

from __future__ import annotations

import string

import httpx
from hypothesis import given, settings
from hypothesis import strategies as st

from reranker_nvidia import Client
from reranker_nvidia._gostd.context import HeaderSource
from tests.property._support import (
    PROPERTY,
    RERANKING_PATH,
    Recorder,
    json_response,
    letter_casings,
)

KEYS = st.text(alphabet=string.ascii_letters + string.digits + "-_.~+/=", min_size=8, max_size=60)
HOSTS = st.from_regex(r"[a-z][a-z0-9-]{0,10}(\.[a-z]{2,6}){1,2}", fullmatch=True)
PATHS = st.from_regex(r"(/[a-z0-9]{1,6}){0,3}", fullmatch=True)
NOISE = st.lists(
    st.tuples(
        st.sampled_from(["X-Nvidia-Api", "X-Nvidia-Base-Url", "Authorization", "X-Other-Key"]),
        st.text(alphabet=string.ascii_letters, min_size=1, max_size=8),
    ),
    max_size=3,
)


@st.composite
def header_sources(draw: st.DrawFn, key: str, base_url: str) -> HeaderSource:
    """The two headers under random letter casings, as a dict, a dict of lists or pairs."""
    key_name = draw(letter_casings("X-Nvidia-Api-Key"))
    url_name = draw(letter_casings("X-Nvidia-Baseurl"))
    noise = draw(NOISE)  # look-alike names that must not be read
    form = draw(st.sampled_from(["dict", "dict of lists", "pairs"]))
    if form == "dict":
        return {**dict(noise), key_name: key, url_name: base_url}
    if form == "dict of lists":
        return {**{n: [v] for n, v in noise}, key_name: [key], url_name: [base_url]}
    pairs = [*noise, (key_name, key), (url_name, base_url)]
    return draw(st.permutations(pairs))


# 300 examples: 2^16 and 2^16 casings of the two names, three container shapes,
# look-alike headers before or after; each example is one in-process request.
@settings(PROPERTY, max_examples=300)
@given(st.data(), KEYS, HOSTS, PATHS, st.integers(min_value=0, max_value=3))
def test_any_casing_gives_the_same_key_and_base_url(
    data: st.DataObject, key: str, host: str, path: str, trailing_slashes: int
) -> None:
    base_url = f"https://{host}{path}" + "/" * trailing_slashes
    headers = data.draw(header_sources(key, base_url))
    server = Recorder(lambda body: json_response(200, {"rankings": [{"index": 0, "logit": 2.0}]}))
    # The key read at start (NVIDIA_APIKEY) is different: the header must win.
    with Client("environment-key", transport=server.transport()) as client:
        result = client.rank("q", ["a"], headers=headers)
    assert [s.score for s in result.document_scores] == [2.0]
    (request,) = server.requests
    assert request.headers["authorization"] == f"Bearer {key}"
    assert request.url == httpx.URL(f"https://{host}{path}{RERANKING_PATH}")


# 100 examples: without the key header, the key given at start is the one sent,
# whatever casing the base-URL header has.
@settings(PROPERTY, max_examples=100)
@given(KEYS, letter_casings("X-Nvidia-Baseurl"), HOSTS)
def test_without_the_key_header_the_start_key_is_sent(key: str, url_name: str, host: str) -> None:
    server = Recorder(lambda body: json_response(200, {"rankings": [{"index": 0, "logit": 2.0}]}))
    with Client(key, transport=server.transport()) as client:
        client.rank("q", ["a"], headers=[(url_name, f"https://{host}")])
    (request,) = server.requests
    assert request.headers["authorization"] == f"Bearer {key}"
    assert request.url == httpx.URL(f"https://{host}{RERANKING_PATH}")
