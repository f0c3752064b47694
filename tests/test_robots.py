"""robots.txt per RFC 9309 (monitor.robots): every example of the RFC, a table of cases in the
style of Google's robotstxt test suite (robots_test.cc), and where protego alone deviates.

Each case: (robots.txt, the crawler's User-Agent, URL, allowed?). The URLs are as httpx gives
them to the client: absolute and percent-encoded.
"""

from __future__ import annotations

import httpx
import pytest
from protego import Protego

from monitor import config, robots
from monitor.errors import Deferred, RobotsDisallowed
from monitor.http import Client, MemoryCache

UA = "mkb-monitor/0.1 (+https://github.com/mkb-monitor/mkb-monitor; news monitor)"
CAP = 512_000


def allowed(body: str | bytes, agent: str, url: str, max_bytes: int = CAP) -> bool:
    data = body.encode("utf-8") if isinstance(body, str) else body
    return robots.parse(data, agent, max_bytes).allows(url)


# --- RFC 9309, its examples in the order the RFC gives them --------------------------------------

RFC_5_1 = """User-Agent: *
Disallow: *.gif$
Disallow: /example/
Allow: /publications/

User-Agent: foobot
Disallow:/
Allow:/example/page.html
Allow:/example/allowed.gif

User-Agent: barbot
User-Agent: bazbot
Disallow: /example/page.html

User-Agent: quxbot
"""

RFC_MERGED = """user-agent: ExampleBot
disallow: /foo
disallow: /bar

user-agent: ExampleBot
disallow: /baz
"""

RFC_STAR = """user-agent: *
disallow: /foo
disallow: /bar

user-agent: BazBot
disallow: /baz
"""

RFC_CASES = [
    # 2.2.1: groups for the same product token are merged
    ("2.2.1 merged /foo", RFC_MERGED, "ExampleBot", "https://www.example.com/foo", False),
    ("2.2.1 merged /bar", RFC_MERGED, "ExampleBot", "https://www.example.com/bar", False),
    ("2.2.1 merged /baz", RFC_MERGED, "ExampleBot", "https://www.example.com/baz", False),
    ("2.2.1 merged other", RFC_MERGED, "ExampleBot", "https://www.example.com/qux", True),
    # 2.2.1: no matching group: the * group applies
    ("2.2.1 star /foo", RFC_STAR, "ExampleBot", "https://www.example.com/foo", False),
    ("2.2.1 star /baz", RFC_STAR, "ExampleBot", "https://www.example.com/baz", True),
    ("2.2.1 specific /baz", RFC_STAR, "BazBot", "https://www.example.com/baz", False),
    ("2.2.1 specific /foo", RFC_STAR, "BazBot", "https://www.example.com/foo", True),
    # 2.2.1: no matching group and no * group: no rules
    ("2.2.1 no group", "user-agent: BazBot\ndisallow: /\n", "ExampleBot", "https://www.example.com/", True),
    ("2.2.1 no groups at all", "", "ExampleBot", "https://www.example.com/", True),
    # 2.2.2: percent-encoding table
    ("2.2.2 query", "user-agent: *\ndisallow: /\nallow: /foo/bar?baz=quz\n", "ExampleBot",
     "https://www.example.com/foo/bar?baz=quz", True),
    ("2.2.2 reserved in query", "user-agent: *\ndisallow: /\nallow: /foo/bar?baz=https://foo.bar\n", "ExampleBot",
     "https://www.example.com/foo/bar?baz=https%3A%2F%2Ffoo.bar", True),
    ("2.2.2 reserved in query, raw URL", "user-agent: *\ndisallow: /\nallow: /foo/bar?baz=https://foo.bar\n",
     "ExampleBot", "https://www.example.com/foo/bar?baz=https://foo.bar", True),
    ("2.2.2 encoded reserved in rule", "user-agent: *\ndisallow: /\nallow: /foo/bar?baz=https%3A%2F%2Ffoo.bar\n",
     "ExampleBot", "https://www.example.com/foo/bar?baz=https://foo.bar", True),
    ("2.2.2 %2F in the path stays", "user-agent: *\ndisallow: /a%2Fb\n", "ExampleBot", "https://www.example.com/a/b",
     True),
    ("2.2.2 UTF-8 path", "user-agent: *\ndisallow: /\nallow: /foo/bar/\u30c4\n", "ExampleBot",
     "https://www.example.com/foo/bar/%E3%83%84", True),
    ("2.2.2 encoded path", "user-agent: *\ndisallow: /\nallow: /foo/bar/%E3%83%84\n", "ExampleBot",
     "https://www.example.com/foo/bar/%E3%83%84", True),
    ("2.2.2 encoded unreserved", "user-agent: *\ndisallow: /\nallow: /foo/bar/%62%61%7A\n", "ExampleBot",
     "https://www.example.com/foo/bar/baz", True),
    # 2.2.2: most specific match; allow wins a tie
    ("2.2.2 tie allow wins", "user-agent: *\ndisallow: /page\nallow: /page\n", "ExampleBot",
     "https://www.example.com/page", True),
    # 2.2.3: special characters
    ("2.2.3 comment in line", "user-agent: *\ndisallow: /\nallow: / # comment in line\n# comment on its own line\n",
     "ExampleBot", "https://www.example.com/x", True),
    ("2.2.3 $ exact", "user-agent: *\ndisallow: /\nallow: /this/path/exactly$\n", "ExampleBot",
     "https://www.example.com/this/path/exactly", True),
    ("2.2.3 $ longer", "user-agent: *\ndisallow: /\nallow: /this/path/exactly$\n", "ExampleBot",
     "https://www.example.com/this/path/exactly/not", False),
    ("2.2.3 * any", "user-agent: *\ndisallow: /\nallow: /this/*/exactly\n", "ExampleBot",
     "https://www.example.com/this/is/exactly", True),
    ("2.2.3 %2A is a literal *", "user-agent: *\ndisallow: /path/file-with-a-%2A.html\n", "ExampleBot",
     "https://www.example.com/path/file-with-a-*.html", False),
    ("2.2.3 %2A matches no other", "user-agent: *\ndisallow: /path/file-with-a-%2A.html\n", "ExampleBot",
     "https://www.example.com/path/file-with-a-b.html", True),
    ("2.2.3 %24 is a literal $", "user-agent: *\ndisallow: /path/foo-%24\n", "ExampleBot",
     "https://www.example.com/path/foo-$", False),
    # 2.2.4: other records do not interfere
    ("2.2.4 sitemap", "user-agent: ExampleBot\nsitemap: https://example.com/sitemap.xml\nuser-agent: *\n"
                      "disallow: /\n", "ExampleBot", "https://www.example.com/x", False),
    # 5.1 simple example
    ("5.1 foobot page", RFC_5_1, "foobot", "https://www.example.com/example/page.html", True),
    ("5.1 foobot gif", RFC_5_1, "foobot", "https://www.example.com/example/allowed.gif", True),
    ("5.1 foobot other", RFC_5_1, "foobot", "https://www.example.com/example/other.html", False),
    ("5.1 foobot root", RFC_5_1, "foobot", "https://www.example.com/", False),
    ("5.1 barbot page", RFC_5_1, "barbot", "https://www.example.com/example/page.html", False),
    ("5.1 bazbot page", RFC_5_1, "bazbot", "https://www.example.com/example/page.html", False),
    ("5.1 barbot other", RFC_5_1, "barbot", "https://www.example.com/example/other.html", True),
    ("5.1 quxbot all", RFC_5_1, "quxbot", "https://www.example.com/example/page.html", True),
    ("5.1 other gif", RFC_5_1, "otherbot", "https://www.example.com/images/a.gif", False),
    ("5.1 longer allow beats *.gif$", RFC_5_1, "otherbot", "https://www.example.com/publications/a.gif", True),
    ("5.1 other example", RFC_5_1, "otherbot", "https://www.example.com/example/page.html", False),
    ("5.1 other publications", RFC_5_1, "otherbot", "https://www.example.com/publications/a.html", True),
    ("5.1 other root", RFC_5_1, "otherbot", "https://www.example.com/", True),
    # 5.2 longest match
    ("5.2 directory", "User-Agent: foobot\nAllow: /example/page/\nDisallow: /example/page/disallowed.gif\n",
     "foobot", "https://www.example.com/example/page/", True),
    ("5.2 file", "User-Agent: foobot\nAllow: /example/page/\nDisallow: /example/page/disallowed.gif\n",
     "foobot", "https://www.example.com/example/page/disallowed.gif", False),
]


@pytest.mark.parametrize("name, body, agent, url, expected", RFC_CASES, ids=[c[0] for c in RFC_CASES])
def test_rfc_9309_examples(name, body, agent, url, expected):
    assert allowed(body, agent, url) is expected


# --- a table in the style of Google's robots_test.cc ----------------------------------------------

F = "user-agent: FooBot\n"
GROUPS = ("allow: /foo/bar/\n\nuser-agent: FooBot\ndisallow: /\nallow: /x/\nuser-agent: BarBot\ndisallow: /\n"
          "allow: /y/\n\n\nallow: /w/\nuser-agent: BazBot\n\nuser-agent: FooBot\nallow: /z/\ndisallow: /\n")
FISH = F + "disallow: /\nallow: /fish\n"
PHP = F + "disallow: /\nallow: /*.php$\n"

TABLE = [
    # line syntax, names case-insensitive, a forgotten colon accepted
    ("syntax correct", F + "disallow: /\n", "FooBot", "http://foo.bar/x/y", False),
    ("syntax unknown names", "foo: FooBot\nbar: /\n", "FooBot", "http://foo.bar/x/y", True),
    ("syntax no colon", "user-agent FooBot\ndisallow /\n", "FooBot", "http://foo.bar/x/y", False),
    ("names upper", "USER-AGENT: FooBot\nALLOW: /x/\nDISALLOW: /\n", "FooBot", "http://foo.bar/a/b", False),
    ("names camel", "uSeR-aGeNt: FooBot\nAlLoW: /x/\ndIsAlLoW: /\n", "FooBot", "http://foo.bar/x/y", True),
    ("typo disalow", F + "disalow: /\n", "FooBot", "http://foo.bar/x", False),
    # groups: rules outside a group ignored, groups merged, a user-agent after rules starts a group
    ("groups x", GROUPS, "FooBot", "http://foo.bar/x/b", True),
    ("groups z merged", GROUPS, "FooBot", "http://foo.bar/z/d", True),
    ("groups y", GROUPS, "FooBot", "http://foo.bar/y/c", False),
    ("groups barbot y", GROUPS, "BarBot", "http://foo.bar/y/c", True),
    ("groups barbot w", GROUPS, "BarBot", "http://foo.bar/w/a", True),
    ("groups barbot z", GROUPS, "BarBot", "http://foo.bar/z/d", False),
    ("groups bazbot shares", GROUPS, "BazBot", "http://foo.bar/z/d", True),
    ("groups rule before any agent", GROUPS, "FooBot", "http://foo.bar/foo/bar/", False),
    ("other rule inside group", "User-agent: FooBot\nInvalid-Unknown-Line: unknown\nUser-agent: *\nDisallow: /\n",
     "FooBot", "http://foo.bar/", False),
    ("crawl-delay inside group", "User-agent: FooBot\nCrawl-delay: 5\nUser-agent: *\nDisallow: /\n",
     "FooBot", "http://foo.bar/", False),
    ("blank lines inside a group", "User-agent: FooBot\n\n\nDisallow: /private\n\nDisallow: /tmp\n",
     "FooBot", "http://foo.bar/tmp/x", False),
    ("blank lines between agents", "User-agent: BarBot\n\nUser-agent: FooBot\n\nDisallow: /\n",
     "FooBot", "http://foo.bar/a", False),
    ("empty group has no rules", "User-agent: FooBot\n\nUser-agent: *\nDisallow: /\nUser-agent: FooBot\n",
     "FooBot", "http://foo.bar/a", False),
    ("own empty group beats star", "User-agent: *\nDisallow: /\n\nUser-agent: FooBot\nDisallow:\n",
     "FooBot", "http://foo.bar/a", True),
    # agent matching: exact product token, case-insensitive, never a prefix or substring
    ("agent value case", "User-Agent: FOO BAR\nAllow: /x/\nDisallow: /\n", "foo", "http://foo.bar/a/b", False),
    ("agent value up to space", "User-Agent: *\nDisallow: /\nUser-Agent: Foo Bar\nAllow: /x/\nDisallow: /\n",
     "Foo", "http://foo.bar/x/y", True),
    ("agent with version", "User-agent: *\nDisallow: /\nUser-agent: FooBot/2.1\nAllow: /\n", "FooBot",
     "http://foo.bar/a", True),
    ("agent is our product token", "User-agent: *\nDisallow: /\nUser-agent: MKB-Monitor\nAllow: /\n", UA,
     "https://www.rijksoverheid.nl/nieuws", True),
    ("agent prefix of ours", "User-agent: mkb\nDisallow: /\n", UA, "https://www.mkb.nl/nieuws", True),
    ("agent prefix falls back to star", "User-agent: mkb\nAllow: /\nUser-agent: *\nDisallow: /\n", UA,
     "https://www.mkb.nl/nieuws", False),
    ("agent longer than ours", "User-agent: mkb-monitor-beta\nDisallow: /\n", UA, "https://www.mkb.nl/", True),
    ("agent substring of ours", "User-agent: monitor\nDisallow: /\n", UA, "https://www.mkb.nl/", True),
    ("agent with wildcard", "User-agent: mkb*\nDisallow: /\n", UA, "https://www.mkb.nl/", True),
    ("star with comment", "User-agent: * # everyone\nDisallow: /\n", UA, "https://www.mkb.nl/", False),
    ("global secondary", "user-agent: *\nallow: /\nuser-agent: FooBot\ndisallow: /\n", "FooBot",
     "http://foo.bar/x/y", False),
    ("global for others", "user-agent: *\nallow: /\nuser-agent: FooBot\ndisallow: /\n", "BarBot",
     "http://foo.bar/x/y", True),
    ("only specific groups", "user-agent: FooBot\nallow: /\nuser-agent: BarBot\ndisallow: /\n", "QuxBot",
     "http://foo.bar/x/y", True),
    # paths are case-sensitive
    ("path case lower", F + "disallow: /x/\n", "FooBot", "http://foo.bar/x/y", False),
    ("path case upper", F + "disallow: /X/\n", "FooBot", "http://foo.bar/x/y", True),
    # longest match, allow wins ties
    ("longest disallow", F + "disallow: /x/page.html\nallow: /x/\n", "FooBot", "http://foo.bar/x/page.html", False),
    ("longest allow", F + "allow: /x/page.html\ndisallow: /x/\n", "FooBot", "http://foo.bar/x/page.html", True),
    ("longest dir", F + "allow: /x/page.html\ndisallow: /x/\n", "FooBot", "http://foo.bar/x/", False),
    ("tie empty", F + "disallow: \nallow: \n", "FooBot", "http://foo.bar/x/page.html", True),
    ("tie root", F + "disallow: /\nallow: /\n", "FooBot", "http://foo.bar/x/page.html", True),
    ("tie file", F + "disallow: /x/page.html\nallow: /x/page.html\n", "FooBot", "http://foo.bar/x/page.html", True),
    ("prefix x", F + "disallow: /x\nallow: /x/\n", "FooBot", "http://foo.bar/x", False),
    ("prefix x/", F + "disallow: /x\nallow: /x/\n", "FooBot", "http://foo.bar/x/", True),
    ("longer wildcard wins", F + "allow: /page\ndisallow: /*.html\n", "FooBot", "http://foo.bar/page.html", False),
    ("shorter plain", F + "allow: /page\ndisallow: /*.html\n", "FooBot", "http://foo.bar/page", True),
    ("allow dot", F + "allow: /x/page.\ndisallow: /*.html\n", "FooBot", "http://foo.bar/x/page.html", True),
    ("disallow other html", F + "allow: /x/page.\ndisallow: /*.html\n", "FooBot", "http://foo.bar/x/y.html", False),
    ("specific group only", "User-agent: *\nDisallow: /x/\nUser-agent: FooBot\nDisallow: /y/\n", "FooBot",
     "http://foo.bar/x/page", True),
    ("allow /p over /", F + "allow: /p\ndisallow: /\n", "FooBot", "http://example.com/page", True),
    ("allow / with $", F + "allow: /$\ndisallow: /\n", "FooBot", "http://example.com/", True),
    ("allow / with $ not page", F + "allow: /$\ndisallow: /\n", "FooBot", "http://example.com/page.html", False),
    # wildcards and the end anchor
    ("* middle", F + "Disallow: /foo/bar/quz\nAllow: /foo/*/qux\n", "FooBot", "http://foo.bar/foo/bar/quz", False),
    ("* empty segment", F + "Disallow: /\nAllow: /foo/*/qux\n", "FooBot", "http://foo.bar/foo//qux", True),
    ("$ exact", F + "Disallow: /foo/bar$\nAllow: /foo/bar/qux\n", "FooBot", "http://foo.bar/foo/bar", False),
    ("$ not longer", F + "Disallow: /foo/bar$\nAllow: /foo/bar/qux\n", "FooBot", "http://foo.bar/foo/bar/baz", True),
    ("# cuts the value", F + "# Disallow: /\nDisallow: /foo/quz#qux\nAllow: /\n", "FooBot",
     "http://foo.bar/foo/quz", False),
    ("fish", FISH, "FooBot", "http://foo.bar/fish.html?id=anything", True),
    ("fish case", FISH, "FooBot", "http://foo.bar/Fish.asp", False),
    ("catfish", FISH, "FooBot", "http://foo.bar/catfish", False),
    ("fish in query", FISH, "FooBot", "http://foo.bar/?id=fish", False),
    ("fish* is fish", F + "disallow: /\nallow: /fish*\n", "FooBot", "http://foo.bar/fishheads/yummy.html", True),
    ("fish/ not fish", F + "disallow: /\nallow: /fish/\n", "FooBot", "http://foo.bar/fish", False),
    ("*.php in folder", F + "disallow: /\nallow: /*.php\n", "FooBot", "http://foo.bar/folder/filename.php?x", True),
    ("*.php not php/", F + "disallow: /\nallow: /*.php\n", "FooBot", "http://foo.bar/php/", False),
    ("*.php$", PHP, "FooBot", "http://foo.bar/folder/filename.php", True),
    ("*.php$ with query", PHP, "FooBot", "http://foo.bar/filename.php?parameters", False),
    ("*.php$ php5", PHP, "FooBot", "http://foo.bar/filename.php5", False),
    ("fish*.php", F + "disallow: /\nallow: /fish*.php\n", "FooBot", "http://foo.bar/fishheads/catfish.php?p", True),
    ("leading * pattern", F + "disallow: *.gif$\n", "FooBot", "http://foo.bar/a/b.gif", False),
    # Google (and protego) also allow the directory of an allowed index.html; RFC 9309 does not.
    ("index.html is not the directory", "User-Agent: *\nAllow: /allowed-slash/index.html\nDisallow: /\n",
     "foobot", "http://foo.com/allowed-slash/", False),
    # percent-encoding and paths outside ASCII
    ("utf-8 rule, encoded url", F + "Disallow: /\nAllow: /foo/bar/\u30c4\n", "FooBot",
     "http://foo.bar/foo/bar/%E3%83%84", True),
    ("non-ascii disallowed", "User-agent: *\nDisallow: /stra\u00dfe/\n", UA, "https://www.kvk.nl/stra%C3%9Fe/x", False),
    ("encoded rule, lower-case url", "User-agent: *\nDisallow: /caf%C3%A9\n", UA, "https://x.nl/caf%c3%a9", False),
    ("query with url", F + "Disallow: /\nAllow: /foo/bar?qux=taz&baz=http://foo.bar?tar&par\n", "FooBot",
     "http://foo.bar/foo/bar?qux=taz&baz=http://foo.bar?tar&par", True),
    ("robots.txt itself", "User-agent: *\nDisallow: /\n", UA, "https://www.mkb.nl/robots.txt", True),
    # line endings, byte-order mark
    ("CRLF", "User-agent: *\r\nDisallow: /private\r\n", UA, "https://x.nl/private/a", False),
    ("CR only", "User-agent: *\rDisallow: /private\r", UA, "https://x.nl/private/a", False),
    ("no final newline", "User-agent: *\nDisallow: /private", UA, "https://x.nl/private/a", False),
    ("BOM", b"\xef\xbb\xbfUser-agent: *\nDisallow: /private\n", UA, "https://x.nl/private/a", False),
    ("partial BOM", b"\xef\xbbUser-agent: *\nDisallow: /private\n", UA, "https://x.nl/private/a", False),
    ("BOM mid-file is garbage", b"User-agent: *\n\xef\xbb\xbfDisallow: /private\n", UA, "https://x.nl/private/a", True),
    ("latin-1 bytes", b"User-agent: *\nDisallow: /caf\xe9\n", UA, "https://x.nl/caf%E9", False),
    ("latin-1 bytes, other octet", b"User-agent: *\nDisallow: /caf\xe9\n", UA, "https://x.nl/caf%E8", True),
    ("non-UTF-8 escapes are octets", "User-agent: *\nDisallow: /\nAllow: /a%E9\n", UA, "https://x.nl/a%E8", False),
    ("non-UTF-8 escape matches itself", "User-agent: *\nDisallow: /\nAllow: /a%e9\n", UA, "https://x.nl/a%E9", True),
]


@pytest.mark.parametrize("name, body, agent, url, expected", TABLE, ids=[c[0] for c in TABLE])
def test_table(name, body, agent, url, expected):
    assert allowed(body, agent, url) is expected


def test_the_table_is_large_enough():
    assert len(TABLE) >= 60


# --- size cap, decoding, product token -----------------------------------------------------------


def test_only_the_first_max_bytes_are_parsed_up_to_the_last_whole_line():
    padding = "# padding\n" * 60_000  # 600 KB
    assert allowed(padding + "User-agent: *\nDisallow: /\n", UA, "https://x.nl/a")
    # A rule cut in half by the cap ("Allow: /private" -> "Allow: /") must not be read.
    body = "User-agent: *\nDisallow: /\nAllow: /private-but-long"
    cap = len("User-agent: *\nDisallow: /\nAllow: /")
    assert not allowed(body, UA, "https://x.nl/other", max_bytes=cap)
    assert not allowed(body, UA, "https://x.nl/private-but-long", max_bytes=cap)


@pytest.mark.parametrize("user_agent, token", [
    (UA, "mkb-monitor"), ("ExampleBot/0.1", "ExampleBot"), ("Foo_Bar", "Foo_Bar"), ("  x-y/1 (z)", "x-y"),
    ("/1.0", ""), ("", ""),
])
def test_product_token(user_agent, token):
    assert robots.product_token(user_agent) == token


# --- protego alone, where the RFC says otherwise --------------------------------------------------

DEVIATIONS = [
    # a group for a prefix of our name applies to us
    ("User-agent: mkb\nDisallow: /\n", "mkb-monitor", "https://www.mkb.nl/", True),
    # an other record ends the group: FooBot falls out of the * group's rules
    ("User-agent: FooBot\nCrawl-delay: 5\nUser-agent: *\nDisallow: /\n", "FooBot", "http://foo.bar/", False),
    ("User-agent: FooBot\nInvalid-Unknown-Line: x\nUser-agent: *\nDisallow: /\n", "FooBot", "http://foo.bar/", False),
    # a version after the product token: the group matches nobody
    ("User-agent: *\nDisallow: /\nUser-agent: FooBot/2.1\nAllow: /\n", "FooBot", "http://foo.bar/a", True),
    # an allowed <dir>/index.html allows <dir>/ (Google's extension)
    ("User-agent: *\nAllow: /d/index.html\nDisallow: /\n", "FooBot", "http://foo.bar/d/", False),
    # a "/" in the query differs from its escape (RFC 9309 Figure 4 makes them one)
    ("User-agent: *\nDisallow: /\nAllow: /foo/bar?baz=https://foo.bar\n", "FooBot",
     "http://foo.bar/foo/bar?baz=https%3A%2F%2Ffoo.bar", True),
    # escapes of octets that are not UTF-8 all read as U+FFFD, so they match each other
    ("User-agent: *\nDisallow: /\nAllow: /a%E9\n", "FooBot", "http://foo.bar/a%E8", False),
]


@pytest.mark.parametrize("body, agent, url, rfc", DEVIATIONS)
def test_why_protego_alone_is_not_enough(body, agent, url, rfc):
    """Protego's own answer differs from RFC 9309 here; ours follows the RFC. When a protego
    release fixes one, this fails: then monitor.robots can hand protego more of the work."""
    assert Protego.parse(body).can_fetch(url, agent) is not rfc
    assert allowed(body, agent, url) is rfc


# --- fetching robots.txt: the access results of RFC 9309 2.3.1, through the HTTP client ----------

RULES = b"User-agent: *\nDisallow: /private\n"


def outcome(answers: dict[str, httpx.Response], url: str, cache: MemoryCache | None = None,
            now: float = 1_000_000.0) -> tuple[str, list[str]]:
    """What the client does with ``url`` when robots.txt URLs answer as ``answers`` (any other URL
    is a page): "fetched", "disallowed" or "deferred", and the URLs requested."""
    asked: list[str] = []

    def serve(request: httpx.Request) -> httpx.Response:
        asked.append(str(request.url))
        return answers.get(str(request.url), httpx.Response(200, content=b"page"))

    settings = config.load(overrides={"http": {"host_interval": 0.0, "retries": 1}}).http
    with Client(settings, transport=httpx.MockTransport(serve), cache=cache, allowed_hosts=["a.example"],
                sleep=lambda seconds: None, now=lambda: now) as http:
        try:
            http.get(url)
        except RobotsDisallowed:
            return "disallowed", asked
        except Deferred:
            return "deferred", asked
    return "fetched", asked


def hops(count: int, final: httpx.Response) -> dict[str, httpx.Response]:
    """robots.txt of a.example redirected ``count`` times, across hosts, to ``final``."""
    urls = ["https://a.example/robots.txt"] + [f"https://cdn{i}.example/robots.txt" for i in range(1, count + 1)]
    answers = {urls[i]: httpx.Response(301, headers={"Location": urls[i + 1]}) for i in range(count)}
    answers[urls[-1]] = final
    return answers


@pytest.mark.parametrize("count, expected", [(1, "disallowed"), (5, "disallowed"), (6, "fetched")])
def test_redirected_robots_txt_rules_apply_to_the_first_host(count, expected):
    # 2.3.1.2: at least five redirects followed, across hosts, the rules applied to the initial
    # authority; more than five: unavailable, so no rules.
    result, asked = outcome(hops(count, httpx.Response(200, content=RULES)), "https://a.example/private/x")
    assert result == expected
    assert ("https://a.example/private/x" in asked) is (expected == "fetched")


@pytest.mark.parametrize("status, expected", [
    (200, "disallowed"), (204, "fetched"),  # 2.3.1.1: a 2xx is the rules (an empty body has none)
    (401, "fetched"), (403, "fetched"), (404, "fetched"), (410, "fetched"),  # 2.3.1.3: unavailable
    (429, "deferred"),  # a 4xx, but "too many requests": we wait rather than crawl (the RFC's MAY)
    (500, "deferred"), (503, "deferred"),  # 2.3.1.4: unreachable, complete disallow
])
def test_robots_txt_status(status, expected):
    body = RULES if status == 200 else b""
    result, _ = outcome({"https://a.example/robots.txt": httpx.Response(status, content=body)},
                        "https://a.example/private/x")
    assert result == expected


def test_unreachable_robots_txt_uses_a_copy_younger_than_the_ttl_only():
    # 2.3.1.4 and 2.4: an unreachable robots.txt may be replaced by a cached copy; one older than
    # the 24 hours of robots_ttl is not trusted, so the host waits (complete disallow).
    unreachable = {"https://a.example/robots.txt": httpx.Response(503)}
    cache = MemoryCache()
    cache.put_robots("https://a.example", RULES, fetched_at=1_000_000.0 - 3600)
    assert outcome(unreachable, "https://a.example/private/x", cache)[0] == "disallowed"
    assert outcome(unreachable, "https://a.example/public", cache)[0] == "fetched"
    cache.put_robots("https://a.example", b"", fetched_at=1_000_000.0 - 86400 - 1)
    assert outcome(unreachable, "https://a.example/public", cache)[0] == "deferred"
