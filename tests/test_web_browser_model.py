"""The explorer's model view in a real browser (Playwright driving Debian's chromium, headless)
against a real server with a folder of trained runs: an example picked (by number, by class,
among the misclassified), drawn, a feature-map cell clicked, a weight's contributions summing
to the engine's gradient, the checkpoint slider changing the filters, skips drawn for residual
nets.  Every test records the page's requests (only the local server) and console errors.
Screenshots at desktop and phone width go to test-artifacts/; look at them."""
import math
from urllib.parse import parse_qs, urlparse

import numpy as np
import pytest

import convgrad as cg
from browser import running_server
from convgrad.inspect import examine
from convgrad.web.runs import RunFolders
from model_runs import data_environment, run_dir, runs_folder
from test_web_browser import ARTIFACTS, Recorder, _boxes, _overlaps, browser, settle  # noqa: F401

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server():
    with data_environment(), running_server(runs=RunFolders(runs_folder())) as url:
        yield url


def open_model(browser, server, query, width=1280, height=900):
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    recorder = Recorder(page, server)
    page.goto(f"{server}/?mode=model&{query}")
    settle(page)
    page.wait_for_function("() => !document.getElementById('model-view').hidden")
    return context, page, recorder


def act(page, action):
    """Do ``action``, which asks /api/model; wait until every answer is drawn."""
    with page.expect_response(lambda r: "/api/model/" in r.url):
        action()
    settle(page)


def shown(page) -> dict:
    return page.evaluate("window.convgradExplore.modelAnswer()")


def state_in_url(page) -> dict:
    page.wait_for_timeout(150)          # the page writes its URL 60 ms after a change
    return {key: values[0] for key, values in parse_qs(urlparse(page.url).query).items()}


def click_cell(page, selector, tile, r, c):
    """Click cell (r, c) of tile ``tile`` of a heat-map canvas, from its drawn geometry."""
    geometry = page.eval_on_selector(selector, "el => ({...el.dataset})")
    cell, gap, columns = (float(geometry[k]) for k in ("cell", "gap", "columns"))
    tile_w, tile_h, label = (float(geometry[k]) for k in ("tileWidth", "tileHeight", "label"))
    x = (tile % columns) * (tile_w + gap) + (c + 0.5) * cell
    y = (tile // columns) * (tile_h + gap) + label + (r + 0.5) * cell
    act(page, lambda: page.click(selector, position={"x": x, "y": y}))


def examined(name, example, checkpoint="last"):
    loaded = cg.load_run(run_dir(name), checkpoint=checkpoint)
    label = int(loaded.data.test_y[example])
    return loaded, examine(loaded.model, loaded.data.test_x[example], label)


def strongest_weight(seen, layer) -> tuple:
    """The weight of ``layer`` with the largest gradient for this example (not a dead one,
    whose contributions would all be 0)."""
    grad = seen.weight_grads[f"{layer}.weight"]
    return tuple(int(i) for i in np.unravel_index(np.argmax(np.abs(grad)), grad.shape))


# ------------------------------------------------------------------ tests
def test_the_model_view_shows_the_network_and_an_examples_prediction(browser, server):
    context, page, recorder = open_model(browser, server, "run=cnn&ex=5")
    loaded, seen = examined("cnn", 5)
    rows = page.eval_on_selector_all("#model-network .layer-row[data-layer]",
                                     "els => els.map(e => e.dataset.layer)")
    assert rows == ["conv1", "conv2", "conv3", "linear"]
    assert "5,210 parameters" in page.text_content("#model-network-total")
    answer = shown(page)["example"]
    assert answer["probabilities"] == [float(p) for p in seen.probabilities]
    widths = page.eval_on_selector_all("#model-probabilities .prob-fill",
                                       "els => els.map(e => parseFloat(e.style.width))")
    np.testing.assert_allclose(widths, 100 * seen.probabilities, atol=1e-3)
    predicted = page.eval_on_selector("#model-probabilities .prob-row.predicted",
                                      "el => el.querySelector('.prob-name').textContent")
    assert predicted == str(seen.predicted)
    assert page.text_content("#model-layer-title") == "conv1 · Conv1d"   # the first conv
    assert state_in_url(page) == {"mode": "model", "run": "cnn", "ckpt": "last", "ex": "5",
                                  "layer": "conv1"}
    recorder.check()
    context.close()


def test_picking_an_example_by_number_by_class_and_among_the_misclassified(browser, server):
    context, page, recorder = open_model(browser, server, "run=cnn")
    act(page, lambda: page.fill("#model-example", "12") or page.press("#model-example", "Enter"))
    assert shown(page)["example"]["example"] == 12
    act(page, lambda: page.select_option("#model-class", "3"))
    chips = page.eval_on_selector_all("#model-example-list [data-example]",
                                      "els => els.map(e => Number(e.dataset.example))")
    loaded = cg.load_run(run_dir("cnn"))
    assert chips == [int(i) for i in np.flatnonzero(loaded.data.test_y == 3)][:len(chips)]
    act(page, lambda: page.click(f"#model-example-list [data-example='{chips[2]}']"))
    answer = shown(page)["example"]
    assert (answer["example"], answer["label"]) == (chips[2], 3)
    act(page, lambda: page.check("#model-wrong"))
    wrong = shown(page)["examples"]["examples"]
    assert wrong and all(e["label"] == 3 != e["predicted"] for e in wrong)
    act(page, lambda: page.click(f"#model-example-list [data-example='{wrong[0]['index']}']"))
    assert shown(page)["example"]["predicted"] == wrong[0]["predicted"]
    assert "✗ wrong" in page.text_content("#model-verdict")
    assert state_in_url(page)["wrong"] == "1" and state_in_url(page)["cls"] == "3"
    recorder.check()
    context.close()


def test_a_feature_map_cell_shows_the_window_and_filter_that_made_it(browser, server):
    context, page, recorder = open_model(browser, server, "run=cnn&ex=9")
    act(page, lambda: page.click("#model-network [data-layer='conv2']"))
    click_cell(page, "#model-maps canvas", tile=4, r=0, c=6)
    _, seen = examined("cnn", 9)
    answer = shown(page)["window"]
    assert answer["window"]["output_index"] == [4, 6]
    assert answer["engine"] == float(seen.recording.activations["conv2"][0, 4, 6])
    chips = page.locator("#model-window-body .chip").count()
    assert chips == 25 * 3                                # every input channel × tap
    assert page.text_content("#model-window-engine").startswith("✓ Σ products + bias = ")
    assert "y[4, 6] = " in page.text_content("#model-window-body .window-title")
    assert "conv1" in page.text_content("#model-window-note")   # linked back to the layers
    assert state_in_url(page)["cell"] == "4,6"
    recorder.check()
    context.close()


def test_a_weights_contributions_sum_to_the_engines_gradient(browser, server):
    context, page, recorder = open_model(browser, server, "run=cnn&ex=9&layer=conv2")
    _, seen = examined("cnn", 9)
    o, c, tap = strongest_weight(seen, "conv2")
    click_cell(page, "#model-filters canvas", tile=o * 25 + c, r=0, c=tap)
    answer = shown(page)["contributions"]
    assert answer["weight_index"] == [o, c, tap]
    engine = float(seen.weight_grads["conv2.weight"][o, c, tap])
    assert abs(engine) > 1e-3
    assert math.fsum(answer["products"]) == pytest.approx(engine, rel=1e-5)
    assert answer["engine"] == engine and answer["agrees"]
    assert page.text_content("#model-contrib-engine").startswith("✓ Σ over 10 positions")
    # the same weight picked from the gradient grid gives the same answer
    click_cell(page, "#model-wgrad canvas", tile=o * 25 + c, r=0, c=tap)
    assert shown(page)["contributions"]["products"] == answer["products"]
    recorder.check()
    context.close()


def test_the_checkpoint_slider_changes_the_filters_and_the_prediction(browser, server):
    context, page, recorder = open_model(browser, server, "run=cnn&ex=2")
    last = shown(page)
    marker = page.get_attribute("#model-curves .plot-marker", "x1")
    act(page, lambda: page.focus("#model-checkpoint") or page.keyboard.press("Home"))
    first = shown(page)
    assert first["layer"]["step"] == 20 and state_in_url(page)["ckpt"] == "20"
    early = cg.load_run(run_dir("cnn"), checkpoint=20, data=False)
    np.testing.assert_array_equal(np.array(first["layer"]["conv"]["weight"]),
                                  early.model.conv1.weight.detach().numpy())
    assert first["layer"]["conv"]["weight"] != last["layer"]["conv"]["weight"]
    assert first["example"]["probabilities"] != last["example"]["probabilities"]
    assert page.get_attribute("#model-curves .plot-marker", "x1") != marker
    assert "step 20" in page.text_content("#model-checkpoint-label")
    # the curves sit under the slider; a click on a kept checkpoint's dot picks it
    slider, curves = (page.locator(s).bounding_box() for s in ("#model-checkpoint",
                                                                "#model-curves"))
    assert 0 <= curves["y"] - (slider["y"] + slider["height"]) < 80
    act(page, lambda: page.locator("#model-curves circle.plot-checkpoint").nth(1).click(
        force=True))
    assert shown(page)["layer"]["step"] == 40 and state_in_url(page)["ckpt"] == "40"
    assert page.input_value("#model-checkpoint") == "1"
    recorder.check()
    context.close()


def test_drawing_a_signal_and_a_digit(browser, server):
    context, page, recorder = open_model(browser, server, "run=cnn")
    page.click("#model-draw-toggle")
    page.click("#model-draw-clear")
    box = page.locator("#model-draw-canvas").bounding_box()
    page.mouse.move(box["x"] + 2, box["y"] + box["height"] * 0.3)
    page.mouse.down()
    for k in range(1, 41):
        page.mouse.move(box["x"] + box["width"] * k / 41,
                        box["y"] + box["height"] * (0.5 + 0.3 * math.sin(k / 3)))
    page.mouse.up()
    act(page, lambda: page.click("#model-draw-use"))
    answer = shown(page)
    drawn = answer["state"]["draw"]
    assert answer["example"]["source"] == "a drawn input" and len(drawn) == 40
    assert max(drawn) > 0.5 and min(drawn) < -0.5                 # the stroke went up and down
    loaded = cg.load_run(run_dir("cnn"), data=False)
    expected = examine(loaded.model, np.array(drawn, dtype=np.float32).reshape(1, 40))
    assert answer["example"]["probabilities"] == [float(p) for p in expected.probabilities]
    assert len(state_in_url(page)["draw"].split(",")) == 40       # the drawing is in the link
    link = page.url
    context.close()
    context, page, recorder = open_model(browser, server, urlparse(link).query)
    assert shown(page)["example"]["probabilities"] == answer["example"]["probabilities"]
    recorder.check()
    context.close()

    context, page, recorder = open_model(browser, server, "run=lenet")
    page.click("#model-draw-toggle")
    page.click("#model-draw-clear")
    box = page.locator("#model-draw-canvas").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.56, box["y"] + box["height"] * 0.15)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.56, box["y"] + box["height"] * 0.85, steps=12)
    page.mouse.up()
    page.select_option("#model-draw-label", "1")
    act(page, lambda: page.click("#model-draw-use"))
    answer = shown(page)
    image = np.array(answer["state"]["draw"]).reshape(8, 8)
    assert (image[1:7, 4] == 1).all() and image[:, 0].max() == 0      # a vertical stroke
    assert (answer["example"]["label"], answer["example"]["target"]) == (1, 1)
    recorder.check()
    context.close()


def test_residual_nets_have_their_skips_drawn_and_plain_twins_none(browser, server):
    context, page, recorder = open_model(browser, server, "run=resnet1d")
    assert page.locator("#model-network .skip-arc").count() == 6
    act(page, lambda: page.click("#model-network [data-layer='layer2.0']"))
    assert page.is_hidden("#model-filters-group")       # a block has no filters of its own
    act(page, lambda: page.click("#model-network [data-layer='layer2.0.conv1']"))
    _, seen = examined("resnet1d", 0)
    o, c, tap = strongest_weight(seen, "layer2.0.conv1")
    click_cell(page, "#model-filters canvas", tile=o * 16 + c, r=0, c=tap)
    answer = shown(page)["contributions"]
    assert answer["agrees"] and answer["total"] == pytest.approx(
        float(seen.weight_grads["layer2.0.conv1.weight"][o, c, tap]), rel=1e-5)
    context.close()
    context, page, recorder = open_model(browser, server, "run=plain1d")
    assert page.locator("#model-network .skip-arc").count() == 0
    recorder.check()
    context.close()


@pytest.mark.parametrize("width, height", [(1280, 900), (390, 844)])
@pytest.mark.parametrize("run, example, layer, cell", [
    ("cnn", 9, "conv2", (4, 6)), ("lenet", 5, "features.conv2", (3, 1, 2)),
    ("resnet1d", 1, "layer2.0.conv1", (5, 7)), ("resnet20", 0, "layer2.0.conv1", (3, 4, 5)),
])
def test_screenshots_and_nothing_overlaps(browser, server, run, example, layer, cell, width,
                                          height):
    ARTIFACTS.mkdir(exist_ok=True)
    _, seen = examined(run, example)
    weight = ",".join(map(str, strongest_weight(seen, layer)))
    query = f"run={run}&ex={example}&layer={layer}&cell={','.join(map(str, cell))}&w={weight}"
    context, page, recorder = open_model(browser, server, query, width, height)
    assert shown(page)["window"] is not None
    name = f"model-{run}-{width}x{height}"
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True, animations="disabled")
    overlaps = _overlaps(_boxes(page, ["header.top", "#model-mode > .controls",
                                       "#model-prediction-card", "#model-network-card",
                                       "#model-layer-card"]))
    assert not overlaps, f"{name}: overlapping {overlaps}"
    assert not _overlaps(_boxes(page, ["#model-layer-card .layer-part", "#model-window",
                                       "#model-contrib"]))
    assert page.evaluate("document.documentElement.scrollWidth") <= width, name
    recorder.check()
    context.close()


def test_without_runs_the_model_tab_says_how_to_start(browser):
    with running_server() as url:
        context, page = browser.new_context(), None
        page = context.new_page()
        recorder = Recorder(page, url)
        page.goto(f"{url}/?mode=model")
        settle(page)
        assert "convgrad explore --run runs/cnn" in page.text_content("#model-message")
        assert page.is_hidden("#model-view")
        recorder.check()
        context.close()
