"""Car drawings: a small inline SVG per model and view, drawn from the model's proportions in its paint colour.

Each model line has a `Shape` (length, roof height, hood, how the back ends, wheel size, brand details), so a
compact SUV, a three-row SUV, a sedan, a city EV and a coupe-SUV read as different cars. The body carries
`class="paint"` with the colour as its fill: the model page's swatches repaint it in the browser by changing
that fill (app.js), and a page drawn with ?colour= is painted on the server. Inline SVG, no external file, no
inline style (the CSP forbids it), no ids (several drawings share a page).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from markupsafe import Markup, escape

View = Literal["side", "front", "rear", "interior"]
VIEWS: tuple[View, ...] = ("side", "front", "rear", "interior")
DEFAULT_PAINT = "#8A9099"
GROUND = 124.0


@dataclass(frozen=True)
class Shape:
    length: float  # bumper to bumper, of the 320-unit canvas
    roof: float  # height of the roof above the ground
    belt: float  # height of the window line
    sill: float  # height of the body's lower edge
    hood: float  # nose to the foot of the windscreen
    screen: float  # how far the windscreen leans back
    back: Literal["box", "hatch", "notch", "fast"]  # how the roof meets the tail
    wheel: float  # tyre radius
    windows: int = 2  # side windows: 3 on a three-row SUV
    ev: bool = False  # closed grille
    spare: bool = False  # spare wheel on the tailgate
    width: float = 150  # of the front and rear views


COMPACT_SUV = Shape(length=250, roof=90, belt=62, sill=30, hood=60, screen=32, back="box", wheel=20)
MIDSIZE_SUV = Shape(length=268, roof=94, belt=64, sill=31, hood=66, screen=34, back="box", wheel=21, width=158)
THREE_ROW_SUV = Shape(length=296, roof=98, belt=67, sill=32, hood=72, screen=32, back="box", wheel=22, windows=3,
                      width=166)
SEDAN = Shape(length=262, roof=72, belt=50, sill=21, hood=74, screen=46, back="notch", wheel=17, width=150)
CITY_EV = Shape(length=212, roof=84, belt=56, sill=26, hood=40, screen=32, back="hatch", wheel=16, ev=True,
                width=136)
COUPE = Shape(length=270, roof=68, belt=48, sill=20, hood=98, screen=48, back="fast", wheel=18, width=156)
COUPE_SUV = Shape(length=268, roof=84, belt=58, sill=27, hood=68, screen=40, back="fast", wheel=20, ev=True,
                  width=156)
HATCHBACK = Shape(length=236, roof=68, belt=46, sill=18, hood=60, screen=42, back="hatch", wheel=17, width=146)
MPV = Shape(length=280, roof=92, belt=58, sill=22, hood=46, screen=44, back="box", wheel=18, windows=3, width=160)

# Model slug -> its shape; a model not listed is drawn from its body type.
SHAPES: dict[str, Shape] = {
    "kadjar": COMPACT_SUV,
    "koleos": replace(MIDSIZE_SUV, roof=95, hood=70),
    "city-k-ze": CITY_EV,
    "focus": replace(SEDAN, length=252),
    "escort": replace(SEDAN, length=256, roof=74, hood=70),
    "mondeo": replace(SEDAN, length=284, roof=70, screen=52, hood=80),
    "taurus": replace(SEDAN, length=296, roof=73, hood=82, wheel=18),
    "kuga": replace(COMPACT_SUV, length=254, roof=88, screen=38),
    "edge": replace(MIDSIZE_SUV, length=272, roof=93),
    "explorer": THREE_ROW_SUV,
    "territory": replace(COMPACT_SUV, length=258, roof=88),
    "territory-ev": replace(COMPACT_SUV, length=258, roof=88, ev=True),
    "ecosport": replace(COMPACT_SUV, length=222, roof=92, hood=46, spare=True, width=140),
    "mustang": COUPE,
    "mustang-mach-e": COUPE_SUV,
    "corsair": replace(COMPACT_SUV, length=256, roof=88, hood=66, screen=38),
    "nautilus": replace(MIDSIZE_SUV, length=274, roof=93),
    "aviator": replace(THREE_ROW_SUV, length=292, roof=94, screen=40),
    "navigator": replace(THREE_ROW_SUV, length=306, roof=104, belt=72, sill=34, hood=76, screen=26, wheel=23,
                         width=176),
}
BY_BODY = {"suv": COMPACT_SUV, "sedan": SEDAN, "hatchback": HATCHBACK, "coupe": COUPE, "mpv": MPV}

# Brand details: lamp colour and style, grille colour, badge.
BRANDS = {
    "renault": {"lamp": "#FFE9A8", "grille": "#2A2A2E", "badge": "#E8E8EA", "tail": "#C8102E"},
    "ford": {"lamp": "#EAF4FF", "grille": "#1E2228", "badge": "#1A4FA0", "tail": "#D2231B"},
    "lincoln": {"lamp": "#F3F7FF", "grille": "#3B4247", "badge": "#D9DEE2", "tail": "#B01622"},
}


def shape_for(slug: str, body_type: str) -> Shape:
    return SHAPES.get(slug) or BY_BODY.get(body_type, COMPACT_SUV)


def draw(*, slug: str, brand: str, body_type: str, view: View = "side", paint: str | None = None,
         label: str = "") -> Markup:
    """The SVG of one view; `label` names it for screen readers, an empty label makes it decorative."""
    shape = shape_for(slug, body_type)
    details = BRANDS.get(brand, BRANDS["ford"])
    colour = paint if paint and _is_hex(paint) else DEFAULT_PAINT
    body = {"side": _side, "front": _front, "rear": _rear, "interior": _interior}[view](shape, details, colour, brand)
    a11y = f'role="img" aria-label="{escape(label)}"' if label else 'aria-hidden="true" focusable="false"'
    return Markup(  # noqa: S704 - numbers and escaped text only
        f'<svg class="car-svg car-svg-{view}" viewBox="0 0 320 140" width="320" height="140" {a11y} '
        f'data-model="{escape(slug)}">{body}</svg>'
    )


def _is_hex(value: str) -> bool:
    return len(value) == 7 and value[0] == "#" and all(c in "0123456789abcdefABCDEF" for c in value[1:])


def _n(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _rounded(points: list[tuple[float, float]], radius: float) -> str:
    """A closed path through `points` with each corner rounded (a quadratic curve through the corner)."""
    parts = []
    count = len(points)
    for i, (x, y) in enumerate(points):
        px, py = points[i - 1]
        nx, ny = points[(i + 1) % count]
        r_in = min(radius, _dist(px, py, x, y) / 2)
        r_out = min(radius, _dist(x, y, nx, ny) / 2)
        ax, ay = _towards(x, y, px, py, r_in)
        bx, by = _towards(x, y, nx, ny, r_out)
        parts.append(f"{'M' if i == 0 else 'L'}{_n(ax)} {_n(ay)} Q{_n(x)} {_n(y)} {_n(bx)} {_n(by)}")
    return " ".join(parts) + " Z"


def _dist(x1: float, y1: float, x2: float, y2: float) -> float:
    return float(((x2 - x1) ** 2 + (y2 - y1) ** 2) ** 0.5) or 1.0


def _towards(x: float, y: float, tx: float, ty: float, length: float) -> tuple[float, float]:
    d = _dist(x, y, tx, ty)
    return x + (tx - x) * length / d, y + (ty - y) * length / d


def _side(s: Shape, d: dict[str, str], paint: str, brand: str) -> str:
    """Seen from the left, nose on the left."""
    left = (320 - s.length) / 2
    right = left + s.length
    y = lambda h: GROUND - h  # noqa: E731 - heights above the ground to canvas y
    nose_top = s.belt - (4 if s.back == "box" else 8)
    screen_foot = left + s.hood
    roof_front = screen_foot + s.screen
    if s.back == "box":
        roof_back, tail_top = right - 10, s.roof - 6
        tail = [(right - 4, y(tail_top)), (right, y(s.belt - 4))]
    elif s.back == "hatch":
        roof_back, tail_top = right - 22, s.roof - 10
        tail = [(right - 6, y(tail_top)), (right, y(s.belt - 6))]
    elif s.back == "notch":
        roof_back = right - 78
        tail = [(right - 44, y(s.belt + 2)), (right - 2, y(s.belt)), (right, y(s.belt - 8))]
    else:  # fastback: the roof slopes into a short tail
        roof_back = roof_front + (right - roof_front) * 0.32
        tail = [(right - 12, y(s.belt + 4)), (right, y(s.belt - 4))]
    outline = [
        (left + 2, y(s.sill + 2)), (left, y(nose_top)), (screen_foot, y(s.belt + 2)), (roof_front, y(s.roof)),
        (roof_back, y(s.roof)), *tail, (right, y(s.sill + 2)), (right - 6, y(s.sill)), (left + 6, y(s.sill)),
    ]
    body = _rounded(outline, 9)
    # Side glass: from the windscreen's foot to the back, under the roof line.
    glass_top = s.roof - 5
    back_glass = {"box": roof_back - 2, "hatch": roof_back + 2, "notch": right - 50, "fast": right - 30}[s.back]
    back_glass_top = roof_back - 4 if s.back != "fast" else roof_back
    glass = _rounded([(screen_foot + 10, y(s.belt + 3)), (roof_front + 3, y(glass_top)),
                      (back_glass_top, y(glass_top)), (back_glass, y(s.belt + 3))], 4)
    pillars = []
    span = back_glass - (screen_foot + 10)
    for k in range(1, s.windows):
        x = screen_foot + 10 + span * k / s.windows + 4
        pillars.append(f'<rect class="paint" x="{_n(x)}" y="{_n(y(s.roof))}" width="5" height="{_n(s.roof - s.belt)}" '
                       f'fill="{paint}"/>')
    rocker = _rounded([(left + 4, y(s.sill + 10)), (right - 2, y(s.sill + 10)), (right - 6, y(s.sill)),
                       (left + 6, y(s.sill))], 3)
    front_x, rear_x = left + min(s.hood * 0.55, 44) + 8, right - max(38, s.length * 0.17)
    wheels = "".join(_wheel(x, s.wheel) for x in (front_x, rear_x))
    arches = "".join(
        f'<circle cx="{_n(x)}" cy="{_n(GROUND - s.wheel)}" r="{_n(s.wheel + 3.5)}" fill="#1b1c1f" opacity=".9"/>'
        for x in (front_x, rear_x)
    )
    lamp_w = 18 if brand != "lincoln" else 24
    head = (f'<path d="M{_n(left + 3)} {_n(y(nose_top - 3))} l{lamp_w} 2 l-1 5 l-{lamp_w - 2} -1 Z" '
            f'fill="{d["lamp"]}" stroke="#444" stroke-width=".6"/>')
    tail_lamp = (f'<rect x="{_n(right - 9)}" y="{_n(y(s.belt - 2))}" width="8" height="6" rx="2" fill="{d["tail"]}"/>')
    spare = (f'<rect x="{_n(right - 2)}" y="{_n(y(s.belt + 2))}" width="6" height="26" rx="3" fill="#222"/>'
             if s.spare else "")
    handles = "".join(
        f'<rect x="{_n(screen_foot + 24 + span * k / s.windows)}" y="{_n(y(s.belt - 7))}" width="10" height="2.4" '
        f'rx="1.2" fill="#000" opacity=".35"/>'
        for k in range(min(s.windows, 2))
    )
    return (
        f'<ellipse cx="160" cy="{_n(GROUND + 3)}" rx="{_n(s.length / 2 + 6)}" ry="5" fill="#000" opacity=".12"/>'
        f"{arches}"
        f'<path class="paint" d="{body}" fill="{paint}" stroke="#2b2d31" stroke-width="1.2"/>'
        f'<path d="{rocker}" fill="#000" opacity=".18"/>'
        f'<line x1="{_n(left + 8)}" y1="{_n(y(s.belt - 10))}" x2="{_n(right - 6)}" y2="{_n(y(s.belt - 12))}" '
        f'stroke="#000" stroke-opacity=".22" stroke-width="1.4"/>'
        f'<path d="{glass}" fill="#C9DCE8" stroke="#2b2d31" stroke-width="1"/>'
        f'{"".join(pillars)}{handles}{head}{tail_lamp}{spare}{wheels}'
    )


def _wheel(x: float, r: float) -> str:
    cy = GROUND - r
    return (f'<circle cx="{_n(x)}" cy="{_n(cy)}" r="{_n(r)}" fill="#23252a"/>'
            f'<circle cx="{_n(x)}" cy="{_n(cy)}" r="{_n(r * .58)}" fill="#B9BEC4" stroke="#6b7077" stroke-width="1.5"/>'
            f'<circle cx="{_n(x)}" cy="{_n(cy)}" r="{_n(r * .16)}" fill="#55595f"/>')


def _face(s: Shape, paint: str) -> tuple[str, float, float, float]:
    """The body seen head-on or from behind: returns (svg, left edge, right edge, shoulder height)."""
    left, right = 160 - s.width / 2, 160 + s.width / 2
    y = lambda h: GROUND - h  # noqa: E731
    cabin_inset = s.width * (0.17 if s.back in ("box", "hatch") else 0.22)
    body = _rounded([(left, y(s.sill + 4)), (left + 2, y(s.belt)), (right - 2, y(s.belt)), (right, y(s.sill + 4)),
                     (right - 4, y(s.sill - 6)), (left + 4, y(s.sill - 6))], 10)
    cabin = _rounded([(left + 8, y(s.belt)), (left + cabin_inset, y(s.roof)), (right - cabin_inset, y(s.roof)),
                      (right - 8, y(s.belt))], 8)
    glass = _rounded([(left + 16, y(s.belt + 2)), (left + cabin_inset + 5, y(s.roof - 5)),
                      (right - cabin_inset - 5, y(s.roof - 5)), (right - 16, y(s.belt + 2))], 4)
    tyres = "".join(f'<rect x="{_n(x)}" y="{_n(y(s.sill - 4))}" width="22" height="{_n(s.sill - 4)}" rx="4" '
                    f'fill="#1e1f23"/>' for x in (left + 10, right - 32))
    svg = (f'<ellipse cx="160" cy="{_n(GROUND + 2)}" rx="{_n(s.width / 2 + 10)}" ry="5" fill="#000" opacity=".12"/>'
           f"{tyres}"
           f'<path class="paint" d="{cabin}" fill="{paint}" stroke="#2b2d31" stroke-width="1.2"/>'
           f'<path class="paint" d="{body}" fill="{paint}" stroke="#2b2d31" stroke-width="1.2"/>'
           f'<path d="{glass}" fill="#C9DCE8" stroke="#2b2d31" stroke-width="1"/>'
           + "".join(f'<rect class="paint" x="{_n(x)}" y="{_n(y(s.belt + 6))}" width="12" height="8" rx="3" '
                     f'fill="{paint}" stroke="#2b2d31"/>' for x in (left - 8, right - 4)))
    return svg, left, right, s.belt


def _front(s: Shape, d: dict[str, str], paint: str, brand: str) -> str:
    svg, left, right, belt = _face(s, paint)
    y = lambda h: GROUND - h  # noqa: E731
    lamp_y = y(belt - 8)
    if brand == "lincoln":  # a light bar across the nose and the wide cross-hatched grille with its star
        lamps = (f'<rect x="{_n(left + 10)}" y="{_n(lamp_y)}" width="{_n(s.width - 20)}" height="4" rx="2" '
                 f'fill="{d["lamp"]}" stroke="#555" stroke-width=".5"/>')
        grille = (f'<rect x="{_n(160 - s.width * .24)}" y="{_n(lamp_y + 8)}" width="{_n(s.width * .48)}" height="22" '
                  f'rx="5" fill="{d["grille"]}"/>'
                  f'<path d="M160 {_n(lamp_y + 12)} l4 7 l-4 7 l-4 -7 Z" fill="{d["badge"]}"/>')
    else:
        lamp_w = s.width * .2
        lamps = "".join(
            f'<path d="M{_n(x)} {_n(lamp_y)} h{_n(lamp_w)} l-3 7 h-{_n(lamp_w - 6)} Z" fill="{d["lamp"]}" '
            f'stroke="#555" stroke-width=".6" transform="{t}"/>'
            for x, t in ((left + 12, ""), (right - 12 - lamp_w, _mirror(right - 12 - lamp_w, lamp_w))))
        if brand == "renault":  # the C-shaped day-running light and the diamond
            lamps += "".join(f'<path d="M{_n(x)} {_n(lamp_y + 2)} v18 h6" fill="none" stroke="{d["lamp"]}" '
                             f'stroke-width="2"/>' for x in (left + 14, right - 20))
        grille_w = s.width * (.36 if not s.ev else .3)
        grille_fill = d["grille"] if not s.ev else "#000"
        grille = (f'<rect x="{_n(160 - grille_w / 2)}" y="{_n(lamp_y + 2)}" width="{_n(grille_w)}" '
                  f'height="{12 if not s.ev else 6}" rx="4" fill="{grille_fill}" opacity="{1 if not s.ev else .25}"/>')
        if brand == "renault":
            grille += f'<path d="M160 {_n(lamp_y - 1)} l6 9 l-6 9 l-6 -9 Z" fill="{d["badge"]}" stroke="#333"/>'
        else:
            grille += f'<ellipse cx="160" cy="{_n(lamp_y + 8)}" rx="9" ry="4.5" fill="{d["badge"]}" stroke="#fff"/>'
        grille += (f'<rect x="{_n(160 - s.width * .3)}" y="{_n(y(s.sill + 2))}" width="{_n(s.width * .6)}" height="8" '
                   f'rx="3" fill="#1e1f23" opacity=".8"/>')
    plate = f'<rect x="146" y="{_n(y(s.sill + 1))}" width="28" height="7" rx="1" fill="#1f4fa8" stroke="#fff"/>'
    return svg + lamps + grille + plate


def _mirror(x: float, width: float) -> str:
    """A transform that mirrors a shape drawn at x..x+width in place (the right-hand lamp)."""
    return f"translate({_n(2 * x + width)} 0) scale(-1 1)"


def _rear(s: Shape, d: dict[str, str], paint: str, brand: str) -> str:
    svg, left, right, belt = _face(s, paint)
    y = lambda h: GROUND - h  # noqa: E731
    lamp_y = y(belt - 6)
    if brand in ("lincoln",) or s.ev:
        lamps = (f'<rect x="{_n(left + 6)}" y="{_n(lamp_y)}" width="{_n(s.width - 12)}" height="5" rx="2" '
                 f'fill="{d["tail"]}"/>')
    else:
        lamps = "".join(f'<rect x="{_n(x)}" y="{_n(lamp_y)}" width="{_n(s.width * .2)}" height="9" rx="3" '
                        f'fill="{d["tail"]}"/>' for x in (left + 6, right - 6 - s.width * .2))
    badge = (f'<path d="M160 {_n(lamp_y + 8)} l5 7 l-5 7 l-5 -7 Z" fill="{d["badge"]}" stroke="#333"/>'
             if brand == "renault" else
             f'<ellipse cx="160" cy="{_n(lamp_y + 14)}" rx="8" ry="4" fill="{d["badge"]}" stroke="#fff"/>')
    plate = f'<rect x="144" y="{_n(y(s.sill + 14))}" width="32" height="9" rx="1" fill="#1f4fa8" stroke="#fff"/>'
    exhaust = ("" if s.ev else "".join(f'<ellipse cx="{_n(x)}" cy="{_n(y(s.sill - 3))}" rx="5" ry="2.5" fill="#555"/>'
                                       for x in (left + 30, right - 30)))
    spare = (f'<circle cx="160" cy="{_n(y(belt - 22))}" r="17" fill="#222"/>' if s.spare else "")
    return svg + lamps + badge + plate + exhaust + spare


def _interior(s: Shape, d: dict[str, str], paint: str, brand: str) -> str:
    """The dashboard from the driver's seat: wheel, screen (portrait on the EVs), a trim strip in the paint."""
    portrait = s.ev
    screen = ('<rect x="176" y="34" width="34" height="50" rx="4" fill="#111" stroke="#777"/>'
              '<rect x="180" y="38" width="26" height="42" rx="2" fill="#2a5a8a"/>' if portrait else
              '<rect x="160" y="40" width="64" height="30" rx="4" fill="#111" stroke="#777"/>'
              '<rect x="164" y="44" width="56" height="22" rx="2" fill="#2a5a8a"/>')
    return (
        '<rect x="0" y="0" width="320" height="140" fill="#e9ebee"/>'
        '<path d="M10 20 Q160 -6 310 20 L310 64 Q160 52 10 64 Z" fill="#C9DCE8" opacity=".8"/>'
        '<path d="M0 60 Q160 40 320 60 L320 140 L0 140 Z" fill="#2f3136"/>'
        f'<path class="paint" d="M16 76 Q160 60 304 76 L304 82 Q160 66 16 82 Z" fill="{paint}"/>'
        f"{screen}"
        '<circle cx="100" cy="98" r="30" fill="none" stroke="#15161a" stroke-width="9"/>'
        '<circle cx="100" cy="98" r="9" fill="#15161a"/>'
        '<path d="M72 98 h56" stroke="#15161a" stroke-width="6"/>'
        f'<circle cx="100" cy="98" r="4" fill="{d["badge"]}"/>'
        '<rect x="230" y="96" width="70" height="8" rx="4" fill="#44474d"/>'
    )
