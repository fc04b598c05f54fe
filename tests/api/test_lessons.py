"""The lessons: the sequence and its pages, and every claim a lesson makes (its "what you should
see" text, in both catalogues) checked with the engine on the lesson's own configuration."""

from __future__ import annotations

import math
import re
from html import unescape
from typing import Any, Callable
from urllib.parse import parse_qsl, urlsplit

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.catalogue_en import EN
from app.catalogue_es import ES
from app.config import PlaygroundConfig, parse_query
from app.lesson_views import VIEWS
from app.lessons import LESSONS, PAGE_FURNITURE, lesson_at
from engine.losses import loss_value, output_gradient, penalty
from engine.trainer import Trainer

LESSON_TEXTS = ("title", "text", "formula", "try", "question", "observe")


def lesson(key: str) -> Any:
    return next(item for item in LESSONS if item.key == key)


def trained(key: str, epochs: int, **changes: Any) -> Trainer:
    """The lesson's playground with ``changes`` (what the lesson asks the student to try), trained."""
    trainer = Trainer(lesson(key).config().with_changes(**changes).to_setup())
    trainer.step(epochs)
    return trainer


def state_query(html: str) -> str:
    match = re.search(r'<script type="application/json" id="playground-state">.*?"query":"([^"]*)"', html, re.S)
    assert match, "no playground in the page"
    return match.group(1)


def config_of(query: str) -> PlaygroundConfig:
    config, notes = parse_query(parse_qsl(query, keep_blank_values=True), ignore=("lang",))
    assert not notes, notes
    return config


# -- the sequence ---------------------------------------------------------------------------------


def test_the_sequence_follows_the_primer_and_every_lesson_is_written_in_both_languages() -> None:
    keys = [item.key for item in LESSONS]
    assert keys == ["neuron", "activation", "init", "standardize", "cost", "gradient", "bruteforce", "sgd",
                    "decay", "regularization", "backprop", "perceptron", "regression", "hidden", "softmax"]
    for item in LESSONS:
        config = item.config()
        Trainer(config.to_setup())  # builds
        assert set(PAGE_FURNITURE) <= set(config.hide) and config.hide_text
        for name, value in item.changes.items():
            assert getattr(config, name) == value, (item.key, name)
        for catalogue in (EN, ES):
            for text in LESSON_TEXTS:
                assert catalogue[f"lessons.{item.key}.{text}"].strip(), (item.key, text)
    assert lesson_at(0) is None and lesson_at(len(LESSONS) + 1) is None and lesson_at(1) is LESSONS[0]


def test_the_activation_lesson_gives_the_primers_five_formulas() -> None:
    for catalogue, names in ((EN, ("step", "sigmoid")), (ES, ("escalón", "sigmoide"))):
        formula = catalogue["lessons.activation.formula"]
        for name in (*names, "tanh", "ReLU", "softmax"):
            assert f"{name}: f(z)" in formula, name


def test_the_index_lists_every_lesson_in_the_chosen_language(client: TestClient) -> None:
    html = client.get("/lessons?lang=es").text
    assert '<html lang="es">' in html
    links = re.findall(r'<a href="(/lessons/\d+)\?lang=es">([^<]+)</a>', html)
    assert [href for href, _ in links] == [f"/lessons/{n}" for n in range(1, len(LESSONS) + 1)]
    assert [unescape(title) for _, title in links] == [ES[f"lessons.{item.key}.title"] for item in LESSONS]
    english = client.get("/lessons", headers={"accept-language": "en-GB,en;q=0.9"}).text
    assert EN["lessons.neuron.title"] in english and '<html lang="en">' in english
    assert ES["lessons.neuron.title"] in client.get("/lessons", headers={"accept-language": "es-ES"}).text


def test_the_playground_links_to_the_lessons(client: TestClient) -> None:
    assert 'href="/lessons?lang=es"' in client.get("/?lang=es").text


@pytest.mark.parametrize("number", range(1, len(LESSONS) + 1))
@pytest.mark.parametrize("lang", ["en", "es"])
def test_a_lesson_page_has_its_text_and_its_ready_playground(client: TestClient, number: int, lang: str) -> None:
    item, catalogue = LESSONS[number - 1], {"en": EN, "es": ES}[lang]
    html = client.get(f"/lessons/{number}?lang={lang}").text
    for text in LESSON_TEXTS:
        assert unescape(catalogue[f"lessons.{item.key}.{text}"]) in unescape(html), text
    assert re.search(r"<details[^>]*>\s*<summary>", html)  # what to observe stays folded
    assert config_of(state_query(html)) == item.config()
    assert "<iframe" not in html and 'id="playground"' in html
    assert ('rel="prev"' in html) == (number > 1) and ('rel="next"' in html) == (number < len(LESSONS))
    if number > 1:
        assert f'rel="prev" href="/lessons/{number - 1}?lang={lang}"' in html
    if number < len(LESSONS):
        assert f'rel="next" href="/lessons/{number + 1}?lang={lang}"' in html


def test_a_lesson_page_keeps_a_students_configuration_from_its_address(client: TestClient) -> None:
    changed = lesson("gradient").config().with_changes(lr=3.0)
    html = client.get(f"/lessons/6?{changed.to_query()}&lang=es").text
    assert config_of(state_query(html)) == changed
    switch = re.findall(r'<a href="([^"]+)" data-lang="(\w+)"', html)
    assert [code for _, code in switch] == ["en", "es"]
    for href, code in switch:  # the language switch keeps the lesson and the changes
        target = urlsplit(unescape(href))
        assert target.path == "/lessons/6" and ("lang", code) in parse_qsl(target.query)
        assert config_of(target.query) == changed
    # a bad value in a hand-edited address is reported, the lesson still opens
    broken = client.get("/lessons/6?lr=banana&lang=en").text
    assert "could not be used" in broken and 'id="playground"' in broken


def test_there_is_no_lesson_zero_or_after_the_last(client: TestClient) -> None:
    assert client.get("/lessons/0").status_code == 404
    assert client.get(f"/lessons/{len(LESSONS) + 1}").status_code == 404
    assert client.get("/lessons/abc").status_code == 422


# -- the claims: one check per lesson, on the lesson's own configuration --------------------------


def claim_neuron() -> None:
    start = trained("neuron", 0)
    assert np.all(start.network.predict(start.x_test) == 0.5)
    assert abs(start.history.test_metric[0] - 0.5) < 0.05
    assert trained("neuron", 20).history.test_metric[-1] == 1.0


def claim_activation() -> None:
    step = Trainer(lesson("activation").config().to_setup())
    hidden_weights = step.network.weights[0].copy()
    step.step(200)
    assert step.history.test_metric[-1] < 0.65
    assert np.array_equal(step.network.weights[0], hidden_weights)
    final = {name: trained("activation", 200, activation=name).history for name in ("sigmoid", "tanh", "relu")}
    assert final["tanh"].test_metric[-1] >= 0.95 and final["relu"].test_metric[-1] >= 0.95
    assert final["sigmoid"].train_loss[-1] > max(final["tanh"].train_loss[-1], final["relu"].train_loss[-1])


def claim_init() -> None:
    for activation in ("tanh", "sigmoid"):
        trainer = trained("init", 200, activation=activation)
        w_in, w_out = trainer.network.weights
        assert np.all(w_in == w_in[:, :1]) and np.all(w_out == w_out[0]), activation  # identical neurons
        assert trainer.history.test_metric[-1] < 0.6
    assert np.all(trained("init", 200).network.weights[0] == 0)  # with tanh they stay at zero
    assert trained("init", 200, init="xavier").history.test_metric[-1] >= 0.95


def claim_standardize() -> None:
    raw = trained("standardize", 100)
    assert raw.divergence is not None and raw.divergence.epoch <= 5
    standardized = trained("standardize", 100, preprocessing="standardize")
    assert standardized.divergence is None and standardized.setup.learning_rate == 0.03
    assert standardized.history.test_metric[-1] > 0.99


def claim_cost() -> None:
    mse = trained("cost", 100)
    assert mse.loss_name == "mse" and mse.history.train_loss[0] == 0.25
    cross_entropy = trained("cost", 100, loss="cross_entropy")
    assert math.isclose(cross_entropy.history.train_loss[0], math.log(2))
    for history in (mse.history, cross_entropy.history):
        assert history.train_loss[-1] < history.train_loss[0] / 2
    sure_and_wrong = (np.array([[math.log(99)]]), np.array([[0.99]]), np.array([[0.0]]))  # z, ŷ, y
    assert round(loss_value("mse", "sigmoid", *sure_and_wrong), 2) == 0.98
    assert round(loss_value("cross_entropy", "sigmoid", *sure_and_wrong), 1) == 4.6


def claim_gradient() -> None:
    assert trained("gradient", 100).history.test_loss[-1] < 0.01
    assert trained("gradient", 100, lr=0.0001).history.test_loss[-1] > 0.1
    too_big = trained("gradient", 100, lr=3.0)
    assert too_big.divergence is not None and too_big.divergence.epoch <= 5


def claim_bruteforce() -> None:
    search = trained("bruteforce", 100)
    assert len(search.network.params) == 197  # the text's count
    descent = trained("bruteforce", 100, optimizer="sgd")
    assert search.history.test_metric[-1] < 0.9 and descent.history.test_metric[-1] >= 0.95
    tiny = trained("bruteforce", 100, dataset="circle", layers=(), features=("x1sq", "x2sq"))
    assert len(tiny.network.params) == 3 and tiny.history.test_metric[-1] == 1.0


def claim_sgd() -> None:
    mini, full = trained("sgd", 20), trained("sgd", 20, optimizer="gd")
    assert len(mini.x_train) == 250 and mini.iteration == 20 * 250 and full.iteration == 20
    assert math.ceil(len(mini.x_train) / 10) == 25  # the text's example
    assert mini.history.test_metric[-1] > full.history.test_metric[-1]


def claim_decay() -> None:
    decayed = trained("decay", 100)
    assert round(decayed.learning_rate, 2) == 0.14
    decayed.step(100)
    assert decayed.history.train_loss[-1] < 0.1
    constant = trained("decay", 200, schedule="constant")
    assert constant.history.train_loss[-1] > 0.3


def claim_regularization() -> None:
    with_l2, without = trained("regularization", 500), trained("regularization", 500, reg="none", reg_rate=0.0)
    # the chart plots the data's cost only: the penalty is not in it
    assert with_l2.history.train_loss[-1] == with_l2.batch_loss(with_l2.x_train, with_l2.y_train)
    assert penalty("l2", 0.03, with_l2.network.params[: with_l2.network.n_weights]) > 0.01
    assert without.history.train_metric[-1] - without.history.test_metric[-1] > 0.1
    assert without.history.test_loss[-1] > with_l2.history.test_loss[-1]
    l1 = trained("regularization", 500, reg="l1", reg_rate=0.01)
    weights = l1.network.params[: l1.network.n_weights]
    assert np.mean(np.abs(weights) < 0.01) > 0.5


def claim_backprop() -> None:
    trainer = trained("backprop", 0)
    network, x, y = trainer.network, trainer.x_train[:4], trainer.y_train[:4]
    forward = network.forward(x)
    network.backward(forward, output_gradient(trainer.loss_name, network.output, forward.zs[-1], forward.output, y))
    gradient, params = network.grads.copy(), network.params.copy()
    assert network.weights[0].shape == (2, 2) and len(params) == 9
    nudge = 1e-6
    for i in range(len(params)):  # backpropagation's gradients are the measured slopes
        network.params[:] = params
        network.params[i] += nudge
        above = trainer.batch_loss(x, y)
        network.params[i] -= 2 * nudge
        below = trainer.batch_loss(x, y)
        assert math.isclose((above - below) / (2 * nudge), gradient[i], rel_tol=1e-4, abs_tol=1e-8)
    network.params[:] = params
    before = trainer.batch_loss(x, y)
    network.params[:] = params - trainer.setup.learning_rate * gradient
    assert trainer.batch_loss(x, y) < before
    # A weight whose incoming activation is 0 gets a zero gradient.
    network.params[:] = params
    forward = network.forward(np.array([[0.0, 1.0]]))
    network.backward(forward, output_gradient(trainer.loss_name, network.output, forward.zs[-1], forward.output, y[:1]))
    assert np.all(network.grad_weights[0][0] == 0) and np.any(network.grad_weights[0][1] != 0)


def claim_perceptron() -> None:
    trainer = trained("perceptron", 50)
    assert trainer.history.train_metric[0] == 0.0 and trainer.history.train_metric[-1] == 1.0
    settled = trainer.network.params.copy()
    trainer.step(1)
    assert np.array_equal(trainer.network.params, settled)
    assert trained("perceptron", 50, dataset="xor").history.test_metric[-1] < 0.65


def claim_regression() -> None:
    trainer = trained("regression", 50)
    assert trainer.history.test_metric[-1] > 0.99
    w, b = trainer.network.weights[0][:, 0], trainer.network.biases[0][0]
    assert np.all(np.abs(w - 0.1) < 0.01) and abs(b) < 0.01


def claim_hidden() -> None:
    single = trained("hidden", 1000)
    assert max(single.history.test_metric) < 0.75
    assert trained("hidden", 200, layers=(4, 2)).history.test_metric[-1] >= 0.9
    assert trained("hidden", 300, layers=(2,)).history.test_metric[-1] >= 0.85  # two lines


def claim_softmax() -> None:
    for classes in (3, 5):
        trainer = trained("softmax", 100, classes=classes)
        probabilities = trainer.network.predict(trainer.x_test)
        assert probabilities.shape[1] == classes and np.allclose(probabilities.sum(axis=1), 1.0)
        assert trainer.history.test_metric[-1] == 1.0
    assert trained("softmax", 100, dataset="multispiral").history.test_metric[-1] < 0.5


CLAIMS: dict[str, Callable[[], None]] = {
    name.removeprefix("claim_"): check for name, check in globals().items() if name.startswith("claim_")
}


def test_every_lesson_has_its_claim_checked() -> None:
    assert sorted(CLAIMS) == sorted(item.key for item in LESSONS)


@pytest.mark.parametrize("key", [item.key for item in LESSONS])
def test_claim(key: str) -> None:
    CLAIMS[key]()


# -- the lessons' own views -------------------------------------------------------------------------


def number_of(key: str) -> int:
    return [item.key for item in LESSONS].index(key) + 1


def test_every_view_is_known_and_only_lessons_with_one_answer(client: TestClient) -> None:
    assert {item.view for item in LESSONS if item.view} == set(VIEWS)
    for number, item in enumerate(LESSONS, start=1):
        answer = client.get(f"/lessons/{number}/view")
        assert answer.status_code == (200 if item.view else 404), item.key
        html = client.get(f"/lessons/{number}?lang=es").text
        assert ('id="lesson-view"' in html) == bool(item.view)
        if item.view:
            assert ES[f"lessons.view.{item.view}.title"] in html
            assert '"forward": "Siguiente"' in html or item.view not in ("backprop", "perceptron")


def test_backprop_view_shows_the_engines_forward_and_backward_on_the_first_batch(client: TestClient) -> None:
    data = client.get(f"/lessons/{number_of('backprop')}/view").json()
    trainer = Trainer(lesson("backprop").config().to_setup())
    network = trainer.network
    x, y = np.array(data["x"]), np.array(data["y"])
    assert len(x) == 4
    rows = [int(np.flatnonzero((trainer.x_train == point).all(axis=1))[0]) for point in x]  # from the training set
    assert np.array_equal(trainer.y_train[rows], y)
    forward = network.forward(x)
    for layer in range(network.n_layers):
        assert np.array_equal(np.array(data["zs"][layer]), forward.zs[layer])
        assert np.array_equal(np.array(data["activations"][layer]), forward.activations[layer + 1])
        assert np.array_equal(np.array(data["weights"][layer]), network.weights[layer])
    assert data["loss"] == loss_value(trainer.loss_name, network.output, forward.zs[-1], forward.output, y)
    network.backward(forward, output_gradient(trainer.loss_name, network.output, forward.zs[-1], forward.output, y))
    deltas = [np.array(d) for d in data["deltas"]]
    assert np.array_equal(deltas[-1], (forward.output - y) / len(y))  # cross-entropy's δ at the output
    for layer in range(network.n_layers):
        grad_w, grad_b = np.array(data["grad_weights"][layer]), np.array(data["grad_biases"][layer])
        assert np.array_equal(grad_w, network.grad_weights[layer]) and np.array_equal(grad_b, network.grad_biases[layer])
        assert np.allclose(grad_w, forward.activations[layer].T @ deltas[layer])  # each δ is the one backward used
        assert np.allclose(grad_b, deltas[layer].sum(axis=0))
        assert np.array_equal(np.array(data["new_weights"][layer]), network.weights[layer] - 0.03 * network.grad_weights[layer])
        assert np.array_equal(np.array(data["new_biases"][layer]), network.biases[layer] - 0.03 * network.grad_biases[layer])
    assert data["loss_after"] < data["loss"]


def test_perceptron_view_is_the_first_epoch_the_playground_trains(client: TestClient) -> None:
    data = client.get(f"/lessons/{number_of('perceptron')}/view").json()
    trainer = Trainer(lesson("perceptron").config().to_setup())
    assert data["start"] == {"w": trainer.network.weights[0][:, 0].tolist(), "b": trainer.network.biases[0][0]}
    steps = data["steps"]
    assert len(steps) == len(trainer.x_train)
    trainer.step(1)
    assert steps[-1]["w"] == trainer.network.weights[0][:, 0].tolist() and steps[-1]["b"] == trainer.network.biases[0][0]
    for before, step in zip([data["start"], *steps], steps):
        assert step["prediction"] == (1.0 if step["z"] >= 0 else 0.0)
        error = step["y"] - step["prediction"]
        assert np.allclose(step["w"], np.array(before["w"]) + 0.03 * error * np.array(step["x"]))
    assert sum(s["y"] != s["prediction"] for s in steps) > 5  # the line visibly moves
    # it follows the student's dataset, and says when it cannot show the configuration
    xor = client.get(f"/lessons/{number_of('perceptron')}/view?{lesson('perceptron').config().with_changes(dataset='xor').to_query()}")
    assert xor.status_code == 200 and xor.json()["steps"] != steps
    refused = client.get(f"/lessons/{number_of('perceptron')}/view?dataset=gauss&layers=2&lang=es")
    assert refused.status_code == 422 and refused.json()["detail"][0]["message"] == ES["lessons.view.not_a_perceptron"]
    too_big = client.get(f"/lessons/{number_of('backprop')}/view?dataset=xor&layers=8,8&lang=en")
    assert too_big.status_code == 422 and too_big.json()["detail"][0]["message"] == EN["lessons.view.too_big"]


def test_cost_surface_view_is_an_exhaustive_grid_with_the_descent_path(client: TestClient) -> None:
    data = client.get(f"/lessons/{number_of('bruteforce')}/view").json()
    assert len(data["w1"]) == len(data["w2"]) == 61 and data["evaluations"] == 61 * 61  # the text's count
    trainer = Trainer(PlaygroundConfig(dataset="plane", layers=(), features=("x1", "x2")).to_setup())
    for i, j in ((0, 0), (30, 45), (60, 7)):
        z = trainer.x_train @ np.array([[data["w1"][j]], [data["w2"][i]]])
        assert math.isclose(data["cost"][i][j], loss_value("mse", "linear", z, z, trainer.y_train), abs_tol=1e-6)
    cost = np.array(data["cost"])
    assert data["best"] == [data["w1"][np.argmin(cost) % 61], data["w2"][np.argmin(cost) // 61]]
    assert np.all(np.abs(np.array(data["best"]) - data["true"]) <= 0.02)  # one grid step
    path = np.array(data["path"])
    assert len(path) == data["steps"] + 1 and np.all(np.abs(np.array(data["learned"]) - data["true"]) < 0.01)
    costs = [np.mean((trainer.x_train @ w - trainer.y_train[:, 0]) ** 2) for w in path]
    assert all(later < earlier for earlier, later in zip(costs, costs[1:]))  # downhill all the way


def test_standardize_view_compares_ranges_and_losses(client: TestClient) -> None:
    data = client.get(f"/lessons/{number_of('standardize')}/view").json()
    assert data["labels"] == ["x₁", "x₂", "x₁²", "x₂²"]
    raw, standardized = data["runs"]["none"], data["runs"]["standardize"]
    assert raw["ranges"][2][0] >= 0 and raw["ranges"][2][1] > 35 and raw["ranges"][0][1] < 6.01
    assert all(-3 < low < 0 < high < 3 for low, high in standardized["ranges"])
    assert raw["diverged"] is not None and raw["diverged"] <= 5 and standardized["diverged"] is None
    assert len(standardized["loss"]) == data["epochs"] + 1 and standardized["loss"][-1] < standardized["loss"][0] / 100
