"""The explorer in a real browser: Playwright driving Debian's chromium (headless) against a
real uvicorn server. Skipped, loudly, where chromium is missing; a failure when CI is set.

Every test records every request the page makes (only the local server may be asked) and every
console error. Screenshots go to test-artifacts/ (gitignored); look at them."""
import math
import re
import warnings
from pathlib import Path

import numpy as np
import pytest

import convgrad as cg
import convgrad.functional as F
from browser import CHROMIUM_ARGS, chromium_or_skip, running_server
from convgrad.web.image import encode_png

pytestmark = pytest.mark.browser
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
RICH = ("op=conv2d&in=5x5&c=2&cout=2&g=1&bias=1&k=3x3&s=1x1&p=same&pm=reflect&d=1x1"
        "&x=" + ",".join(str((7 * k) % 5 - 1) for k in range(50))
        + "&w=" + ",".join(str((k % 3) - 1) for k in range(36)) + "&b=0.5,-1")


@pytest.fixture(scope="module")
def browser():
    path = chromium_or_skip()
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS,
                                              headless=True)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def server():
    with running_server() as url:
        yield url


class Recorder:
    def __init__(self, page, origin):
        self.origin = origin
        self.requests, self.errors = [], []
        page.on("request", lambda request: self.requests.append(request.url))
        page.on("console", lambda message: message.type == "error"
                and self.errors.append(message.text))
        page.on("pageerror", lambda error: self.errors.append(f"page error: {error}"))

    def check(self, allowed_errors=()):
        outside = [url for url in self.requests if not url.startswith(self.origin + "/")]
        assert not outside, f"requests to something other than the local server: {outside}"
        errors = [e for e in self.errors if not any(re.search(a, e) for a in allowed_errors)]
        assert not errors, f"console errors: {errors}"


def open_page(browser, server, query="", width=1280, height=800):
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    recorder = Recorder(page, server)
    with page.expect_response(lambda r: "/api/" in r.url):
        page.goto(f"{server}/?{query}" if query else f"{server}/")
    settle(page)
    return context, page, recorder


@pytest.fixture
def page(browser, server):
    context, page, recorder = open_page(browser, server)
    yield page, recorder
    context.close()


def settle(page):
    """Wait until the latest answer is drawn."""
    page.wait_for_function("() => window.convgradExplore && "
                           "!document.body.classList.contains('busy')")
    page.wait_for_timeout(50)


def act(page, action):
    """Do ``action``, which makes the page ask the API; wait for the answer to be drawn."""
    with page.expect_response(lambda r: "/api/" in r.url):
        action()
    settle(page)


def grid_values(page, grid_id, kind=None):
    """{index tuple: value} of the cells in a grid (their exact values, from data-value)."""
    selector = f"#{grid_id} .cell" + (f".{kind}" if kind else "")
    pairs = page.eval_on_selector_all(
        selector, "els => els.map(e => [e.dataset.index, e.dataset.value])")
    return {tuple(int(i) for i in index.split(",")): float(value) for index, value in pairs}


def as_array(cells):
    shape = tuple(max(index[k] for index in cells) + 1 for k in range(len(next(iter(cells)))))
    out = np.zeros(shape)
    for index, value in cells.items():
        out[index] = value
    return out


def marked(page, grid_id, class_name):
    return {tuple(int(i) for i in s.split(",")) for s in page.eval_on_selector_all(
        f"#{grid_id} .cell.{class_name}", "els => els.map(e => e.dataset.index)")}


def set_axis(page, field, axis, value):
    act(page, lambda: page.fill(f"input[data-field={field}][data-axis='{axis}']:visible",
                                str(value)))


# ------------------------------------------------------------------ tests
def test_page_loads_clean_and_shows_the_notes_example(page, server):
    page, recorder = page
    assert page.title() == "convgrad explore"
    output = as_array(grid_values(page, "output-grids"))
    np.testing.assert_array_equal(output[0], [[1, 0, 1], [2, 2, 2], [1, 2, 1]])
    assert "= 3" in page.text_content("#axes")
    assert "agrees" in page.text_content("#engine")
    assert page.is_hidden("#message")
    assert "144" in page.text_content("#dense")
    recorder.check()
    assert any("/api/conv2d" in url for url in recorder.requests)
    assert any(url.endswith("/static/app.js") for url in recorder.requests)


def test_stride_and_padding_update_the_output_to_the_engines(page):
    page, recorder = page
    set_axis(page, "stride", 0, 2)
    set_axis(page, "stride", 1, 2)
    set_axis(page, "padding", 0, 1)
    set_axis(page, "padding", 1, 1)
    x = as_array(grid_values(page, "input-grids", "input"))
    w = as_array(grid_values(page, "weight-grids"))
    expected = F.conv2d(cg.tensor(x[None]), cg.tensor(w), stride=2, padding=1).numpy()[0]
    shown = as_array(grid_values(page, "output-grids"))
    assert shown.shape == expected.shape == (1, 3, 3)
    np.testing.assert_allclose(shown, expected, rtol=1e-12)
    assert "⌊(4 + 2·1 − 1·(2−1) − 1)/2⌋ + 1 = 3" in page.text_content("#axes")
    # dilation and stride 1 again: a different output, again the engine's
    set_axis(page, "stride", 0, 1)
    set_axis(page, "dilation", 1, 2)
    expected = F.conv2d(cg.tensor(x[None]), cg.tensor(w), stride=(1, 2), padding=1,
                        dilation=(1, 2)).numpy()[0]
    np.testing.assert_allclose(as_array(grid_values(page, "output-grids")), expected)
    recorder.check()


def test_picking_a_weight_highlights_its_inputs_and_outputs(page):
    page, recorder = page
    set_axis(page, "stride", 0, 2)
    set_axis(page, "stride", 1, 2)
    set_axis(page, "padding", 0, 1)
    set_axis(page, "padding", 1, 1)
    page.click("[data-key='w:0,0,1,0']")
    # w[σ=1, τ=0] multiplies x[2i + 1 − 1, 2j + 0 − 1] for every output (i, j) in 3×3
    expected_inputs = {(0, 2 * i, 2 * j - 1) for i in range(3) for j in range(3)}
    assert marked(page, "input-grids", "w-use") == expected_inputs
    assert marked(page, "output-grids", "w-out") == {(0, i, j) for i in range(3) for j in range(3)}
    assert marked(page, "weight-grids", "picked") == {(0, 0, 1, 0)}
    padding_uses = {index for index in expected_inputs if index[1] > 3 or index[2] < 0}
    assert padding_uses and marked(page, "input-grids", "padding.w-use") == padding_uses
    detail = page.text_content("#sharing-detail")
    assert "used 9 times" in detail
    # its gradient is the sum of those 9 uses (∂L/∂y = 1): the sum of the cells it multiplied
    x = grid_values(page, "input-grids")
    total = sum(x[index] for index in expected_inputs)
    assert f"∂L/∂w[0, 0, 1, 0] = {int(total)}" in detail
    # an edited upstream gradient changes the sum
    page.click("[data-key='gy:0,1,1']")
    act(page, lambda: (page.fill("#grad-output-grids .cell-editor", "3"),
                       page.press("#grad-output-grids .cell-editor", "Enter")))
    weighted = total + 2 * x[(0, 2, 1)]
    assert f"∂L/∂w[0, 0, 1, 0] = {int(weighted)}" in page.text_content("#sharing-detail")
    # in edit mode one click edits a kernel value; the output follows
    page.check("input[name=click][value=edit]")
    page.click("[data-key='w:0,0,0,0']")
    act(page, lambda: (page.fill("#weight-grids .cell-editor", "-2"),
                       page.press("#weight-grids .cell-editor", "Enter")))
    w = as_array(grid_values(page, "weight-grids"))
    assert w[0, 0, 0, 0] == -2
    x_all = as_array(grid_values(page, "input-grids", "input"))
    expected = F.conv2d(cg.tensor(x_all[None]), cg.tensor(w), stride=2, padding=1).numpy()[0]
    np.testing.assert_allclose(as_array(grid_values(page, "output-grids")), expected)
    recorder.check()


def test_stepping_through_the_outputs(page):
    page, recorder = page
    page.click("#step-next")
    assert page.text_content("#step-position") == "output 2 of 9"
    assert marked(page, "output-grids", "cur") == {(0, 0, 1)}
    assert marked(page, "input-grids", "win") == {(0, 0, 1), (0, 0, 2), (0, 1, 1), (0, 1, 2)}
    assert "y[0, 0, 1] = 0" in page.text_content("#window-detail")
    page.click("#step-prev")
    page.click("#step-prev")  # wraps around to the last output
    assert page.text_content("#step-position") == "output 9 of 9"
    page.hover("[data-key='y:0,1,0']")
    assert "y[0, 1, 0] = 2" in page.text_content("#window-detail")
    page.mouse.move(0, 0)
    page.fill("#speed", "5")
    page.dispatch_event("#speed", "input")
    page.click("#step-play")
    page.wait_for_function("() => window.convgradExplore.state().cursor >= 2", timeout=5000)
    page.click("#step-play")
    stopped = page.evaluate("window.convgradExplore.state().cursor")
    page.wait_for_timeout(400)
    assert page.evaluate("window.convgradExplore.state().cursor") == stopped
    recorder.check()


def test_impossible_settings_show_their_message(page):
    page, recorder = page
    act(page, lambda: page.select_option("#padding-kind", "same"))
    set_axis(page, "stride", 0, 2)
    message = page.text_content("#message")
    assert page.is_visible("#message") and "padding='same' needs stride 1" in message
    assert "stale" in page.get_attribute("#view", "class")
    assert page.query_selector_all("#output-grids .cell")  # the last valid view stays
    set_axis(page, "stride", 0, 1)
    assert page.is_hidden("#message")
    assert "stale" not in page.get_attribute("#view", "class")
    act(page, lambda: page.fill("#cin", "2"))
    act(page, lambda: page.fill("#groups", "2"))
    assert "groups=2 must divide the output channels" in page.text_content("#message")
    assert invalid_controls(page) == {"groups"}  # the field is marked
    act(page, lambda: page.fill("#groups", "1"))
    act(page, lambda: page.select_option("#padding-kind", "valid"))
    set_axis(page, "kernel", 0, 6)
    assert "must be at least 1" in page.text_content("#message")
    recorder.check(allowed_errors=[r"status of 422"])


def invalid_controls(page) -> set:
    """The settings marked as the subject of the message (visible ones)."""
    return set(page.eval_on_selector_all(
        "#settings .invalid", "els => els.filter(e => e.offsetParent).map(e => e.id || "
        "`${e.dataset.field}${e.dataset.axis}`)"))


def open_link(browser, server, query):
    """The page opened from a link whose first answer may be an error (no settle on 200)."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    recorder = Recorder(page, server)
    with page.expect_response(lambda r: "/api/" in r.url) as response:
        page.goto(f"{server}/?{query}")
    page.wait_for_selector("#message:not([hidden])")
    settle(page)
    return context, page, recorder, response.value


def test_an_impossible_link_keeps_the_page_and_marks_the_field(browser, server):
    context, page, recorder, response = open_link(
        browser, server, "op=max_pool2d&in=4x4&c=1&k=2x2&s=auto&p=2x2")
    assert response.status == 422
    message = page.text_content("#message")
    assert message.startswith("Not possible: ") and "at most half the kernel size" in message
    # the page stays: the operation's example, dimmed, and the padding marked as typing does
    page.wait_for_selector("#output-grids .cell")
    assert page.is_visible("#controls") and "stale" in page.get_attribute("#view", "class")
    assert "example is shown dimmed" in page.text_content("#message")
    assert invalid_controls(page) == {"padding0", "padding1"}
    assert page.get_attribute("input[data-field=padding][data-axis='0']:visible",
                              "aria-invalid") == "true"
    page.screenshot(path=str(ARTIFACTS / "explore-impossible-link.png"))
    set_axis(page, "padding", 0, 1)
    set_axis(page, "padding", 1, 1)
    assert page.is_hidden("#message") and page.is_visible("#output-grids .cell")
    assert "stale" not in page.get_attribute("#view", "class") and not invalid_controls(page)
    recorder.check(allowed_errors=[r"status of 422"])
    context.close()


def test_a_link_with_an_out_of_range_setting_says_so_and_marks_it(browser, server):
    ARTIFACTS.mkdir(exist_ok=True)
    context, page, recorder, response = open_link(browser, server,
                                                  "op=conv2d&in=4x4&k=99x2&s=0x1&pm=mirror")
    assert response.status == 200  # the settings it could use are shown, not refused
    message = page.text_content("#message")
    assert message.startswith("From the link: ")
    for said in ("k=99x2 is not an integer from 1 to 7", "s=0x1 is not an integer from 1 to 6 "
                 "(or two, as HxW); 1×1 is shown instead", "pm=mirror"):
        assert said in message, message
    assert invalid_controls(page) == {"kernel0", "kernel1", "stride0", "stride1", "padding-mode"}
    assert "stale" not in page.get_attribute("#view", "class")
    page.screenshot(path=str(ARTIFACTS / "explore-link-notice.png"))
    set_axis(page, "kernel", 0, 3)  # any change: the link's notice has been read
    assert page.is_hidden("#message") and not invalid_controls(page)
    recorder.check()
    context.close()


def test_a_link_too_large_to_show_says_it_is_the_explorers_bound(browser, server):
    context, page, recorder, response = open_link(
        browser, server, "op=conv2d&in=16x16&c=4&cout=4&k=3x3&s=1x1&p=0x0")
    assert response.status == 422
    message = page.text_content("#message")
    assert message.startswith("Too large to show: ") and "Not possible" not in message
    assert "the explorer's size bound of 4096" in message
    assert invalid_controls(page) == {"size0", "size1", "cin"}
    recorder.check(allowed_errors=[r"status of 422"])
    context.close()


def test_the_form_offers_no_size_the_bound_refuses(page):
    page, recorder = page
    act(page, lambda: page.fill("#cin", "4"))
    act(page, lambda: page.fill("#cout", "4"))
    set_axis(page, "kernel", 0, 3)
    set_axis(page, "kernel", 1, 3)
    set_axis(page, "size", 0, 16)  # 16×4: 14·2 outputs · 4·4 channels · 9 taps = 4032 products
    assert page.is_hidden("#message")
    width = "input[data-field=size][data-axis='1']:visible"
    top = int(page.get_attribute(width, "max"))
    assert top == 4  # 16×5 would be 14·3·144 = 6048 products, over the bound of 4096
    # typing more than is offered gives the most that is offered, not an error
    page.fill(width, "16")  # (the setting stays 4: nothing to ask the API)
    page.press(width, "Tab")
    settle(page)
    assert page.is_hidden("#message"), page.text_content("#message")
    assert page.evaluate("window.convgradExplore.state().size") == [16, 4]
    assert page.input_value(width) == "4"
    recorder.check()


def test_the_pages_trace_size_is_the_explainers(page):
    """The form's bound uses the page's own count of a trace's products and elements; it must
    be explain's (a setting the page offers must never be refused as too large)."""
    import random

    from convgrad import explain
    page, recorder = page
    rng = random.Random(7)
    states = []
    for _ in range(60):
        family = rng.choice(["conv", "transpose", "max", "avg"])
        dims = rng.choice([1, 2])
        axes = lambda low, high: [rng.randint(low, high) for _ in range(dims)]  # noqa: E731
        states.append(dict(
            family=family, dims=dims, size=axes(1, 8), cin=rng.randint(1, 4),
            cout=rng.randint(1, 4), groups=rng.choice([1, 2]), kernel=axes(1, 4),
            stride=axes(1, 3), strideAuto=rng.random() < 0.3, padding=axes(0, 2),
            paddingKind=rng.choice(["int", "int", "valid"]), dilation=axes(1, 2),
            outputPadding=[0] * dims, ceilMode=rng.random() < 0.5))
    sizes = page.evaluate("""async (states) => {
        const m = await import('/static/state.js');
        return states.map((s) => m.traceSize(s));
    }""", states)
    compared = 0
    for s, size in zip(states, sizes):
        x = np.ones((s["cin"], *s["size"][:s["dims"]]))
        op = {"conv": f"conv{s['dims']}d", "transpose": f"conv_transpose{s['dims']}d",
              "max": f"max_pool{s['dims']}d", "avg": f"avg_pool{s['dims']}d"}[s["family"]]
        if s["family"] in ("conv", "transpose"):
            first, second = ((s["cout"], max(1, s["cin"] // s["groups"])) if s["family"] == "conv"
                             else (s["cin"], max(1, s["cout"] // s["groups"])))
            kwargs = dict(weight=np.ones((first, second, *s["kernel"])), stride=s["stride"],
                          dilation=s["dilation"], groups=s["groups"])
            kwargs["padding"] = (s["padding"] if s["family"] == "transpose"
                                 or s["paddingKind"] == "int" else s["paddingKind"])
        else:
            kwargs = dict(kernel_size=s["kernel"], padding=s["padding"], ceil_mode=s["ceilMode"],
                          stride=None if s["strideAuto"] else s["stride"])
            if s["family"] == "max":
                kwargs["dilation"] = s["dilation"]
        try:
            trace = explain.trace(op, x, **kwargs, backward=False, max_products=10 ** 9)
        except explain.TraceError:
            continue  # impossible settings: the API says why; the page's count does not matter
        with pytest.raises(explain.TraceTooLarge) as counted:  # explain's count of products
            explain.trace(op, x, **kwargs, backward=False, max_products=0)
        assert size == {"products": counted.value.count,
                        "elements": x.size + int(np.prod(trace.output_shape))}, (s, size)
        compared += 1
    assert compared >= 30
    recorder.check()


def test_the_snippet_on_the_page_gives_the_pages_output(browser, server):
    context, page, recorder = open_page(browser, server, RICH)
    code = page.text_content("#snippet")
    namespace = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exec(compile(code, "<page snippet>", "exec"), namespace)
    shown = as_array(grid_values(page, "output-grids"))
    np.testing.assert_allclose(namespace["y"].detach().numpy()[0], shown, rtol=1e-12,
                               atol=1e-12)
    grad_w = as_array(grid_values(page, "grad-weight-grids"))
    np.testing.assert_allclose(namespace["w"].grad.numpy(), grad_w, rtol=1e-12)
    assert "padding_mode='reflect'" in code and "F.pad" in code
    recorder.check()
    context.close()


def test_the_url_reproduces_the_view(browser, server):
    context, page, recorder = open_page(browser, server)
    act(page, lambda: page.select_option("#family", "avg"))
    set_axis(page, "kernel", 0, 3)
    set_axis(page, "padding", 0, 1)
    act(page, lambda: page.check("#ceil-mode"))
    page.dblclick("[data-key='x:0,1,1']")
    act(page, lambda: (page.fill("#input-grids .cell-editor", "1/4"),
                       page.press("#input-grids .cell-editor", "Enter")))
    page.click("[data-key='gx:0,2,2']")
    page.click("#step-next")
    page.wait_for_timeout(150)
    url = page.url
    before = grid_values(page, "output-grids")
    assert grid_values(page, "input-grids")[(0, 1, 1)] == 0.25
    other, again, recorder2 = open_page(browser, server, url.split("?", 1)[1])
    assert grid_values(again, "output-grids") == before
    assert again.input_value("#family") == "avg"
    assert again.is_checked("#ceil-mode")
    assert again.input_value("input[data-field=kernel][data-axis='0']:visible") == "3"
    assert marked(again, "input-grids", "picked") == {(0, 2, 2)}
    assert again.text_content("#step-position").startswith("output 2 of")
    recorder.check()
    recorder2.check()
    context.close()
    other.close()


def _boxes(page, selectors):
    return page.evaluate("""(selectors) => {
        const out = [];
        for (const selector of selectors) {
            document.querySelectorAll(selector).forEach((el, k) => {
                const r = el.getBoundingClientRect();
                const style = getComputedStyle(el);
                if (r.width > 0 && r.height > 0 && style.visibility !== 'hidden')
                    out.push({name: `${selector}#${k}`, x: r.left + scrollX, y: r.top + scrollY,
                              w: r.width, h: r.height});
            });
        }
        return out;
    }""", selectors)


def _overlaps(boxes):
    found = []
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            dx = min(a["x"] + a["w"], b["x"] + b["w"]) - max(a["x"], b["x"])
            dy = min(a["y"] + a["h"], b["y"] + b["h"]) - max(a["y"], b["y"])
            if dx > 1 and dy > 1:
                found.append((a["name"], b["name"], round(dx), round(dy)))
    return found


LAYOUT_GROUPS = [
    ["header.top", "#layer-mode > .controls", "#message", "#view > .card", "footer.foot"],
    ["#settings .row:not([hidden])", "#settings legend"],
    ["#forward-card .legend", "#forward-card .grid-group", "#stepper", "#window-detail"],
    ["#stepper > *"],
    ["#backward-card .grid-group", "#sharing-detail"],
]


@pytest.mark.parametrize("width, height", [(1280, 800), (390, 844)])
def test_screenshots_and_nothing_overlaps(browser, server, width, height):
    ARTIFACTS.mkdir(exist_ok=True)
    context, page, recorder = open_page(browser, server, RICH, width, height)
    page.click("[data-key='w:1,0,1,1']")
    page.hover("[data-key='y:0,1,2']")
    name = f"{width}x{height}"
    page.screenshot(path=str(ARTIFACTS / f"explore-{name}-full.png"), full_page=True,
                    animations="disabled")
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(ARTIFACTS / f"explore-{name}.png"), animations="disabled")
    if page.is_visible("#settings-panel summary"):
        page.click("#settings-panel summary")  # small screens fold the settings away
    for group in LAYOUT_GROUPS:
        overlaps = _overlaps(_boxes(page, group))
        assert not overlaps, f"{name}: overlapping {overlaps}"
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= width, f"{name}: the page is {scroll_width}px wide"
    for card in page.query_selector_all("#layer-mode .card, #layer-mode .controls"):
        box = card.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= width + 0.5, box
    # image mode, at the same size
    with page.expect_response(lambda r: r.url.endswith("/api/image")):
        page.click("#tab-image")
    page.wait_for_timeout(200)
    page.screenshot(path=str(ARTIFACTS / f"explore-image-{name}.png"), full_page=True,
                    animations="disabled")
    overlaps = _overlaps(_boxes(page, ["header.top", "#image-mode > .controls",
                                       "#image-view > .card"]))
    assert not overlaps, f"{name} image mode: overlapping {overlaps}"
    overlaps = _overlaps(_boxes(page, [".image-panel"]))
    assert not overlaps, f"{name} image mode panels: overlapping {overlaps}"
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    recorder.check()
    context.close()


def test_image_mode_presets_and_upload(browser, server):
    from playwright.sync_api import expect   # retries: the page renders after the response
    context, page, recorder = open_page(browser, server)
    with page.expect_response(lambda r: r.url.endswith("/api/image")):
        page.click("#tab-image")
    page.wait_for_selector("#image-presets button")
    assert "convgrad.functional.conv2d" in page.text_content("#image-engine")
    assert page.evaluate("[document.getElementById('image-out').width, "
                         "document.getElementById('image-out').height]") == [96, 96]
    with page.expect_response(lambda r: r.url.endswith("/api/image")):
        page.click("[data-preset=box_blur]")
    page.wait_for_function("() => location.search.includes('preset=box_blur')")
    expect(page.locator("#image-mapping-text")).to_contain_text("0 → black, 1 → white")
    with page.expect_response(lambda r: r.url.endswith("/api/image")):
        page.click("[data-preset=laplacian]")
    expect(page.locator("#image-mapping-text")).to_contain_text("mid-gray")
    # the canvas shows the API's gray levels exactly
    drawn = page.evaluate("""() => {
        const c = document.getElementById('image-out');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        return Array.from({length: c.width * c.height}, (_, k) => d[4 * k]);
    }""")
    levels = page.evaluate("window.convgradExplore.imageAnswer().display.pixels")
    assert drawn == [v for row in levels for v in row]
    # an upload: a 40×30 ramp, decoded by the page to gray levels in [0, 1]
    ramp = (np.arange(30)[None, :] * 8 + np.arange(40)[:, None] * 2).astype(np.uint8)
    with page.expect_request(lambda r: r.url.endswith("/api/image")) as request:
        page.set_input_files("#image-upload", files=[{
            "name": "ramp.png", "mimeType": "image/png", "buffer": encode_png(ramp)}])
    sent = np.asarray(request.value.post_data_json["image"])
    np.testing.assert_allclose(sent, np.round(ramp / 255, 4), atol=1e-4)
    page.wait_for_function("() => document.getElementById('image-out').width === 30")
    assert "Your image: 30×40" in page.text_content("#image-source")
    # an impossible image setting is an inline message
    with page.expect_response(lambda r: r.url.endswith("/api/image")):
        page.fill("#image-stride", "2")
    page.wait_for_selector("#image-message:not([hidden])")
    assert "needs stride 1" in page.text_content("#image-message")
    recorder.check(allowed_errors=[r"status of 422"])
    context.close()


def test_minus_infinity_and_a_layer_link_opening_image_mode(browser, server):
    # a max-pooling window entirely in padding: the output is −∞ and the engine agrees
    context, page, recorder = open_page(
        browser, server, "op=max_pool1d&in=2&c=1&k=2&s=2&p=1&pm=zeros&d=3&x=1,2")
    assert grid_values(page, "output-grids") == {(0, 0): -math.inf}
    assert page.text_content("#output-grids .cell") == "−∞"
    assert "agrees" in page.text_content("#engine")
    # the layer link's s, p and pm are the layer's: image mode opens with its own defaults
    # (the layer's stride 2 with image mode's 'same' padding would be refused)
    with page.expect_response(lambda r: r.url.endswith("/api/image")):
        page.click("#tab-image")
    page.wait_for_selector("#image-presets button")
    assert [page.input_value(f"#{control}") for control in
            ("image-stride", "image-padding", "image-padding-mode")] == ["1", "same", "reflect"]
    assert page.is_hidden("#image-message")
    recorder.check()
    context.close()


def test_switching_operations_and_dimensions(page):
    page, recorder = page
    act(page, lambda: page.select_option("#family", "transpose"))
    assert set(grid_values(page, "weight-grids").values()) == {1.0}  # the kernel carries over
    assert len(recorder.requests) and page.evaluate("window.convgradExplore.answer().op") == \
        "conv_transpose2d"
    for family, dims in [("transpose", 2), ("max", 2), ("conv", 1), ("avg", 1), ("max", 1)]:
        if page.input_value("#family") != family:
            act(page, lambda: page.select_option("#family", family))
        if page.is_checked(f"input[name=dims][value='{dims}']") is False:
            act(page, lambda: page.check(f"input[name=dims][value='{dims}']"))
        op = page.evaluate("window.convgradExplore.answer().op")
        assert op == {"conv": "conv", "transpose": "conv_transpose", "max": "max_pool",
                      "avg": "avg_pool"}[family] + f"{dims}d"
        assert page.is_hidden("#message"), page.text_content("#message")
        answer = page.evaluate("window.convgradExplore.answer()")
        shown = grid_values(page, "output-grids")
        flat = np.asarray(answer["trace"]["output"]).ravel()
        assert len(shown) == flat.size and not any(math.isnan(v) for v in shown.values())
        assert sorted(shown.values()) == sorted(flat.tolist())
    recorder.check()


# ------------------------------------------------------------------ landscape mode
@pytest.fixture(scope="module")
def landscape_server(tmp_path_factory):
    from landscape_support import make_landscapes
    folder = make_landscapes(tmp_path_factory.mktemp("browser-landscapes"))
    with running_server(landscapes=folder) as url:
        yield url


def _shown(value):
    """grids.js's fmt() of a loss: 3 decimals below 1, else 2, trailing zeros dropped."""
    return f"{round(value, 3 if abs(value) < 1 else 2):g}".replace("-", "−")


def _open_landscapes(browser, url, width, height, query="mode=landscape"):
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    recorder = Recorder(page, url)
    page.goto(f"{url}/?{query}")
    page.wait_for_selector("#landscape-panels[data-ready=true]", state="attached")
    page.wait_for_timeout(100)
    return context, page, recorder


@pytest.mark.parametrize("width, height", [(1280, 800), (390, 844)])
def test_landscape_view_side_by_side_hover_and_rotation(browser, landscape_server, width,
                                                        height):
    ARTIFACTS.mkdir(exist_ok=True)
    context, page, recorder = _open_landscapes(browser, landscape_server, width, height)
    answers = page.evaluate("window.convgradExplore.landscapeAnswers()")
    assert [a["name"] for a in answers] == ["plain1d", "resnet1d"]
    panels = page.query_selector_all(".landscape-panel")
    assert [p.get_attribute("data-name") for p in panels] == ["plain1d", "resnet1d"]
    for panel, answer in zip(panels, answers):
        numbers = panel.text_content()
        assert _shown(answer["hessian"]["lambda_max"]) in numbers
        assert _shown(answer["centre"]["loss"]) in numbers
    # hover the middle of each contour map: the grid point (4, 4) of the 9 × 9, θ* itself
    for k, answer in enumerate(answers):
        canvas = page.locator(".landscape-contour").nth(k)
        canvas.scroll_into_view_if_needed()
        box = canvas.bounding_box()
        left, top = box["x"] + 34, box["y"] + 8            # the plot's margins (landscape.js)
        page.mouse.move(left + (box["width"] - 42) / 2, top + (box["height"] - 34) / 2)
        readout = page.locator(".landscape-readout").nth(k)
        assert readout.get_attribute("data-cell") == "4,4"
        text = readout.text_content()
        assert text.startswith("α = 0, β = 0: loss ") and _shown(answer["loss"][4][4]) in text
        assert answer["loss"][4][4] == answer["centre"]["loss"]
    # dragging one surface turns both (and the slider)
    surfaces = page.locator(".landscape-surface")
    before = [surfaces.nth(k).evaluate("c => c.toDataURL()") for k in (0, 1)]
    azimuth = page.input_value("#landscape-azimuth")
    surfaces.nth(0).scroll_into_view_if_needed()
    box = surfaces.nth(0).bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] / 2 + 80, box["y"] + box["height"] / 2 + 20,
                    steps=5)
    page.mouse.up()
    after = [surfaces.nth(k).evaluate("c => c.toDataURL()") for k in (0, 1)]
    assert before[0] != after[0] and before[1] != after[1]
    assert page.input_value("#landscape-azimuth") != azimuth
    name = f"{width}x{height}"
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(ARTIFACTS / f"explore-landscape-{name}.png"), full_page=True,
                    animations="disabled")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    overlaps = _overlaps(_boxes(page, ["header.top", "#landscape-mode > .controls",
                                       ".landscape-panel", "#landscape-profiles"]))
    assert not overlaps, f"{name} landscape mode: overlapping {overlaps}"
    recorder.check()
    context.close()


def test_landscape_choices_colour_and_link(browser, landscape_server):
    context, page, recorder = _open_landscapes(
        browser, landscape_server, 1280, 800, "mode=landscape&a=resnet1d&b=-&show=accuracy")
    assert page.eval_on_selector_all(".landscape-panel", "ps => ps.map(p => p.dataset.name)") \
        == ["resnet1d"]                                   # the link's choice, one run
    assert page.input_value("#landscape-show") == "accuracy"
    with page.expect_response(lambda r: "/api/landscapes/" in r.url):
        page.select_option("#landscape-b", "plain1d")
    page.wait_for_selector("#landscape-panels[data-ready=true] .landscape-panel >> nth=1")
    page.wait_for_timeout(150)
    assert "mode=landscape&a=resnet1d&b=plain1d&show=accuracy" in page.url
    # a name that is not in the list is never asked for
    context.close()
    context, page, recorder = _open_landscapes(browser, landscape_server, 1280, 800,
                                               "mode=landscape&a=..%2F..%2Fetc&b=nothing")
    asked = [url for url in recorder.requests if "/api/landscapes/" in url]
    assert sorted(asked) == [f"{landscape_server}/api/landscapes/plain1d",
                             f"{landscape_server}/api/landscapes/resnet1d"]
    recorder.check()
    context.close()


def test_landscape_view_without_a_folder_says_how_to_get_one(browser, server):
    context, page, recorder = _open_landscapes(browser, server, 1280, 800)
    assert "convgrad explore --landscapes DIR" in page.text_content("#landscape-message")
    assert page.query_selector_all(".landscape-panel") == []
    recorder.check()
    context.close()
