"""Car drawings: a small inline SVG per model and view, drawn from the model's proportions in its paint colour.

Each model line has a `Shape` (length, roof height, hood, how the back ends, wheel size, brand details), so a
compact SUV, a three-row SUV, a sedan, a city EV and a coupe-SUV read as different cars. The body carries
`class="paint"` with the colour as its fill: the model page's swatches repaint it in the browser by changing
that fill (app.js), and a page drawn with ?colour= is painted on the server. Inline SVG, no external file, no
inline style (the CSP forbids it), no ids (several drawings share a page).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Literal

from markupsafe import Markup, escape

View = Literal["side", "front34", "front", "rear", "interior"]
VIEWS: tuple[View, ...] = ("side", "front34", "front", "rear", "interior")
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
    body = {"side": _side, "front34": _front34, "front": _front, "rear": _rear,
            "interior": _interior}[view](shape, details, colour, brand)
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


def _profile(s: Shape) -> tuple[list[tuple[float, float]], list[tuple[float, float]], float, float]:
    """The body seen from the left, in (units behind the nose, height above the ground): its outline, the side
    glass, where the roof begins and where it ends."""
    length = s.length
    nose_top = s.belt - (4 if s.back == "box" else 8)
    screen_foot = s.hood
    roof_front = screen_foot + s.screen
    if s.back == "box":
        roof_back, tail_top = length - 10, s.roof - 6
        tail = [(length - 4, tail_top), (length, s.belt - 4)]
    elif s.back == "hatch":
        roof_back, tail_top = length - 22, s.roof - 10
        tail = [(length - 6, tail_top), (length, s.belt - 6)]
    elif s.back == "notch":
        roof_back = length - 78
        tail = [(length - 44, s.belt + 2), (length - 2, s.belt), (length, s.belt - 8)]
    else:  # fastback: the roof slopes into a short tail
        roof_back = roof_front + (length - roof_front) * 0.32
        tail = [(length - 12, s.belt + 4), (length, s.belt - 4)]
    outline = [
        (2, s.sill + 2), (0, nose_top), (screen_foot, s.belt + 2), (roof_front, s.roof), (roof_back, s.roof), *tail,
        (length, s.sill + 2), (length - 6, s.sill), (6, s.sill),
    ]
    # Side glass: from the windscreen's foot to the back, under the roof line.
    glass_top = s.roof - 5
    back_glass = {"box": roof_back - 2, "hatch": roof_back + 2, "notch": length - 50, "fast": length - 30}[s.back]
    back_glass_top = roof_back - 4 if s.back != "fast" else roof_back
    glass = [(screen_foot + 10, s.belt + 3), (roof_front + 3, glass_top), (back_glass_top, glass_top),
             (back_glass, s.belt + 3)]
    return outline, glass, roof_front, roof_back


def _wheel_places(s: Shape) -> tuple[float, float]:
    """The front and rear axles, in units behind the nose."""
    return min(s.hood * 0.55, 44) + 8, s.length - max(38, s.length * 0.17)


def _side(s: Shape, d: dict[str, str], paint: str, brand: str) -> str:
    """Seen from the left, nose on the left."""
    left = (320 - s.length) / 2
    right = left + s.length
    y = lambda h: GROUND - h  # noqa: E731 - heights above the ground to canvas y
    profile, side_glass, _, _ = _profile(s)
    nose_top = profile[1][1]
    screen_foot = left + s.hood
    body = _rounded([(left + u, y(h)) for u, h in profile], 9)
    glass = _rounded([(left + u, y(h)) for u, h in side_glass], 4)
    back_glass = left + side_glass[3][0]
    pillars = []
    span = back_glass - (screen_foot + 10)
    for k in range(1, s.windows):
        x = screen_foot + 10 + span * k / s.windows + 4
        pillars.append(f'<rect class="paint" x="{_n(x)}" y="{_n(y(s.roof))}" width="5" height="{_n(s.roof - s.belt)}" '
                       f'fill="{paint}"/>')
    rocker = _rounded([(left + 4, y(s.sill + 10)), (right - 2, y(s.sill + 10)), (right - 6, y(s.sill)),
                       (left + 6, y(s.sill))], 3)
    front_x, rear_x = (left + u for u in _wheel_places(s))
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


def _front34(s: Shape, d: dict[str, str], paint: str, brand: str) -> str:
    """The front three-quarter view: seen from the front-left corner and a little above, in perspective.

    The car is a few faces in space (u: units behind the nose, h: height above the ground, w: across from the
    left side), each projected onto the canvas: the nose foreshortened on the left with the brand's lamps and
    grille as the front view draws them, the left side receding to the right, the front wheel larger than the rear.
    """
    profile, side_glass, roof_front, roof_back = _profile(s)
    length, width, nose_top, screen_foot = s.length, s.width * 0.78, profile[1][1], s.hood
    tumble = width * 0.12  # the cabin narrows towards the roof
    yaw, distance, eye = math.radians(40), 520.0, 118.0
    cos_y, sin_y = math.cos(yaw), math.sin(yaw)

    def raw(u: float, h: float, w: float) -> tuple[float, float]:
        du, dw = u - length / 2, w - width / 2
        k = distance / (distance + du * sin_y + dw * cos_y)
        return (du * cos_y - dw * sin_y) * k, (eye - h) * k

    box = [raw(u, h, w) for u in (0, length) for h in (0, s.roof) for w in (0, width)]
    min_x, max_x = min(x for x, _ in box), max(x for x, _ in box)
    min_y, max_y = min(y for _, y in box), max(y for _, y in box)
    scale = min(0.9, 304 / (max_x - min_x), 124 / (max_y - min_y))
    shift_x, shift_y = 160 - (min_x + max_x) / 2 * scale, 131 - max_y * scale

    def at(u: float, h: float, w: float = 0.0) -> tuple[float, float]:
        x, y = raw(u, h, w)
        return shift_x + x * scale, shift_y + y * scale

    def path(points: list[tuple[float, float, float]], radius: float = 0, closed: bool = True) -> str:
        flat = [at(*p) for p in points]
        if radius:
            return _rounded(flat, radius)
        return "M" + " L".join(f"{_n(x)} {_n(y)}" for x, y in flat) + (" Z" if closed else "")

    def side(points: list[tuple[float, float]], radius: float = 0) -> str:
        """A shape on the left side, which leans in above the window line."""
        inset = [0.0 if h <= s.belt else tumble * min(1.0, (h - s.belt) / (s.roof - s.belt)) for _, h in points]
        return path([(u, h, w) for (u, h), w in zip(points, inset, strict=True)], radius)

    def box_at(u: float, h: float, du: float, dh: float) -> list[tuple[float, float]]:
        return [(u, h), (u + du, h), (u + du, h - dh), (u, h - dh)]

    # The front view's details (x across that view, h its heights) laid onto the nose.
    f_left, f_right = 160 - s.width / 2, 160 + s.width / 2

    def nose(x: float, h: float) -> tuple[float, float, float]:
        lift = (nose_top - s.sill) / (s.belt - s.sill + 6)
        return 0.0, s.sill + (h - s.sill + 6) * lift, (f_right - x) / s.width * width

    def on_nose(points: list[tuple[float, float]], radius: float = 1.5, closed: bool = True) -> str:
        return path([nose(x, h) for x, h in points], radius, closed)

    def ellipse(centre: tuple[float, float, float], r: float, fill: str, extra: str = "") -> str:
        u, h, w = centre
        cx, cy = at(u, h, w)
        rx = _dist(*at(u - r, h, w), *at(u + r, h, w)) / 2
        ry = _dist(*at(u, h - r, w), *at(u, h + r, w)) / 2
        return f'<ellipse cx="{_n(cx)}" cy="{_n(cy)}" rx="{_n(rx)}" ry="{_n(ry)}" fill="{fill}"{extra}/>'

    front_u, rear_u = _wheel_places(s)
    tyre = width * 0.14
    far_wheel = ellipse((front_u, s.wheel, width - tyre), s.wheel, "#1e1f23")  # under the nose, on the right
    across = (tumble, width - tumble)
    faces = (
        path([(0, s.sill, 0), (0, nose_top, 0), (0, nose_top, width), (0, s.sill, width)], 5),  # nose
        path([(0, nose_top, 0), (0, nose_top, width), (screen_foot, s.belt + 2, width),
              (screen_foot, s.belt + 2, 0)], 3),  # bonnet
        path([(screen_foot, s.belt + 2, 0), (length - 2, s.belt + 2, 0), (length - 2, s.belt + 2, width),
              (screen_foot, s.belt + 2, width)], 3),  # shoulders and boot lid
        path([(screen_foot, s.belt + 2, 1), (roof_front, s.roof, across[0]), (roof_front, s.roof, across[1]),
              (screen_foot, s.belt + 2, width - 1)], 2),  # windscreen pillars
        path([(roof_front, s.roof, across[0]), (roof_back, s.roof, across[0]), (roof_back, s.roof, across[1]),
              (roof_front, s.roof, across[1])], 4),  # roof
        side(profile, 6),  # the left side
    )
    body = "".join(f'<path class="paint" d="{f}" fill="{paint}"/>' for f in faces)
    shading = (f'<path d="{faces[1]} {faces[4]}" fill="#fff" opacity=".22"/>'
               f'<path d="{faces[0]}" fill="#000" opacity=".1"/>')
    screen = path([(screen_foot + 3, s.belt + 4, 5), (roof_front - 1, s.roof - 3, across[0] + 4),
                   (roof_front - 1, s.roof - 3, across[1] - 4), (screen_foot + 3, s.belt + 4, width - 5)], 2)
    glass = f'<path d="{side(side_glass, 3)} {screen}" fill="#C9DCE8" stroke="#2b2d31" stroke-width=".8"/>'
    glass_from, span = side_glass[0][0], side_glass[3][0] - side_glass[0][0]
    pillars = "".join(f'<path class="paint" d="{side(box_at(u, s.roof - 1, 5, s.roof - s.belt - 3))}" fill="{paint}"/>'
                      for u in (glass_from + span * k / s.windows + 4 for k in range(1, s.windows)))
    handles = "".join(f'<path d="{side(box_at(u, s.belt - 7, 10, 2.4))}"/>'
                      for u in (glass_from + 14 + span * k / s.windows for k in range(min(s.windows, 2))))
    mirror = path([(screen_foot + 4, s.belt + 3, 0), (screen_foot + 6, s.belt + 10, -8),
                   (screen_foot + 16, s.belt + 10, -8), (screen_foot + 15, s.belt + 3, 0)], 2)
    crease = path([(8, s.belt - 10, 0), (length - 6, s.belt - 12, 0)], closed=False)
    rocker = side([(6, s.sill + 10), (length - 2, s.sill + 10), (length - 6, s.sill), (6, s.sill)])
    lamp_w = 16 if brand != "lincoln" else 22
    head = side([(2, nose_top - 2), (2 + lamp_w, nose_top - 4), (1 + lamp_w, nose_top - 9), (3, nose_top - 8)])
    details = (
        f'<path d="{crease}" stroke="#000" stroke-opacity=".22" stroke-width="1.2"/>'
        f'<path d="{rocker}" fill="#000" opacity=".18"/>'
        f'<path d="{head}" fill="{d["lamp"]}" stroke="#444" stroke-width=".5"/>'
        f'<path d="{side(box_at(length - 9, s.belt - 2, 8, 6), 1)}" fill="{d["tail"]}"/>'
    )
    # The face, as the front view draws it for the brand.
    lamp_h = s.belt - 8
    if brand == "lincoln":  # the light bar across the nose, the wide grille and its star
        star = [(160, lamp_h - 12), (164, lamp_h - 19), (160, lamp_h - 26), (156, lamp_h - 19)]
        face = (f'<path d="{on_nose(box_at(f_left + 10, lamp_h, s.width - 20, 4))}" fill="{d["lamp"]}"/>'
                f'<path d="{on_nose(box_at(160 - s.width * .24, lamp_h - 8, s.width * .48, 22), 3)}" '
                f'fill="{d["grille"]}"/>'
                f'<path d="{on_nose(star, 0)}" fill="{d["badge"]}"/>')
    else:
        lw = s.width * .2
        lamp = [(f_left + 12, lamp_h), (f_left + 12 + lw, lamp_h), (f_left + 9 + lw, lamp_h - 7),
                (f_left + 15, lamp_h - 7)]
        face = "".join(f'<path d="{on_nose(points)}" fill="{d["lamp"]}" stroke="#555" stroke-width=".5"/>'
                       for points in (lamp, [(320 - x, h) for x, h in lamp]))
        if brand == "renault":  # the C-shaped day-running lights
            face += "".join(
                f'<path d="{on_nose([(x, lamp_h - 2), (x, lamp_h - 18), (x + 6, lamp_h - 18)], 0, False)}" '
                f'fill="none" stroke="{d["lamp"]}" stroke-width="1.6"/>' for x in (f_left + 14, f_right - 20))
        grille_w = s.width * (.36 if not s.ev else .3)
        face += (f'<path d="{on_nose(box_at(160 - grille_w / 2, lamp_h - 2, grille_w, 12 if not s.ev else 6), 2)}" '
                 f'fill="{d["grille"] if not s.ev else "#000"}" opacity="{1 if not s.ev else .25}"/>')
        if brand == "renault":  # the diamond
            diamond = [(160, lamp_h + 1), (166, lamp_h - 8), (160, lamp_h - 17), (154, lamp_h - 8)]
            face += f'<path d="{on_nose(diamond, 0)}" fill="{d["badge"]}" stroke="#333" stroke-width=".6"/>'
        else:  # the oval, narrowed as the nose is
            cx, cy = at(*nose(160, lamp_h - 8))
            rx = _dist(*at(*nose(151, lamp_h - 8)), *at(*nose(169, lamp_h - 8))) / 2
            face += (f'<ellipse cx="{_n(cx)}" cy="{_n(cy)}" rx="{_n(rx)}" ry="{_n(4.3 * scale)}" '
                     f'fill="{d["badge"]}" stroke="#fff" stroke-width=".6"/>')
        intake = box_at(160 - s.width * .3, s.sill + 2, s.width * .6, 8)
        face += f'<path d="{on_nose(intake, 2)}" fill="#1e1f23" opacity=".8"/>'
    face += f'<path d="{on_nose(box_at(146, s.sill + 1, 28, 7), 0)}" fill="#1f4fa8" stroke="#fff" stroke-width=".6"/>'
    wheels = ""
    for u in (rear_u, front_u):  # the tyre's tread shows towards the nose; the rim faces us
        tread = path([(u, s.wheel * 2, tyre), (u, s.wheel * 2, 0), (u, 0, 0), (u, 0, tyre)])
        wheels += (ellipse((u, s.wheel, 0), s.wheel + 3.5, "#1b1c1f", ' opacity=".9"')
                   + ellipse((u, s.wheel, tyre), s.wheel, "#23252a")
                   + f'<path d="{tread}" fill="#23252a"/>'
                   + ellipse((u, s.wheel, 0), s.wheel, "#2c2e33")
                   + ellipse((u, s.wheel, -.5), s.wheel * .58, "#B9BEC4", ' stroke="#6b7077" stroke-width="1.2"')
                   + ellipse((u, s.wheel, -.5), s.wheel * .16, "#55595f"))
    shadow = path([(-8, 0, -8), (length + 8, 0, -8), (length + 8, 0, width + 8), (-8, 0, width + 8)], 24)
    return (
        f'<path d="{shadow}" fill="#000" opacity=".12"/>{far_wheel}'
        f'<g stroke="#2b2d31" stroke-width="1" stroke-linejoin="round">{body}</g>{shading}{glass}{pillars}'
        f'<g fill="#000" opacity=".35">{handles}</g>'
        f'<path class="paint" d="{mirror}" fill="{paint}" stroke="#2b2d31" stroke-width=".8"/>'
        f"{details}{face}{wheels}"
    )


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
