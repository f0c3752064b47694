"""Google's robots.txt conformance cases, run through the HTTP client as a crawl uses them.

Origin: github.com/google/robotstxt, file ``robots_test.cc`` (Copyright 2019 Google LLC, Apache
License 2.0). The robots.txt bodies, user agents, URLs and expected verdicts below are transcribed
from its ``ID_*`` tests (and from the ``GoogleOnly_*`` tests where RFC 9309 agrees); no code is
copied. Where Google's test asserts something RFC 9309 leaves open or decides otherwise, the case
says so and follows the RFC (Google's library is the RFC authors' reference, the RFC is the
standard). Tests of Google's parse-callback API (directive counts) are transcribed as the verdicts
those directives produce.

Each case goes through ``monitor.http.Client``: the agent is the configured ``[http] user_agent``,
robots.txt is served by an ``httpx.MockTransport`` and the URL is fetched as a source would fetch
it (httpx percent-encodes it first). Allowed means the page was requested; disallowed means
``RobotsDisallowed`` and no request for the page.
"""

from __future__ import annotations

import httpx
import pytest

from monitor import config
from monitor.errors import RobotsDisallowed
from monitor.http import Client

PROFILE = {"host_interval": 0.0, "robots": True, "retries": 1}


def fetched(robotstxt: str | bytes, agent: str, url: str) -> bool:
    """Whether the client requests ``url`` for ``agent`` under ``robotstxt``."""
    body = robotstxt.encode("utf-8") if isinstance(robotstxt, str) else robotstxt
    asked: list[str] = []

    def serve(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/robots.txt":
            return httpx.Response(200, content=body)
        asked.append(str(request.url))
        return httpx.Response(200, content=b"page")

    settings = config.load(overrides={"http": {**PROFILE, "user_agent": agent}}).http
    with Client(settings, transport=httpx.MockTransport(serve), sleep=lambda seconds: None) as http:
        try:
            http.get(url)
        except RobotsDisallowed:
            assert asked == []
            return False
    assert len(asked) == 1
    return True


def cases(name: str, robotstxt: str | bytes, *verdicts: tuple[str, str, bool]) -> list[tuple]:
    return [(f"{name} {i}", robotstxt, agent, url, allowed) for i, (agent, url, allowed) in enumerate(verdicts)]


def foo(*urls: tuple[str, bool]) -> tuple[tuple[str, str, bool], ...]:
    return tuple(("FooBot", url, allowed) for url, allowed in urls)


FOO = "user-agent: FooBot\n"
B = "http://foo.bar"

GROUPS = ("allow: /foo/bar/\n\nuser-agent: FooBot\ndisallow: /\nallow: /x/\nuser-agent: BarBot\ndisallow: /\n"
          "allow: /y/\n\n\nallow: /w/\nuser-agent: BazBot\n\nuser-agent: FooBot\nallow: /z/\ndisallow: /\n")
UPPER, LOWER, CAMEL = ("USER-AGENT: FooBot\nALLOW: /x/\nDISALLOW: /\n", "user-agent: FooBot\nallow: /x/\ndisallow: /\n",
                       "uSeR-aGeNt: FooBot\nAlLoW: /x/\ndIsAlLoW: /\n")
AGENT_VALUES = ("User-Agent: FOO BAR\nAllow: /x/\nDisallow: /\n", "User-Agent: foo bar\nAllow: /x/\nDisallow: /\n",
                "User-Agent: FoO bAr\nAllow: /x/\nDisallow: /\n")
# Line endings (ID_LinesNumbersAreCountedCorrectly): every file has the same four directives.
LINES = {
    "unix": "User-Agent: foo\nAllow: /some/path\nUser-Agent: bar\n\n\nDisallow: /\n",
    "dos": "User-Agent: foo\r\nAllow: /some/path\r\nUser-Agent: bar\r\n\r\n\r\nDisallow: /\r\n",
    "mac": "User-Agent: foo\rAllow: /some/path\rUser-Agent: bar\r\r\rDisallow: /\r",
    "no final newline": "User-Agent: foo\nAllow: /some/path\nUser-Agent: bar\n\n\nDisallow: /",
    "mixed": "User-Agent: foo\nAllow: /some/path\r\nUser-Agent: bar\n\r\n\nDisallow: /",
}
# BOM (ID_UTF8ByteOrderMarkIsSkipped): Google counts the directives its parser saw in
# "User-Agent: foo / Allow: /AnyValue"; here the Allow is a Disallow so that whether it was seen
# shows in the verdict for /AnyValue.
BOM_RULES = b"User-Agent: foo\nDisallow: /AnyValue\n"
# GoogleOnly_LineTooLong: lines longer than 8 * 2083 bytes are cut by Google's parser.
MAX_LINE = 2083 * 8
LONG_DISALLOW = "/x/" + "a" * (MAX_LINE - len("/x/") - len("disallow: ") + 1 - 3)
LONG_A = "/x/" + "a" * (MAX_LINE - len("/x/") - len("allow: ") + 1 - 3)
LONG_B = "/x/" + "b" * (MAX_LINE - len("/x/") - len("allow: ") + 1 - 3)

CASES = [
    # ID_LineSyntax_Line. Google-specific but harmless (it only adds rules): a missing colon.
    *cases("line syntax correct", FOO + "disallow: /\n", *foo((B + "/x/y", False))),
    *cases("line syntax unknown names", "foo: FooBot\nbar: /\n", *foo((B + "/x/y", True))),
    *cases("line syntax no colon", "user-agent FooBot\ndisallow /\n", *foo((B + "/x/y", False))),
    # ID_LineSyntax_Groups: rules outside any group are ignored, groups for one agent merged.
    *cases("groups", GROUPS, ("FooBot", B + "/x/b", True), ("FooBot", B + "/z/d", True),
           ("FooBot", B + "/y/c", False), ("BarBot", B + "/y/c", True), ("BarBot", B + "/w/a", True),
           ("BarBot", B + "/z/d", False), ("BazBot", B + "/z/d", True), ("FooBot", B + "/foo/bar/", False),
           ("BarBot", B + "/foo/bar/", False), ("BazBot", B + "/foo/bar/", False)),
    # ID_LineSyntax_Groups_OtherRules: other records do not close a group (RFC 9309 2.2.4).
    *cases("other rules sitemap", "User-agent: BarBot\nSitemap: https://foo.bar/sitemap\nUser-agent: *\nDisallow: /\n",
           ("FooBot", B + "/", False), ("BarBot", B + "/", False)),
    *cases("other rules unknown", "User-agent: FooBot\nInvalid-Unknown-Line: unknown\nUser-agent: *\nDisallow: /\n",
           ("FooBot", B + "/", False), ("BarBot", B + "/", False)),
    # ID_REPLineNamesCaseInsensitive
    *[case for text, name in ((UPPER, "upper"), (LOWER, "lower"), (CAMEL, "camel"))
      for case in cases(f"line names {name}", text, *foo((B + "/x/y", True), (B + "/a/b", False)))],
    # ID_UserAgentValueCaseInsensitive. "FOO BAR" is not a product token; Google (and we) read the
    # value up to the first space (GoogleOnly_AcceptUserAgentUpToFirstSpace), which obeys more
    # groups than the RFC asks, never fewer.
    *[case for i, text in enumerate(AGENT_VALUES)
      for case in cases(f"agent value case {i}", text, ("Foo", B + "/x/y", True), ("Foo", B + "/a/b", False),
                        ("foo", B + "/x/y", True), ("foo", B + "/a/b", False))],
    # GoogleOnly_AcceptUserAgentUpToFirstSpace. Google's API takes a product token and refuses
    # "Foo Bar" (disallowed: it falls to the * group); ours takes the configured User-Agent header,
    # whose product token (RFC 9309 2.2.1, RFC 9110 10.1.5) is "Foo": the "Foo Bar" group applies.
    *cases("agent up to first space", "User-Agent: *\nDisallow: /\nUser-Agent: Foo Bar\nAllow: /x/\nDisallow: /\n",
           ("Foo", B + "/x/y", True), ("Foo Bar", B + "/x/y", True), ("Foo/1.0 (+https://foo.bar)", B + "/x/y", True)),
    # ID_GlobalGroups_Secondary
    *cases("global empty", "", *foo((B + "/x/y", True))),
    *cases("global star", "user-agent: *\nallow: /\nuser-agent: FooBot\ndisallow: /\n",
           ("FooBot", B + "/x/y", False), ("BarBot", B + "/x/y", True)),
    *cases("global only specific", "user-agent: FooBot\nallow: /\nuser-agent: BarBot\ndisallow: /\n"
           "user-agent: BazBot\ndisallow: /\n", ("QuxBot", B + "/x/y", True)),
    # ID_AllowDisallow_Value_CaseSensitive
    *cases("path case lower", FOO + "disallow: /x/\n", *foo((B + "/x/y", False))),
    *cases("path case upper", FOO + "disallow: /X/\n", *foo((B + "/x/y", True))),
    # ID_LongestMatch
    *cases("longest disallow", FOO + "disallow: /x/page.html\nallow: /x/\n", *foo((B + "/x/page.html", False))),
    *cases("longest allow", FOO + "allow: /x/page.html\ndisallow: /x/\n",
           *foo((B + "/x/page.html", True), (B + "/x/", False))),
    *cases("tie empty", FOO + "disallow: \nallow: \n", *foo((B + "/x/page.html", True))),
    *cases("tie root", FOO + "disallow: /\nallow: /\n", *foo((B + "/x/page.html", True))),
    *cases("prefix", FOO + "disallow: /x\nallow: /x/\n", *foo((B + "/x", False), (B + "/x/", True))),
    *cases("tie file", FOO + "disallow: /x/page.html\nallow: /x/page.html\n", *foo((B + "/x/page.html", True))),
    *cases("longer wildcard", FOO + "allow: /page\ndisallow: /*.html\n",
           *foo((B + "/page.html", False), (B + "/page", True))),
    *cases("allow dot", FOO + "allow: /x/page.\ndisallow: /*.html\n",
           *foo((B + "/x/page.html", True), (B + "/x/y.html", False))),
    *cases("specific group", "User-agent: *\nDisallow: /x/\nUser-agent: FooBot\nDisallow: /y/\n",
           *foo((B + "/x/page", True), (B + "/y/page", False))),
    # ID_Encoding
    *cases("encoding query with url",
           "User-agent: FooBot\nDisallow: /\nAllow: /foo/bar?qux=taz&baz=http://foo.bar?tar&par\n",
           *foo((B + "/foo/bar?qux=taz&baz=http://foo.bar?tar&par", True))),
    # Google: the raw URL /foo/bar/ツ is not matched (a caller must encode it). A crawler never asks
    # for it raw: httpx sends /foo/bar/%E3%83%84, which the rule allows.
    *cases("encoding 3-byte rule", "User-agent: FooBot\nDisallow: /\nAllow: /foo/bar/\u30c4\n",
           *foo((B + "/foo/bar/%E3%83%84", True), (B + "/foo/bar/\u30c4", True))),
    *cases("encoding 3-byte encoded rule", "User-agent: FooBot\nDisallow: /\nAllow: /foo/bar/%E3%83%84\n",
           *foo((B + "/foo/bar/%E3%83%84", True), (B + "/foo/bar/\u30c4", True))),
    # Google: /foo/bar/baz is disallowed ("it may work ... should not be relied on"). RFC 9309
    # 2.2.2 (Figure 4) decides otherwise: %62%61%7A are unreserved, so the path to match is
    # /foo/bar/baz, and the allow rule matches both spellings.
    *cases("encoding unreserved", "User-agent: FooBot\nDisallow: /\nAllow: /foo/bar/%62%61%7A\n",
           *foo((B + "/foo/bar/baz", True), (B + "/foo/bar/%62%61%7A", True))),
    # ID_SpecialCharacters
    *cases("special *", "User-agent: FooBot\nDisallow: /foo/bar/quz\nAllow: /foo/*/qux\n",
           *foo((B + "/foo/bar/quz", False), (B + "/foo/quz", True), (B + "/foo//quz", True),
                (B + "/foo/bax/quz", True))),
    *cases("special $", "User-agent: FooBot\nDisallow: /foo/bar$\nAllow: /foo/bar/qux\n",
           *foo((B + "/foo/bar", False), (B + "/foo/bar/qux", True), (B + "/foo/bar/", True),
                (B + "/foo/bar/baz", True))),
    *cases("special #", "User-agent: FooBot\n# Disallow: /\nDisallow: /foo/quz#qux\nAllow: /\n",
           *foo((B + "/foo/bar", True), (B + "/foo/quz", False))),
    # GoogleOnly_IndexHTMLisDirectory. RFC 9309 has no such rule: /allowed-slash/ matches only
    # "Disallow: /", so it is disallowed (Google: allowed). The other three agree.
    *cases("index.html", "User-Agent: *\nAllow: /allowed-slash/index.html\nDisallow: /\n",
           ("foobot", "http://foo.com/allowed-slash/", False),
           ("foobot", "http://foo.com/allowed-slash/index.htm", False),
           ("foobot", "http://foo.com/allowed-slash/index.html", True),
           ("foobot", "http://foo.com/anyother-url", False)),
    # GoogleOnly_LineTooLong. RFC 9309 sets no line length: a rule is matched whole, so the rules
    # Google cuts match here only what they say in full (the "cut" verdicts follow the RFC).
    *cases("long disallow", FOO + f"disallow: {LONG_DISALLOW}/qux\n",
           *foo((B + "/fux", True), (B + LONG_DISALLOW + "/fux", True), (B + LONG_DISALLOW + "/qux", False))),
    *cases("long allow", FOO + f"disallow: /\nallow: {LONG_A}/qux\nallow: {LONG_B}/qux\n",
           *foo((B + "/", False), (B + LONG_A + "/qux", True), (B + LONG_B + "/fux", False),
                (B + LONG_B + "/qux", True))),
    # GoogleOnly_DocumentationChecks: Google's documented examples, all plain RFC 9309 matching.
    *cases("doc /fish", FOO + "disallow: /\nallow: /fish\n",
           *foo((B + "/bar", False), (B + "/fish", True), (B + "/fish.html", True), (B + "/fish/salmon.html", True),
                (B + "/fishheads", True), (B + "/fishheads/yummy.html", True), (B + "/fish.html?id=anything", True),
                (B + "/Fish.asp", False), (B + "/catfish", False), (B + "/?id=fish", False))),
    *cases("doc /fish*", FOO + "disallow: /\nallow: /fish*\n",
           *foo((B + "/bar", False), (B + "/fish", True), (B + "/fish.html", True), (B + "/fish/salmon.html", True),
                (B + "/fishheads", True), (B + "/fishheads/yummy.html", True), (B + "/fish.html?id=anything", True),
                (B + "/Fish.bar", False), (B + "/catfish", False), (B + "/?id=fish", False))),
    *cases("doc /fish/", FOO + "disallow: /\nallow: /fish/\n",
           *foo((B + "/bar", False), (B + "/fish/", True), (B + "/fish/salmon", True), (B + "/fish/?salmon", True),
                (B + "/fish/salmon.html", True), (B + "/fish/?id=anything", True), (B + "/fish", False),
                (B + "/fish.html", False), (B + "/Fish/Salmon.html", False))),
    *cases("doc /*.php", FOO + "disallow: /\nallow: /*.php\n",
           *foo((B + "/bar", False), (B + "/filename.php", True), (B + "/folder/filename.php", True),
                (B + "/folder/filename.php?parameters", True), (B + "//folder/any.php.file.html", True),
                (B + "/filename.php/", True), (B + "/index?f=filename.php/", True), (B + "/php/", False),
                (B + "/index?php", False), (B + "/windows.PHP", False))),
    *cases("doc /*.php$", FOO + "disallow: /\nallow: /*.php$\n",
           *foo((B + "/bar", False), (B + "/filename.php", True), (B + "/folder/filename.php", True),
                (B + "/filename.php?parameters", False), (B + "/filename.php/", False), (B + "/filename.php5", False),
                (B + "/php/", False), (B + "/filename?php", False), (B + "/aaaphpaaa", False),
                (B + "//windows.PHP", False))),
    *cases("doc /fish*.php", FOO + "disallow: /\nallow: /fish*.php\n",
           *foo((B + "/bar", False), (B + "/fish.php", True), (B + "/fishheads/catfish.php?parameters", True),
                (B + "/Fish.PHP", False))),
    *cases("precedence /p", FOO + "allow: /p\ndisallow: /\n", *foo(("http://example.com/page", True))),
    *cases("precedence /folder", FOO + "allow: /folder\ndisallow: /folder\n",
           *foo(("http://example.com/folder/page", True))),
    *cases("precedence /*.htm", FOO + "allow: /page\ndisallow: /*.htm\n", *foo(("http://example.com/page.htm", False))),
    *cases("precedence /$", FOO + "allow: /$\ndisallow: /\n",
           *foo(("http://example.com/", True), ("http://example.com/page.html", False))),
    # ID_LinesNumbersAreCountedCorrectly: CR, LF and CRLF all end a line.
    *[case for name, text in LINES.items()
      for case in cases(f"line endings {name}", text, ("foo", B + "/some/path", True), ("foo", B + "/other", True),
                        ("bar", B + "/some/path", False))],
    # ID_UTF8ByteOrderMarkIsSkipped: a whole or cut BOM at the start is skipped; a broken one
    # makes the first line garbage (the rule then stands outside any group); one in mid-file
    # makes its line garbage.
    *cases("BOM full", b"\xef\xbb\xbf" + BOM_RULES, ("foo", B + "/AnyValue", False)),
    *cases("BOM partial 2", b"\xef\xbb" + BOM_RULES, ("foo", B + "/AnyValue", False)),
    *cases("BOM partial 1", b"\xef" + BOM_RULES, ("foo", B + "/AnyValue", False)),
    *cases("BOM broken", b"\xef\x11\xbf" + BOM_RULES, ("foo", B + "/AnyValue", True)),
    *cases("BOM mid-file", b"User-Agent: foo\n\xef\xbb\xbfDisallow: /AnyValue\n", ("foo", B + "/AnyValue", True)),
    # ID_NonStandardLineExample_Sitemap: a sitemap line anywhere leaves the groups as they are.
    *cases("sitemap after", LINES["unix"][:-len("Disallow: /\n")] + "Sitemap: http://foo.bar/sitemap.xml\n"
           "Disallow: /\n", ("foo", B + "/other", True), ("bar", B + "/x", False)),
    *cases("sitemap before", "Sitemap: http://foo.bar/sitemap.xml\n" + LINES["unix"],
           ("foo", B + "/other", True), ("bar", B + "/x", False)),
    # TestGetPathParamsQuery, for the absolute URLs a crawler fetches: the path to match is the
    # path, params and query, without the fragment. "Allow: <path>$" allows exactly that path.
    *[case for url, path in (("http://www.example.com", "/"), ("http://www.example.com/", "/"),
                             ("http://www.example.com/a", "/a"), ("http://www.example.com/a/", "/a/"),
                             ("http://www.example.com/a/b?c=http://d.e/", "/a/b?c=http://d.e/"),
                             ("http://www.example.com/a/b?c=d&e=f#fragment", "/a/b?c=d&e=f"),
                             ("http://www.example.com/a;b#c", "/a;b"))
      for case in cases(f"path of {url}", FOO + f"disallow: /\nallow: {path}$\n", *foo((url, True)))],
    # TestMaybeEscapePattern: a rule's non-ASCII octets are percent-encoded, its escapes compared
    # case-insensitively.
    *cases("escape non-ascii", FOO + "disallow: /\u00e1\n", *foo((B + "/%C3%A1", False), (B + "/a", True))),
    *cases("escape case", FOO + "disallow: /%aa\n", *foo((B + "/%AA", False), (B + "/%ab", True))),
]


@pytest.mark.parametrize("name, robotstxt, agent, url, allowed", CASES, ids=[case[0] for case in CASES])
def test_google_robots_case(name, robotstxt, agent, url, allowed):
    assert fetched(robotstxt, agent, url) is allowed
