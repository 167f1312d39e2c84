"""The car drawings: one shape per model line, painted in the colour asked for, named or decorative."""

from __future__ import annotations

import re

from storefront.catalog import illustrations
from storefront.catalog.illustrations import VIEWS, draw

LINE_UP = {"kadjar": "renault", "koleos": "renault", "city-k-ze": "renault", "focus": "ford", "mondeo": "ford",
           "explorer": "ford", "mustang": "ford", "mustang-mach-e": "ford", "corsair": "lincoln",
           "navigator": "lincoln"}


def side_outline(slug: str) -> str:
    svg = str(draw(slug=slug, brand=LINE_UP[slug], body_type="suv"))
    return re.search(r'<path class="paint" d="([^"]+)"', svg).group(1)  # type: ignore[union-attr]


def test_every_model_line_has_its_own_body_shape():
    outlines = {slug: side_outline(slug) for slug in LINE_UP}
    assert len(set(outlines.values())) == len(LINE_UP)
    # The body types read as themselves: a three-row SUV is longer and taller than a city EV, a sedan lower.
    explorer, k_ze, mondeo = (illustrations.shape_for(s, "suv") for s in ("explorer", "city-k-ze", "mondeo"))
    assert explorer.length > k_ze.length and explorer.roof > k_ze.roof > mondeo.roof and explorer.windows == 3
    assert illustrations.shape_for("mustang-mach-e", "suv").back == "fast"


def test_the_drawing_is_painted_and_a_bad_colour_falls_back():
    red = str(draw(slug="koleos", brand="renault", body_type="suv", paint="#B3261E"))
    assert 'class="paint"' in red and 'fill="#B3261E"' in red
    injected = str(draw(slug="koleos", brand="renault", body_type="suv", paint='"><script>'))
    assert "<script>" not in injected and f'fill="{illustrations.DEFAULT_PAINT}"' in injected


def test_views_are_small_labelled_or_decorative_and_free_of_styles_and_ids():
    for view in VIEWS:
        svg = str(draw(slug="explorer", brand="ford", body_type="suv", view=view, label='Ford "Explorer"'))
        assert 'role="img" aria-label="Ford &#34;Explorer&#34;"' in svg
        assert "style" not in svg and " id=" not in svg and len(svg) < 6000
    decorative = str(draw(slug="explorer", brand="ford", body_type="suv"))
    assert 'aria-hidden="true"' in decorative and "aria-label" not in decorative


def test_a_model_not_listed_is_drawn_from_its_body_type():
    assert illustrations.shape_for("new-sedan", "sedan") is illustrations.SEDAN
    assert illustrations.shape_for("new-thing", "unknown") is illustrations.COMPACT_SUV
