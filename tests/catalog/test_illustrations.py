"""The car drawings: one shape per model line, painted in the colour asked for, named or decorative."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

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


SVG = "{http://www.w3.org/2000/svg}"


def test_the_front_three_quarter_view_draws_every_model_painted_in_perspective():
    """The gallery's three-quarter view: one car from the front-left corner, its nose and its left side, the nearer
    front wheel drawn larger than the rear one, in the paint asked for and valid SVG."""
    assert "front34" in VIEWS and "front" in VIEWS  # the straight front view stays available
    slugs = [*illustrations.SHAPES, "new-sedan", "new-hatch", "new-mpv", "new-coupe"]
    bodies = {"new-sedan": "sedan", "new-hatch": "hatchback", "new-mpv": "mpv", "new-coupe": "coupe"}
    for slug in slugs:
        for brand in illustrations.BRANDS:
            svg = str(draw(slug=slug, brand=brand, body_type=bodies.get(slug, "suv"), view="front34",
                           paint="#B3261E", label=f"{brand} {slug}, front three-quarter view"))
            xml = svg.replace("<svg ", '<svg xmlns="http://www.w3.org/2000/svg" ', 1)
            root = ET.fromstring(xml)  # noqa: S314 - our own drawing, not outside input
            assert root.get("class") == "car-svg car-svg-front34" and root.get("role") == "img"
            painted = [e for e in root.iter() if e.get("class") == "paint"]
            assert len(painted) >= 6 and all(e.get("fill") == "#B3261E" for e in painted), slug
            # Every point is on the canvas.
            numbers = [float(n) for e in root.iter(f"{SVG}path")
                       for n in re.findall(r"-?\d+(?:\.\d+)?", e.get("d", ""))]
            assert numbers and min(numbers) >= 0 and max(numbers) <= 320, slug
            # Wheels are ellipses, narrower than tall (seen at an angle); the front one (drawn last) is the larger.
            rims = [e for e in root.iter(f"{SVG}ellipse") if e.get("fill") == "#B9BEC4"]
            assert len(rims) == 2, slug
            rear, front = (float(e.get("ry", 0)) for e in rims)
            assert front > rear and all(float(e.get("rx", 0)) < float(e.get("ry", 0)) for e in rims), slug
            assert float(rims[1].get("cx", 0)) < float(rims[0].get("cx", 0))  # the nose is on the left
            assert len(svg) < 6000 and "style" not in svg and " id=" not in svg


def test_the_three_quarter_view_shows_the_brand_face_and_the_model_shape():
    def front34(slug: str, brand: str) -> str:
        return str(draw(slug=slug, brand=brand, body_type="suv", view="front34"))

    lamps = {brand: details["lamp"] for brand, details in illustrations.BRANDS.items()}
    assert f'stroke="{lamps["renault"]}"' in front34("koleos", "renault")  # the C-shaped day-running lights
    assert f'fill="{illustrations.BRANDS["ford"]["badge"]}"' in front34("focus", "ford")  # the blue oval
    assert f'fill="{illustrations.BRANDS["lincoln"]["grille"]}"' in front34("aviator", "lincoln")
    # A three-row SUV shows two window pillars between its three side windows, a compact SUV one.
    assert front34("explorer", "ford").count('<path class="paint"') == front34("kuga", "ford").count(
        '<path class="paint"') + 1
    assert len({front34(slug, brand) for slug, brand in LINE_UP.items()}) == len(LINE_UP)
