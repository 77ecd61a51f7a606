"""An HTML page as the report tests read it: well-formed (every element
closed in order, python3's html.parser), its tags, table cells, links and
text. Used by report_test.sh and fixture_report_test.sh."""
import html.parser
import sys

VOID = {"meta", "br", "hr", "img", "input", "link", "wbr", "col", "area", "base", "source"}


class Page(html.parser.HTMLParser):
    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.stack, self.tags, self.cells, self.links, self.parts = [], [], [], [], []
        self.feed(text)
        self.close()
        if self.stack:
            sys.exit(f"FAIL: unclosed elements {self.stack}")
        self.text = "".join(self.parts)
        self.names = [t for t, _ in self.tags]

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append((tag, a))
        if tag == "td":
            self.cells.append(a)
        if tag == "a" and "href" in a:
            self.links.append(a["href"])
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            sys.exit(f"FAIL: </{tag}> closes {self.stack[-1:]} (not well formed)")
        self.stack.pop()

    def handle_data(self, data):
        self.parts.append(data)


def check(ok, what):
    if not ok:
        sys.exit(f"FAIL: {what}")


def self_contained(page, p):
    """No script, nothing loaded from elsewhere."""
    check("script" not in p.names, "a script element in the page")
    check(not any(a.get("src") or t == "link" for t, a in p.tags), "something loaded from elsewhere")
    check("http://" not in page.replace("http://www.w3.org/", "") and "https://" not in page, "an external URL")
