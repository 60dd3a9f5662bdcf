"""Server-side SVG charts: well-formed, script- and style-free, escaped, accessible, CSV twin."""

import csv
import io
import xml.etree.ElementTree as ET

import pytest

from kith.web.charts import Chart, Series, csv_response, csv_text, nice_ticks

SVG = "{http://www.w3.org/2000/svg}"
EVIL = "<script>alert(1)</script>&\"'"


def parse(svg: str) -> ET.Element:
    return ET.fromstring(str(svg))  # raises on malformed markup or unescaped text


def all_tags(root: ET.Element) -> set[str]:
    return {el.tag.replace(SVG, "") for el in root.iter()}


@pytest.mark.parametrize("kind", ["line", "stacked", "bar", "hbar"])
def test_every_kind_is_well_formed_svg_without_script_or_style(kind):
    chart = Chart(
        kind=kind,
        title="Volume",
        categories=["Mon", "Tue", "Wed"],
        series=[Series("positive", [1, 2, 3]), Series("negative", [3, 0, 5])],
    )
    root = parse(chart.svg())
    tags = all_tags(root)
    assert "script" not in tags and "style" not in tags and "foreignObject" not in tags
    assert not any(k.startswith("on") for el in root.iter() for k in el.attrib)
    assert not any(k == "style" for el in root.iter() for k in el.attrib)
    assert root.get("role") == "img"
    title_id, desc_id = root.get("aria-labelledby").split()
    assert root.find(f"{SVG}title").get("id") == title_id
    assert root.find(f"{SVG}title").text == "Volume"
    assert root.find(f"{SVG}desc").get("id") == desc_id


def test_labels_and_titles_are_escaped_everywhere():
    chart = Chart(
        kind="line",
        title=EVIL,
        description=EVIL,
        categories=[EVIL, "b"],
        series=[Series(EVIL, [1, 2]), Series("other", [2, 1])],
        value_label=EVIL,
    )
    for html in (chart.svg(), chart.table(), chart.render(csv_url='/x?a=1&b="2"')):
        assert "<script>" not in html
        assert "&lt;script&gt;" in html
    root = parse(chart.svg())
    texts = [el.text for el in root.iter() if el.text]
    assert EVIL in texts  # the parser gives back the original text: escaped once, not twice
    hbar = Chart(kind="hbar", title="t", categories=[EVIL], series=[Series("n", [4])])
    assert "<script>" not in hbar.svg()
    parse(hbar.svg())


def test_stacked_columns_stack_and_bars_scale_to_the_largest_total():
    chart = Chart(
        kind="stacked",
        title="Sentiment",
        categories=["d1", "d2"],
        series=[Series("neg", [10, 0]), Series("pos", [10, 5])],
        height=260,
    )
    rects = [
        el for el in parse(chart.svg()).iter(f"{SVG}rect") if el.find(f"{SVG}title") is not None
    ]
    assert len(rects) == 4
    by_title = {el.find(f"{SVG}title").text: el for el in rects}
    neg1, pos1 = by_title["neg, d1: 10"], by_title["pos, d1: 10"]
    # pos sits directly on top of neg in the same column.
    assert float(pos1.get("y")) + float(pos1.get("height")) == pytest.approx(float(neg1.get("y")))
    assert neg1.get("x") == pos1.get("x")
    assert float(neg1.get("height")) == pytest.approx(float(pos1.get("height")))
    assert float(by_title["neg, d2: 0"].get("height")) == 0
    # Twice the value, twice the height.
    assert float(neg1.get("height")) == pytest.approx(
        2 * float(by_title["pos, d2: 5"].get("height"))
    )


def test_hbar_lengths_are_proportional_and_rows_follow_categories():
    chart = Chart(
        kind="hbar",
        title="Top",
        categories=["ana", "bo", "cy"],
        series=[Series("mentions", [8, 4, 2])],
    )
    rects = list(parse(chart.svg()).iter(f"{SVG}rect"))
    widths = [float(r.get("width")) for r in rects]
    assert widths[0] == pytest.approx(2 * widths[1]) == pytest.approx(4 * widths[2])
    ys = [float(r.get("y")) for r in rects]
    assert ys == sorted(ys)


def test_line_points_rise_with_values():
    chart = Chart(
        kind="line", title="t", categories=["a", "b", "c"], series=[Series("s", [0, 5, 10])]
    )
    circles = list(parse(chart.svg()).iter(f"{SVG}circle"))
    ys = [float(c.get("cy")) for c in circles]
    assert ys[0] > ys[1] > ys[2]  # SVG y grows downwards


def test_series_length_must_match_categories():
    with pytest.raises(ValueError, match="2 values for 3 categories"):
        Chart(kind="line", title="t", categories=["a", "b", "c"], series=[Series("s", [1, 2])])
    with pytest.raises(ValueError, match="unknown chart kind"):
        Chart(kind="pie", title="t", categories=[], series=[])


def test_empty_chart_renders_a_note_not_a_broken_svg():
    html = Chart(kind="line", title="Volume", categories=[], series=[]).render()
    assert "No data for volume" in html and "<svg" not in html
    zeros = Chart(kind="bar", title="Volume", categories=["a"], series=[Series("s", [0])])
    assert "<svg" not in zeros.render()
    parse(zeros.svg())  # drawing all-zero data directly still works (no division by zero)


def test_table_and_csv_carry_the_same_numbers():
    chart = Chart(
        kind="line",
        title="Share",
        categories=["2026-12-01", "2026-12-02"],
        series=[Series("acme", [1, 2.5]), Series("=HYPERLINK(1)", [3, 4])],
        category_label="Day",
    )
    table = chart.table()
    assert "<caption>Share</caption>" in table and "2.5" in table
    response = csv_response(chart, "share of voice.csv")
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"] == 'attachment; filename="shareofvoice.csv"'
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows == [
        ["Day", "acme", "'=HYPERLINK(1)"],  # formula guard
        ["2026-12-01", "1", "3"],
        ["2026-12-02", "2.5", "4"],
    ]
    # Negative numbers are numbers, not formulas.
    assert csv_text([["-3", "@ana"]]).strip() == "-3,'@ana"


def test_render_links_the_csv_and_folds_the_table():
    chart = Chart(kind="bar", title="Volume", categories=["a"], series=[Series("s", [2])])
    html = chart.render(csv_url="/listening/dashboards/volume.csv?from=2026-12-01")
    assert 'href="/listening/dashboards/volume.csv?from=2026-12-01"' in html
    assert "<details><summary>Data table</summary><table" in html


@pytest.mark.parametrize(
    ("maximum", "expected_last"), [(0, 1.0), (7, 8.0), (10, 10.0), (93, 100.0), (0.42, 0.6)]
)
def test_nice_ticks_cover_the_maximum_with_round_steps(maximum, expected_last):
    ticks = nice_ticks(maximum)
    assert ticks[0] == 0
    assert ticks[-1] == pytest.approx(expected_last)
    assert ticks[-1] >= maximum


def test_tick_labels_shorten_the_axis_only():
    chart = Chart(
        kind="bar",
        title="t",
        categories=["2026-11-05", "2026-11-06"],
        tick_labels=["5 Nov", "6 Nov"],
        series=[Series("s", [1, 2])],
    )
    svg = chart.svg()
    assert "5 Nov" in svg and "s, 2026-11-05: 1" in svg  # the tooltip keeps the full date
    assert chart.rows()[1][0] == "2026-11-05"
    with pytest.raises(ValueError, match="tick_labels"):
        Chart(kind="bar", title="t", categories=["a"], tick_labels=["a", "b"], series=[])
